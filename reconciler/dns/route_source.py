"""Route source: Gateway API Routes (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute) to the
hosts they are served at, per Gateway. Pure: no I/O, no logging, no clock.

The rules are external-dns's (``source/gateway.go``), so a zone written by external-dns from
Routes reads the same here:

- a Route's hosts are its ``spec.hostnames`` (none for TCP and UDP Routes) and the ``hostname``
  annotation; ``gateway-hostname-source: annotation-only`` or ``defined-hosts-only`` keeps one of
  the two. A Route without ``spec.hostnames`` inherits its listeners' hostnames;
- a parent counts only when the Route lists it in ``spec.parentRefs``, its entry in
  ``status.parents`` says ``Accepted=True``, it is a Gateway (or a ListenerSet, followed to its
  Gateway, which must allow it and have accepted it and its listener), and one of its listeners
  (the ``sectionName`` and ``port`` named, else all) speaks the Route's protocol and admits the
  Route's namespace and kind (``allowedRoutes``: ``Same`` by default, ``All``, ``Selector``);
- a host is the intersection of the Route's host and the listener's hostname (``*.example.com``
  and ``a.example.com`` give ``a.example.com``; an empty one takes the other's);
- targets are the Gateway's ``status.addresses``, or the ``target`` annotation of the ListenerSet
  or the Gateway when set.

Every endpoint carries ``resource=<kind>/<namespace>/<name>`` (``httproute/apps/web``), as
external-dns writes it. What cannot be published (an invalid host, an unusable target, a Route
whose name cannot go into a TXT value) is reported as a :class:`Rejection` and left out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.dns.ingress_source import (
    SourceResult,
    endpoints_for,
    external_dns_annotations,
    split_list,
)
from reconciler.model.endpoint import RecordType
from reconciler.model.gateway import (
    GATEWAY_GROUP,
    GATEWAY_KIND,
    LISTENER_SET_KIND,
    ROUTE_KINDS,
    condition_is_true,
    labels_match,
    object_key,
    parent_key,
    route_resource,
)
from reconciler.model.ingress import ANNOTATION_PREFIXES, annotations_of, external_dns_annotation

__all__ = [
    "Attachment",
    "GatewayIndex",
    "route_endpoints",
    "route_hosts",
]

_HOSTNAME_SOURCE = "gateway-hostname-source"
_ANNOTATION_ONLY = "annotation-only"
_DEFINED_HOSTS_ONLY = "defined-hosts-only"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class _Listener:
    name: str
    protocol: str
    port: int | None
    hostname: str
    allowed: Mapping[str, Any]
    attached: bool


@dataclass(frozen=True, slots=True)
class _Parent:
    """A Gateway or a ListenerSet as a Route's parent."""

    gateway: tuple[str, str]
    """The Gateway the listeners belong to (namespace, name)."""
    owner_namespace: str
    """Where ``allowedRoutes: Same`` looks (the Gateway's or the ListenerSet's namespace)."""
    listeners: tuple[_Listener, ...]
    attached: bool
    overrides: tuple[str, ...]
    """Targets of the ``target`` annotation (empty: the Gateway's addresses)."""
    addresses: tuple[str, ...]
    """The Gateway's ``status.addresses`` values."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A Route's hosts on one Gateway, and that Gateway's targets."""

    gateway: tuple[str, str]
    """The Gateway (namespace, name); a ListenerSet's parent Gateway."""
    hosts: tuple[str, ...]
    """The hosts served there (lower case, as the Route or listener wrote them)."""
    targets: tuple[str, ...]
    """The ``target`` annotation's targets, else the Gateway's addresses."""
    overridden: bool
    """Do the targets come from a ``target`` annotation?"""


def _listeners(
    spec_listeners: object, attached: Mapping[str, bool] | None
) -> tuple[_Listener, ...]:
    listeners: list[_Listener] = []
    for raw in _list(spec_listeners):
        item = _mapping(raw)
        name = item.get("name")
        if not isinstance(name, str):
            continue
        port = item.get("port")
        listeners.append(
            _Listener(
                name=name,
                protocol=str(item.get("protocol") or ""),
                port=port if isinstance(port, int) else None,
                hostname=str(item.get("hostname") or ""),
                allowed=_mapping(item.get("allowedRoutes")),
                attached=True if attached is None else attached.get(name, False),
            )
        )
    return tuple(listeners)


def _targets_annotation(obj: Mapping[str, Any], prefixes: Collection[str]) -> tuple[str, ...]:
    text = external_dns_annotation(annotations_of(obj), "target", tuple(prefixes))
    return tuple(split_list(text)) if text else ()


def _addresses(gateway: Mapping[str, Any]) -> tuple[str, ...]:
    values: list[str] = []
    for raw in _list(_mapping(gateway.get("status")).get("addresses")):
        value = _mapping(raw).get("value")
        if isinstance(value, str) and value:
            values.append(value)
    return tuple(values)


class GatewayIndex:
    """The Gateways and ListenerSets a pass sees, indexed for Route resolution.

    ``gateway_classes`` limits the Gateways read to those classes (empty: every Gateway);
    ``namespace_labels`` serves ``allowedRoutes``/``allowedListeners`` selectors. Two indexes are
    equal when they were built from equal objects.
    """

    def __init__(
        self,
        gateways: Iterable[Mapping[str, Any]] = (),
        listener_sets: Iterable[Mapping[str, Any]] = (),
        *,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
        gateway_classes: Collection[str] = (),
        annotation_prefixes: Collection[str] = ANNOTATION_PREFIXES,
    ) -> None:
        classes = frozenset(gateway_classes)
        self._gateways = tuple(
            g
            for g in gateways
            if not classes or _mapping(g.get("spec")).get("gatewayClassName") in classes
        )
        self._listener_sets = tuple(listener_sets)
        self._labels = {k: dict(v) for k, v in (namespace_labels or {}).items()}
        self._prefixes = tuple(annotation_prefixes)
        self._parents: dict[tuple[str, str, str], _Parent] = {}
        by_gateway: dict[tuple[str, str], Mapping[str, Any]] = {}
        for gateway in self._gateways:
            key = object_key(gateway)
            by_gateway[key] = gateway
            self._parents[(GATEWAY_KIND, *key)] = _Parent(
                gateway=key,
                owner_namespace=key[0],
                listeners=_listeners(_mapping(gateway.get("spec")).get("listeners"), None),
                attached=True,
                overrides=_targets_annotation(gateway, self._prefixes),
                addresses=_addresses(gateway),
            )
        for listener_set in self._listener_sets:
            parent = self._listener_set_parent(listener_set, by_gateway)
            if parent is not None:
                self._parents[(LISTENER_SET_KIND, *object_key(listener_set))] = parent

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GatewayIndex):
            return NotImplemented
        return (self._gateways, self._listener_sets, self._labels, self._prefixes) == (
            other._gateways,
            other._listener_sets,
            other._labels,
            other._prefixes,
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._gateways)

    def _listener_set_parent(
        self,
        listener_set: Mapping[str, Any],
        by_gateway: Mapping[tuple[str, str], Mapping[str, Any]],
    ) -> _Parent | None:
        namespace, _ = object_key(listener_set)
        spec = _mapping(listener_set.get("spec"))
        ref = _mapping(spec.get("parentRef"))
        gw_key = (str(ref.get("namespace") or namespace), str(ref.get("name") or ""))
        gateway = by_gateway.get(gw_key)
        if gateway is None:
            return None
        status = _mapping(listener_set.get("status"))
        attached = self._allows_listener_set(gateway, namespace) and condition_is_true(
            status.get("conditions"), "Accepted"
        )
        accepted = {
            str(_mapping(s).get("name")): condition_is_true(
                _mapping(s).get("conditions"), "Accepted"
            )
            for s in _list(status.get("listeners"))
        }
        overrides = _targets_annotation(listener_set, self._prefixes) or _targets_annotation(
            gateway, self._prefixes
        )
        return _Parent(
            gateway=gw_key,
            owner_namespace=namespace,
            listeners=_listeners(spec.get("listeners"), accepted if attached else {}),
            attached=attached,
            overrides=overrides,
            addresses=_addresses(gateway),
        )

    def _from_namespace(
        self, policy: Mapping[str, Any], default: str, owner: str, namespace: str
    ) -> bool:
        """Does a ``namespaces: {from, selector}`` policy of an object in ``owner`` admit an
        object of ``namespace`` (``from`` is ``default`` when unset)? As Kubernetes reads a
        LabelSelector: none selects nothing, an empty one everything, a malformed one nothing."""
        origin = policy.get("from") or default
        if origin == "All":
            return True
        if origin == "Same":
            return owner == namespace
        if origin == "Selector":
            selector = policy.get("selector")
            return isinstance(selector, Mapping) and bool(
                labels_match(selector, self._labels.get(namespace, {}))
            )
        return False

    def _allows_listener_set(self, gateway: Mapping[str, Any], namespace: str) -> bool:
        allowed = _mapping(_mapping(gateway.get("spec")).get("allowedListeners"))
        policy = _mapping(allowed.get("namespaces"))
        return self._from_namespace(policy, "None", object_key(gateway)[0], namespace)

    def _admits(self, parent: _Parent, listener: _Listener, kind: str, namespace: str) -> bool:
        policy = _mapping(listener.allowed.get("namespaces"))
        if not self._from_namespace(policy, "Same", parent.owner_namespace, namespace):
            return False
        kinds = _list(listener.allowed.get("kinds"))
        if not kinds:
            return True
        return any(
            str(_mapping(k).get("group") or GATEWAY_GROUP) == GATEWAY_GROUP
            and _mapping(k).get("kind") == kind
            for k in kinds
        )

    def _accepted_parent(
        self,
        entry: Mapping[str, Any],
        spec_refs: Collection[tuple[str, str, str, str]],
        namespace: str,
    ) -> tuple[_Parent, Mapping[str, Any]] | None:
        """The parent of one ``status.parents`` entry when it counts (listed in the Route's
        parentRefs, a known and attached Gateway or ListenerSet, Accepted), with its ref."""
        ref = _mapping(entry.get("parentRef"))
        group, parent_kind, parent_ns, parent_name = key = parent_key(ref, namespace)
        if key not in spec_refs or group != GATEWAY_GROUP:
            return None
        if parent_kind not in (GATEWAY_KIND, LISTENER_SET_KIND):
            return None
        parent = self._parents.get((parent_kind, parent_ns, parent_name))
        if parent is None or not parent.attached:
            return None
        if not condition_is_true(entry.get("conditions"), "Accepted"):
            return None
        return parent, ref

    def attachments(self, route: Mapping[str, Any]) -> tuple[Attachment, ...]:
        """The Route's hosts on each Gateway it is attached to (sorted by Gateway); hosts as
        written (``""`` never), validated by the caller."""
        kind = str(route.get("kind") or "")
        protocol = ROUTE_KINDS.get(kind)
        if protocol is None:
            return ()
        namespace, _ = object_key(route)
        hosts = route_hosts(route, self._prefixes)
        spec_refs = {
            parent_key(_mapping(r), namespace)
            for r in _list(_mapping(route.get("spec")).get("parentRefs"))
        }
        found: dict[tuple[str, str], dict[str, None]] = {}
        overrides: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for status in _list(_mapping(route.get("status")).get("parents")):
            resolved = self._accepted_parent(_mapping(status), spec_refs, namespace)
            if resolved is None:
                continue
            parent, ref = resolved
            section = str(ref.get("sectionName") or "")
            port = ref.get("port")
            for listener in parent.listeners:
                if section and listener.name != section:
                    continue
                if not listener.attached or not _protocol_matches(protocol, listener.protocol):
                    continue
                if isinstance(port, int) and port != listener.port:
                    continue
                if not self._admits(parent, listener, kind, namespace):
                    continue
                for host in hosts:
                    matched = _matching_host(listener.hostname, host)
                    if matched:
                        found.setdefault(parent.gateway, {})[matched] = None
                        overrides[parent.gateway] = (parent.overrides, parent.addresses)
        result = []
        for gateway, matched_hosts in sorted(found.items()):
            override, addresses = overrides[gateway]
            result.append(
                Attachment(
                    gateway=gateway,
                    hosts=tuple(matched_hosts),
                    targets=override or addresses,
                    overridden=bool(override),
                )
            )
        return tuple(result)


def _protocol_matches(route: str, listener: str) -> bool:
    route = "HTTP" if route == "HTTPS" else route
    listener = "HTTP" if listener == "HTTPS" else listener
    if route == "TCP" and listener == "TLS":
        listener = "TCP"
    return route == listener


def _lower_host(host: str) -> str | None:
    """The host in lower case; None when it is no DNS name (or is an address)."""
    if not host:
        return ""
    name = host.lower()
    body = name[2:] if name.startswith("*.") else name
    if not body or len(body) > 255:
        return None
    for label in body.split("."):
        if not label or len(label) > 63 or not (label[0].isalnum() and label[-1].isalnum()):
            return None
        if not all(c.isalnum() or c == "-" for c in label) or not label.isascii():
            return None
    if body.replace(".", "").isdigit() or ":" in body:
        return None
    return name


def _matching_host(listener_host: str, route_host: str) -> str:
    """The intersection of a listener's hostname and a Route's host ("" when none)."""
    a = _lower_host(listener_host)
    b = _lower_host(route_host)
    if a is None or b is None:
        return ""
    if not a:
        return b
    if not b or a == b:
        return a
    if len(b) < len(a) or (len(a) == len(b) and b.startswith("*.")):
        a, b = b, a
    if a.startswith("*.") and b.endswith(a[1:]):
        return b
    return ""


def route_hosts(
    route: Mapping[str, Any], prefixes: Collection[str] = ANNOTATION_PREFIXES
) -> list[str]:
    """The Route's own hosts (``""`` stands for "inherit the listener's hostname")."""
    spec = _mapping(route.get("spec"))
    defined = [h for h in _list(spec.get("hostnames")) if isinstance(h, str) and h]
    annotations = annotations_of(route)
    text = external_dns_annotation(annotations, "hostname", tuple(prefixes))
    annotated = split_list(text) if text else []
    source = (external_dns_annotation(annotations, _HOSTNAME_SOURCE, tuple(prefixes)) or "").lower()
    if source == _ANNOTATION_ONLY:
        return annotated
    if source == _DEFINED_HOSTS_ONLY:
        return defined
    return [*defined, *([] if defined else [""]), *annotated]


def route_endpoints(
    route: Mapping[str, Any],
    hosts: Sequence[str],
    targets: Sequence[str],
    *,
    default_ttl: int | None = None,
    claim_types: Iterable[str] = (RecordType.A,),
    annotation_prefixes: Collection[str] = ANNOTATION_PREFIXES,
) -> SourceResult:
    """The endpoints of a Route's ``hosts`` at ``targets`` (claims when there are none), and what
    was rejected; ``resource`` is :func:`~reconciler.model.gateway.route_resource`."""
    annotations = external_dns_annotations(route, annotation_prefixes)
    return endpoints_for(
        route,
        resource=route_resource(route),
        annotations=annotations,
        raw_hosts=hosts,
        raw_targets=targets,
        default_ttl=default_ttl,
        claim_types=claim_types,
    )
