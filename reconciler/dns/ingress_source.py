"""Ingress source: raw Ingress objects to the desired endpoints. Pure: no I/O, no logging, no clock.

Hosts come from ``spec.rules[].host``, ``spec.tls[].hosts`` and the ``hostname`` annotation; targets
from ``status.loadBalancer.ingress[].ip/hostname``, or the ``target`` annotation when set (it
replaces the status, as in external-dns). IPv4 → A, IPv6 → AAAA, a hostname → CNAME. Every endpoint
carries ``resource=ingress/<namespace>/<name>``.

external-dns's annotations are honoured under both prefixes, ``external-dns.kubernetes.io/`` and
``external-dns.alpha.kubernetes.io/``; when an Ingress carries both, the first (non-alpha) wins.
``ttl`` is whole seconds or a Go duration (``90``, ``10m``, ``1h30m``) within 1…2147483647.

Bad data never raises and never disturbs other Ingresses: an invalid host, target or annotation
is left out and reported as a :class:`Rejection` with a reason. A bad ``ttl`` falls back to the
default TTL (as external-dns does) and is reported too. A live Ingress with hosts but no usable
address yields *claim* endpoints (no targets), so its records are kept until no Ingress claims the
host any more (external-dns #1844); an Ingress being deleted yields nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model.endpoint import (
    Endpoint,
    FrozenMap,
    InvalidNameError,
    Label,
    RecordType,
    normalize_name,
)
from reconciler.model.ingress import (
    ANNOTATION_PREFIXES,
    annotations_of,
    external_dns_annotation,
    ingress_class_of,
    resource_of,
)

__all__ = [
    "MAX_TTL",
    "Rejection",
    "SourceResult",
    "endpoints_for",
    "endpoints_from_ingress",
    "endpoints_from_ingresses",
    "external_dns_annotations",
    "is_selected",
    "parse_ttl",
    "split_list",
    "usable_targets",
]

MAX_TTL = 2**31 - 1
"""Largest TTL a record may carry (RFC 2181)."""

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# An IPv4 address in its canonical text (no leading zeros), as in reconciler.model.endpoint.
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_LABEL_BODY = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_HOST_LABEL_BODY}\.)*{_HOST_LABEL_BODY}")
_WILDCARD_HOST = re.compile(rf"(?:\*\.)?(?:{_HOST_LABEL_BODY}\.)*{_HOST_LABEL_BODY}")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """Something an Ingress asked for that is not published, and why."""

    resource: str
    """``ingress/<namespace>/<name>`` (``ingress/?/?`` when the object has no usable name)."""
    host: str
    """The host (or target) concerned, or ``""`` when the whole Ingress or an annotation is."""
    reason: str
    """What is wrong, in words a user can act on."""


@dataclass(frozen=True, slots=True)
class SourceResult:
    """Desired endpoints and the rejections met while building them."""

    endpoints: tuple[Endpoint, ...] = ()
    """Endpoints sorted by (name, type); claims (no targets) included."""
    rejections: tuple[Rejection, ...] = ()
    """What was left out, in the order met."""


def _mapping(value: object) -> Mapping[str, Any]:
    if type(value) is dict:  # the usual case, without the ABC check
        return value
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _string_map(value: object) -> dict[str, str]:
    return {k: v for k, v in _mapping(value).items() if isinstance(k, str) and isinstance(v, str)}


def _resource_problem(ingress: Mapping[str, Any]) -> str | None:
    """Why namespace/name cannot go into a TXT value, or None when they can."""
    meta = _mapping(ingress.get("metadata"))
    namespace = meta.get("namespace") or "default"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return "metadata.name is missing"
    if not isinstance(namespace, str) or not _DNS1123_LABEL.fullmatch(namespace):
        return "metadata.namespace is not a valid namespace name (lower-case DNS label)"
    if len(name) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(name):
        return (
            "metadata.name is not a valid object name (lower-case DNS subdomain); it would be "
            "written into the TXT ownership value"
        )
    return None


def is_selected(ingress: Mapping[str, Any], class_names: Collection[str]) -> bool:
    """True when the class filter is empty or the Ingress's class is one of ``class_names``."""
    if not class_names:
        return True
    return ingress_class_of(ingress) in class_names


def parse_ttl(text: str) -> int:
    """Seconds from ``"300"`` or a Go duration (``"5m"``, ``"1h30m"``); ValueError when invalid.

    As in external-dns, fractions of a second are dropped and the result must be 1…2147483647.
    """
    value = text.strip()
    seconds: float
    if re.fullmatch(r"[+-]?\d+", value):
        seconds = int(value)
    else:
        sign = -1.0 if value.startswith("-") else 1.0
        body = value.lstrip("+-")
        if not body or _GO_DURATION_PART.sub("", body) != "":
            raise ValueError(f"{text!r} is neither whole seconds nor a duration such as 5m")
        seconds = sign * sum(
            float(m.group(1)) * _GO_UNITS[m.group(2)] for m in _GO_DURATION_PART.finditer(body)
        )
    result = int(seconds)
    if not 1 <= result <= MAX_TTL:
        raise ValueError(f"{text!r} is out of range (1…{MAX_TTL} seconds)")
    return result


def _annotation(annotations: Mapping[str, str], key: str) -> str | None:
    return external_dns_annotation(annotations, key)


def split_list(value: str) -> list[str]:
    """external-dns's list annotation: comma-separated, spaces removed, trailing dots trimmed."""
    return [item.rstrip(".") for item in value.replace(" ", "").split(",") if item.strip(".")]


def _check_host(raw: str, *, wildcard: bool) -> str:
    """The normalised host, or InvalidNameError saying why it cannot be a DNS name."""
    name = normalize_name(raw)
    if (_WILDCARD_HOST if wildcard else _HOST).fullmatch(name) and not (
        name.rpartition(".")[2].isdigit()
    ):
        return name  # every label passes the checks below
    labels = name.split(".")
    for index, label in enumerate(labels):
        if wildcard and index == 0 and label == "*":
            continue
        if not _HOST_LABEL.match(label):
            raise InvalidNameError(
                f"{raw!r}: label {label!r} may hold only letters, digits and inner '-'"
            )
    if labels[-1].isdigit():
        # 192.0.2.300 is not an address, and no top-level domain is all digits (RFC 3696).
        raise InvalidNameError(f"{raw!r}: the last label is all digits (a malformed address?)")
    return name


def _classify_targets(
    raw_targets: Iterable[str], resource: str
) -> tuple[dict[str, list[str]], list[Rejection]]:
    """Targets by record type, plus rejections for targets that are no address nor host name."""
    by_type: dict[str, list[str]] = {RecordType.A: [], RecordType.AAAA: [], RecordType.CNAME: []}
    rejections: list[Rejection] = []
    for raw in raw_targets:
        text = raw.strip()
        if _CANONICAL_IPV4.fullmatch(text):  # str(ip_address(text)) == text: skip the parse
            if text not in by_type[RecordType.A]:
                by_type[RecordType.A].append(text)
            continue
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            pass
        else:
            kind = RecordType.A if address.version == 4 else RecordType.AAAA
            if str(address) not in by_type[kind]:
                by_type[kind].append(str(address))
            continue
        try:
            host = _check_host(text.rstrip("."), wildcard=False)
        except InvalidNameError as exc:
            rejections.append(
                Rejection(resource, text, f"target is neither an IP address nor a host name: {exc}")
            )
            continue
        if host not in by_type[RecordType.CNAME]:
            by_type[RecordType.CNAME].append(host)
    return by_type, rejections


def _status_targets(ingress: Mapping[str, Any]) -> list[str]:
    status = _mapping(ingress.get("status"))
    entries = _list(_mapping(status.get("loadBalancer")).get("ingress"))
    targets: list[str] = []
    for entry in entries:
        item = _mapping(entry)
        for field_name in ("ip", "hostname"):
            value = item.get(field_name)
            if isinstance(value, str) and value:
                targets.append(value)
    return targets


def _raw_hosts(ingress: Mapping[str, Any], annotations: Mapping[str, str]) -> list[str]:
    spec = _mapping(ingress.get("spec"))
    hosts: list[str] = []
    for rule in _list(spec.get("rules")):
        host = _mapping(rule).get("host")
        if isinstance(host, str) and host:
            hosts.append(host)
    for tls in _list(spec.get("tls")):
        for host in _list(_mapping(tls).get("hosts")):
            if isinstance(host, str) and host:
                hosts.append(host)
    hostname = _annotation(annotations, "hostname")
    if hostname:
        hosts.extend(split_list(hostname))
    return hosts


def _is_deleting(ingress: Mapping[str, Any]) -> bool:
    return bool(_mapping(ingress.get("metadata")).get("deletionTimestamp"))


def _ttl(
    annotations: Mapping[str, str], default_ttl: int | None, resource: str
) -> tuple[int | None, list[Rejection]]:
    text = _annotation(annotations, "ttl")
    if text is None:
        return default_ttl, []
    try:
        return parse_ttl(text), []
    except ValueError as exc:
        reason = f"ttl annotation ignored, default TTL used: {exc}"
        return default_ttl, [Rejection(resource, "", reason)]


def _valid_hosts(raw_hosts: Iterable[str], resource: str) -> tuple[list[str], list[Rejection]]:
    """The hosts normalised, deduplicated, in order; the invalid ones rejected."""
    hosts: list[str] = []
    rejections: list[Rejection] = []
    for raw in raw_hosts:
        try:
            host = _check_host(raw, wildcard=True)
        except InvalidNameError as exc:
            rejections.append(Rejection(resource, raw, f"invalid host name: {exc}"))
            continue
        if host not in hosts:
            hosts.append(host)
    return hosts, rejections


def usable_targets(
    raw_targets: Iterable[str], resource: str
) -> tuple[dict[str, list[str]], list[Rejection]]:
    """Targets by record type, with at most one CNAME and none beside addresses; the rest is
    rejected with its reason."""
    by_type, rejections = _classify_targets(raw_targets, resource)
    cnames = sorted(by_type[RecordType.CNAME])
    if cnames and (by_type[RecordType.A] or by_type[RecordType.AAAA]):
        reason = "host-name target ignored: a CNAME cannot sit beside addresses"
        rejections.extend(Rejection(resource, c, reason) for c in cnames)
        cnames = []
    elif len(cnames) > 1:
        # A name holds at most one CNAME; keep a deterministic one and report the others.
        reason = f"host-name target ignored: a CNAME has one target ({cnames[0]})"
        rejections.extend(Rejection(resource, c, reason) for c in cnames[1:])
        cnames = cnames[:1]
    by_type[RecordType.CNAME] = cnames
    return by_type, rejections


def endpoints_from_ingress(
    ingress: Mapping[str, Any],
    *,
    ingress_class_names: Collection[str] = (),
    default_ttl: int | None = None,
    claim_types: Iterable[str] = (RecordType.A,),
    annotation_prefixes: Collection[str] = ANNOTATION_PREFIXES,
) -> SourceResult:
    """Desired endpoints of one Ingress (raw API JSON), and what was rejected and why.

    ``ingress_class_names`` filters by class (empty: every Ingress). ``default_ttl`` is the TTL of
    records whose Ingress sets none (None: any TTL, the provider's default on create).
    ``claim_types`` are the record types a live Ingress without an address claims at each host,
    so that its existing records are kept. ``annotation_prefixes`` are the external-dns prefixes
    read (annotations under the other one are ignored, as external-dns ignores them).
    """
    if not isinstance(ingress, Mapping) or _is_deleting(ingress):
        return SourceResult()
    if not is_selected(ingress, ingress_class_names):
        return SourceResult()
    annotations = external_dns_annotations(ingress, annotation_prefixes)
    text = _annotation(annotations, "target")  # replaces the status
    return endpoints_for(
        ingress,
        resource=resource_of(ingress),
        annotations=annotations,
        raw_hosts=_raw_hosts(ingress, annotations),
        raw_targets=split_list(text) if text else _status_targets(ingress),
        default_ttl=default_ttl,
        claim_types=claim_types,
    )


def external_dns_annotations(
    obj: Mapping[str, Any], prefixes: Collection[str] = ANNOTATION_PREFIXES
) -> dict[str, str]:
    """The object's annotations without those under an external-dns prefix not in ``prefixes``
    (external-dns ignores the other prefix when told one)."""
    annotations = annotations_of(obj)
    if annotations and len(prefixes) < len(ANNOTATION_PREFIXES):
        ignored = tuple(p for p in ANNOTATION_PREFIXES if p not in prefixes)
        annotations = {k: v for k, v in annotations.items() if not k.startswith(ignored)}
    return annotations


def endpoints_for(
    obj: Mapping[str, Any],
    *,
    resource: str,
    annotations: Mapping[str, str],
    raw_hosts: Iterable[str],
    raw_targets: Iterable[str],
    default_ttl: int | None,
    claim_types: Iterable[str],
) -> SourceResult:
    """The endpoints of one source object (an Ingress, a Route): each valid host at the usable
    targets (claims of ``claim_types`` when there are none), TTL from the ``ttl`` annotation,
    ``resource`` as label; what is left out is rejected with its reason."""
    problem = _resource_problem(obj)
    if problem is not None:
        return SourceResult(rejections=(Rejection(resource, "", problem),))
    ttl, rejections = _ttl(annotations, default_ttl, resource)
    hosts, host_rejections = _valid_hosts(raw_hosts, resource)
    rejections.extend(host_rejections)
    if not hosts:
        return SourceResult(rejections=tuple(rejections))
    by_type, target_rejections = usable_targets(raw_targets, resource)
    rejections.extend(target_rejections)

    labels = FrozenMap({Label.RESOURCE.value: resource})  # built once, shared by each endpoint
    claims = tuple(claim_types)
    has_targets = any(by_type.values())
    endpoints: list[Endpoint] = []
    for host in hosts:
        if not has_targets:
            endpoints.extend(Endpoint.of(host, t, (), ttl=ttl, labels=labels) for t in claims)
            continue
        endpoints.extend(
            Endpoint.of(host, rtype, targets, ttl=ttl, labels=labels)
            for rtype, targets in by_type.items()
            if targets
        )
    if len(endpoints) > 1:
        endpoints.sort(key=lambda e: e.key)
    return SourceResult(endpoints=tuple(endpoints), rejections=tuple(rejections))


def endpoints_from_ingresses(
    ingresses: Iterable[Mapping[str, Any]],
    *,
    ingress_class_names: Collection[str] = (),
    default_ttl: int | None = None,
    claim_types: Iterable[str] = (RecordType.A,),
    annotation_prefixes: Collection[str] = ANNOTATION_PREFIXES,
) -> SourceResult:
    """:func:`endpoints_from_ingress` over many Ingresses; endpoints sorted, rejections in order.

    Several Ingresses may claim the same host: their endpoints are all returned (the planner
    resolves such conflicts deterministically).
    """
    claim = tuple(claim_types)
    endpoints: list[Endpoint] = []
    rejections: list[Rejection] = []
    for ingress in ingresses:
        result = endpoints_from_ingress(
            ingress,
            ingress_class_names=ingress_class_names,
            default_ttl=default_ttl,
            claim_types=claim,
            annotation_prefixes=annotation_prefixes,
        )
        endpoints.extend(result.endpoints)
        rejections.extend(result.rejections)
    endpoints.sort(key=lambda e: (e.key, e.labels.get(Label.RESOURCE, ""), e.targets))
    return SourceResult(endpoints=tuple(endpoints), rejections=tuple(rejections))
