"""One reading of an Ingress (raw API JSON): its class, annotations, resource id and namespace.

Sources, tenancy, fleets, Ingress status and the pass all read an Ingress through these functions,
so that they agree on what an Ingress says: the class is ``spec.ingressClassName``, else the
legacy ``kubernetes.io/ingress.class`` annotation; external-dns annotations are read under both of
its prefixes (the configured ones); the resource id is the ``ingress/<namespace>/<name>`` written
into TXT ownership records. Pure functions of the object; malformed parts read as absent.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "ANNOTATION_PREFIXES",
    "LEGACY_CLASS_ANNOTATION",
    "SSL_PASSTHROUGH_ANNOTATION",
    "Visibility",
    "annotations_of",
    "asks_ssl_passthrough",
    "external_dns_annotation",
    "ingress_class_of",
    "namespace_of",
    "resource_of",
]

ANNOTATION_PREFIXES: Final = ("external-dns.kubernetes.io/", "external-dns.alpha.kubernetes.io/")
"""external-dns's annotation prefixes, in order of precedence."""
LEGACY_CLASS_ANNOTATION: Final = "kubernetes.io/ingress.class"
"""The pre-IngressClass annotation, read when ``spec.ingressClassName`` is unset; when both are
set they must agree (tenancy refuses the Ingress otherwise)."""
SSL_PASSTHROUGH_ANNOTATION: Final = "nginx.ingress.kubernetes.io/ssl-passthrough"
"""The annotation asking a fleet to pass TLS to the backend untouched."""


class Visibility(StrEnum):
    """Which DNS view a fleet publishes into: public zones or private (split-horizon) zones."""

    PUBLIC = "public"
    PRIVATE = "private"


def _mapping(value: object) -> Mapping[str, Any]:
    if type(value) is dict:  # the usual case, without the ABC check
        return value
    return value if isinstance(value, Mapping) else {}


def annotations_of(ingress: Mapping[str, Any]) -> dict[str, str]:
    """The Ingress's annotations whose keys and values are strings."""
    raw = _mapping(_mapping(ingress.get("metadata")).get("annotations"))
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


def asks_ssl_passthrough(ingress: Mapping[str, Any]) -> bool:
    """Does the Ingress ask for SSL passthrough (its annotation read as Go's ParseBool)?"""
    value = annotations_of(ingress).get(SSL_PASSTHROUGH_ANNOTATION, "")
    return value in ("1", "t", "T", "true", "TRUE", "True")


def external_dns_annotation(
    annotations: Mapping[str, str], key: str, prefixes: Collection[str] = ANNOTATION_PREFIXES
) -> str | None:
    """The value of external-dns annotation ``key`` (``hostname``, ``target``, ``ttl``) under the
    first of ``prefixes`` that sets it, or None."""
    if not annotations:  # most Ingresses carry none of these
        return None
    for prefix in ANNOTATION_PREFIXES:
        if prefix in prefixes:
            value = annotations.get(prefix + key)
            if value is not None:
                return value
    return None


def ingress_class_of(ingress: Mapping[str, Any]) -> str | None:
    """``spec.ingressClassName``, else the legacy ``kubernetes.io/ingress.class`` annotation."""
    name = _mapping(ingress.get("spec")).get("ingressClassName")
    if isinstance(name, str) and name:
        return name
    return annotations_of(ingress).get(LEGACY_CLASS_ANNOTATION) or None


def namespace_of(ingress: Mapping[str, Any]) -> str:
    """The namespace (``default`` when the object names none, as the API defaults it)."""
    namespace = _mapping(ingress.get("metadata")).get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


def resource_of(ingress: Mapping[str, Any]) -> str:
    """``ingress/<namespace>/<name>`` as written into TXT ownership records (``ingress/?/?`` when
    the object has no usable name)."""
    meta = _mapping(ingress.get("metadata"))
    namespace = meta.get("namespace") or "default"
    name = meta.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str) or not name:
        return "ingress/?/?"
    # one string object for every holder (desire, index, ownership labels) while one is alive
    return sys.intern(f"ingress/{namespace}/{name}")
