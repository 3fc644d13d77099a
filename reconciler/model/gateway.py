"""One reading of Gateway API objects (raw API JSON): kinds, resource ids, references, selectors.

Sources, tenancy, the pass and the fleet stage read Routes, Gateways and ListenerSets through
these functions, so they agree on what an object says. Pure functions of the objects; malformed
parts read as absent.

The resource id written into TXT ownership records is ``<kind in lower case>/<namespace>/<name>``
(``httproute/apps/web``), as external-dns writes it for Routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "GATEWAY_GROUP",
    "GATEWAY_KIND",
    "LISTENER_SET_KIND",
    "ROUTE_KINDS",
    "condition_is_true",
    "labels_match",
    "object_key",
    "parent_key",
    "route_resource",
]

GATEWAY_GROUP: Final = "gateway.networking.k8s.io"
"""The API group of every Gateway API kind."""
GATEWAY_KIND: Final = "Gateway"
LISTENER_SET_KIND: Final = "ListenerSet"
ROUTE_KINDS: Final[Mapping[str, str]] = {
    "HTTPRoute": "HTTP",
    "GRPCRoute": "HTTPS",
    "TLSRoute": "TLS",
    "TCPRoute": "TCP",
    "UDPRoute": "UDP",
}
"""Every Route kind read, with the listener protocol it attaches to (HTTPS counts as HTTP, a TCP
Route also attaches to a TLS listener)."""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) and value else default


def object_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    """``(namespace, name)`` of an object (``default`` when it names no namespace)."""
    meta = _mapping(obj.get("metadata"))
    return _text(meta.get("namespace"), "default"), _text(meta.get("name"))


def route_resource(route: Mapping[str, Any]) -> str:
    """``<kind>/<namespace>/<name>`` in lower case kind, as written into TXT ownership records
    (``httproute/?/?`` style when the object has no usable name)."""
    kind = _text(route.get("kind"), "route").lower()
    namespace, name = object_key(route)
    return f"{kind}/{namespace}/{name}" if name else f"{kind}/?/?"


def parent_key(ref: Mapping[str, Any], namespace: str) -> tuple[str, str, str, str]:
    """``(group, kind, namespace, name)`` of a parentRef (defaults: the Gateway API group, kind
    Gateway, the Route's own ``namespace``)."""
    return (
        _text(ref.get("group"), GATEWAY_GROUP),
        _text(ref.get("kind"), GATEWAY_KIND),
        _text(ref.get("namespace"), namespace),
        _text(ref.get("name")),
    )


def condition_is_true(conditions: object, condition_type: str) -> bool:
    """Is the condition of ``condition_type`` among ``conditions`` there with status True?"""
    for condition in conditions if isinstance(conditions, list) else ():
        item = _mapping(condition)
        if item.get("type") == condition_type:
            return item.get("status") == "True"
    return False


def labels_match(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool | None:
    """Does a metav1 LabelSelector (``matchLabels``, ``matchExpressions``) select ``labels``?
    None when the selector is malformed (an unknown operator, a value list where none belongs)."""
    for key, value in _mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        return None
    for expression in expressions:
        item = _mapping(expression)
        key = _text(item.get("key"))
        operator = item.get("operator")
        values = item.get("values") or []
        if not key or not isinstance(values, list):
            return None
        if operator == "In":
            ok = labels.get(key) in values
        elif operator == "NotIn":
            ok = labels.get(key) not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            return None
        if not ok:
            return False
    return True
