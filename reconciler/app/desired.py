"""What each Ingress asks of DNS, and the index that lets a pass re-plan only what changed.

:func:`desire_of` turns one Ingress (as the status stage publishes it) into its
:class:`IngressDesire`: the source's endpoints and rejections, then (with fleets) the pending
load-balancer rule, tenancy and the split-horizon guard, exactly as the full pass applies them, one
Ingress at a time. The full pass is this function over every Ingress; an incremental pass is the
same function over the changed ones, so the two cannot read an Ingress differently.

:class:`DesiredIndex` keeps every Ingress's last desire and, for each name, which Ingresses claim
it. An incremental pass replaces the desires of the changed Ingresses and gets back the names they
touched (before and after the change); the rows at those names are planned whole, with every
endpoint desired there, so a name shared with an unchanged Ingress is planned with it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.dns.ingress_source import Rejection, SourceResult, endpoints_from_ingress
from reconciler.dns.route_source import GatewayIndex, route_endpoints
from reconciler.dns.sync import EndpointGroup
from reconciler.dns.tenancy import (
    Fleet,
    Namespace,
    Refusal,
    TenancyConfig,
    decide,
    decide_route,
    guard_view,
)
from reconciler.fleets.spec import FleetSpec
from reconciler.model.endpoint import Endpoint, Label
from reconciler.model.gateway import object_key, route_resource
from reconciler.model.ingress import (
    ANNOTATION_PREFIXES,
    annotations_of,
    external_dns_annotation,
    ingress_class_of,
    namespace_of,
    resource_of,
)

__all__ = [
    "RESERVED_REASON",
    "DesireContext",
    "DesiredIndex",
    "IngressDesire",
    "desire_of",
    "endpoint_groups",
    "few_enough",
    "route_desires",
    "source_result",
]

RESERVED_REASON = (
    "the host has the form of an ownership TXT name (a-<host>, aaaa-<host>, "
    "cname-<host>, with the configured txtPrefix/txtSuffix/wildcard replacement): "
    "a record there could take over another record's ownership; choose another host"
)
"""The rejection reason of a host in the ownership namespace."""


@dataclass(frozen=True, slots=True)
class IngressDesire:
    """What one Ingress asks of DNS in one pass."""

    resource: str
    """``ingress/<namespace>/<name>``."""
    fleet: str | None = None
    """The fleet whose ``dnsProviders`` its endpoints go to; None without fleets (any provider)."""
    source: tuple[Endpoint, ...] = ()
    """The source's endpoints (before tenancy and the view guard)."""
    endpoints: tuple[Endpoint, ...] = ()
    """What is desired in DNS (after them)."""
    rejections: tuple[Rejection, ...] = ()
    """The source's rejections."""
    reserved: tuple[Rejection, ...] = ()
    """Hosts refused for lying in the ownership namespace."""
    refusals: tuple[Refusal, ...] = ()
    """Tenancy and view-guard refusals."""
    part: str = ""
    """For a Route attached to Gateways of several fleets: the fleet this desire is of."""

    @property
    def key(self) -> str:
        """Its key in a :class:`DesiredIndex`: the resource (``@<fleet>`` for a Route)."""
        return f"{self.resource}@{self.part}" if self.part else self.resource


@dataclass(frozen=True, slots=True)
class DesireContext:
    """What :func:`desire_of` needs besides the Ingress: the pass's settings and observations."""

    class_filter: tuple[str, ...]
    annotation_prefixes: tuple[str, ...]
    reserved: tuple[re.Pattern[str], ...]
    fleets: Mapping[str, FleetSpec]
    """Fleet by IngressClass name; empty: DNS only."""
    addresses: Mapping[str, Sequence[str]]
    """Fleet name → its Service's addresses, lower-case."""
    tenancy: TenancyConfig | None
    tenancy_fleets: tuple[Fleet, ...]
    other_view: Mapping[str, frozenset[str]]
    """Fleet name → the addresses of every fleet of the other visibility."""
    excluded_nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    namespaces: Mapping[str, Namespace]
    gateways: GatewayIndex | None = None
    """The Gateways and ListenerSets Routes attach to; None: Routes are not read."""
    gateway_fleets: Mapping[tuple[str, str], FleetSpec] = field(default_factory=dict)
    """Fleet by its Gateway (namespace, name)."""

    @classmethod
    def of(
        cls,
        *,
        fleets: Sequence[FleetSpec],
        ingress_class_names: Sequence[str],
        annotation_prefixes: Sequence[str] = ANNOTATION_PREFIXES,
        reserved_names: Sequence[str] = (),
        addresses: Mapping[str, Sequence[str]],
        tenancy: TenancyConfig | None,
        public_excluded_nets: Sequence[str],
        namespaces: Mapping[str, Namespace],
        gateways: GatewayIndex | None = None,
    ) -> DesireContext:
        """The context of one pass (fleet addresses as the strings of their Services)."""
        lowered = {f.name: tuple(a.lower() for a in addresses.get(f.name, ())) for f in fleets}
        by_visibility: dict[str, set[str]] = {}
        for f in fleets:
            by_visibility.setdefault(str(f.visibility), set()).update(lowered[f.name])
        other_view = {
            f.name: frozenset(
                a for k, v in by_visibility.items() if k != str(f.visibility) for a in v
            )
            for f in fleets
        }
        return cls(
            class_filter=(
                tuple(f.ingress_class_name for f in fleets)
                if fleets
                else tuple(ingress_class_names)
            ),
            annotation_prefixes=tuple(annotation_prefixes),
            reserved=tuple(re.compile(p) for p in reserved_names),
            fleets={f.ingress_class_name: f for f in fleets},
            addresses=lowered,
            tenancy=tenancy,
            tenancy_fleets=tuple(
                Fleet.of(f.name, f.ingress_class_name, f.visibility, lowered[f.name])
                for f in fleets
            ),
            other_view=other_view,
            excluded_nets=tuple(
                ipaddress.ip_network(n, strict=False) for n in public_excluded_nets
            ),
            namespaces=namespaces,
            gateways=gateways,
            gateway_fleets={
                (f.namespace, f.gateway.name): f for f in fleets if f.gateway is not None
            },
        )


def _unreserved(
    endpoints: Sequence[Endpoint], context: DesireContext
) -> tuple[list[Endpoint], list[Rejection]]:
    """The endpoints whose names are not in the ownership namespace, and the rest refused."""
    if not context.reserved or not endpoints:
        return list(endpoints), []
    kept: list[Endpoint] = []
    reserved: list[Rejection] = []
    for e in endpoints:
        if any(p.search(e.name) for p in context.reserved):
            reserved.append(
                Rejection(
                    resource=e.labels.get(Label.RESOURCE, ""), host=e.name, reason=RESERVED_REASON
                )
            )
        else:
            kept.append(e)
    return kept, reserved


def _view_guarded(
    fleet: FleetSpec, endpoints: Sequence[Endpoint], context: DesireContext
) -> tuple[list[Endpoint], list[Refusal]]:
    tenancy_fleet = next(f for f in context.tenancy_fleets if f.name == fleet.name)
    return guard_view(
        tenancy_fleet,
        endpoints,
        other_view=set(context.other_view[fleet.name]),
        excluded_nets=list(context.excluded_nets),
    )


def route_desires(route: Mapping[str, Any], context: DesireContext) -> list[IngressDesire]:
    """What one Gateway API Route asks of DNS: one desire, or with fleets one per fleet whose
    Gateway it is attached to (Routes on other Gateways are not ours).

    With fleets a Route's targets are its fleet's address, as an Ingress's are (while the fleet
    has none, claims that keep what DNS holds), unless a ``target`` annotation on its Gateway or
    ListenerSet names them; tenancy (:func:`~reconciler.dns.tenancy.decide_route`) and the
    split-horizon guard apply as to an Ingress of that fleet. Without fleets the targets are
    the Gateways' addresses, as external-dns reads them.
    """
    if context.gateways is None or (route.get("metadata") or {}).get("deletionTimestamp"):
        return []
    attachments = context.gateways.attachments(route)
    if not attachments:
        return []
    resource = route_resource(route)
    prefixes = context.annotation_prefixes
    if not context.fleets:
        hosts = list(dict.fromkeys(h for a in attachments for h in a.hosts))
        targets = list(dict.fromkeys(t for a in attachments for t in a.targets))
        source = route_endpoints(route, hosts, targets, annotation_prefixes=prefixes)
        kept, reserved = _unreserved(source.endpoints, context)
        allowed = tuple(kept)
        return [IngressDesire(resource, None, allowed, allowed, source.rejections, tuple(reserved))]
    desires: list[IngressDesire] = []
    for attachment in attachments:
        fleet = context.gateway_fleets.get(attachment.gateway)
        if fleet is None:
            continue
        at: Sequence[str] = (
            attachment.targets if attachment.overridden else context.addresses[fleet.name]
        )
        source = route_endpoints(route, attachment.hosts, at, annotation_prefixes=prefixes)
        kept, reserved = _unreserved(source.endpoints, context)
        endpoints: Sequence[Endpoint] = kept
        refusals: list[Refusal] = []
        if context.tenancy is not None:
            ns_name = object_key(route)[0]
            decision = decide_route(
                context.tenancy,
                fleets=context.tenancy_fleets,
                namespace=context.namespaces.get(ns_name, Namespace(ns_name)),
                resource=resource,
                fleet=fleet.name,
                gateway="/".join(attachment.gateway),
                endpoints=endpoints,
            )
            refusals.extend(decision.refusals)
            endpoints = decision.allowed
        guarded, refused = _view_guarded(fleet, endpoints, context)
        refusals.extend(refused)
        desires.append(
            IngressDesire(
                resource,
                fleet.name,
                tuple(kept),
                tuple(guarded),
                source.rejections,
                tuple(reserved),
                tuple(refusals),
                part=fleet.name,
            )
        )
    return desires


def desire_of(ingress: Mapping[str, Any], context: DesireContext) -> IngressDesire:
    """What one Ingress (as published: with its fleet's address) asks of DNS.

    While its fleet has no address (its load balancer pending or being replaced) and no target
    annotation names its targets, its endpoints become claims: whatever DNS holds for its names
    stays as it is (with or without tenants), and its old status, possibly another fleet's
    address, is never written anywhere.
    """
    resource = resource_of(ingress)
    source = endpoints_from_ingress(
        ingress,
        ingress_class_names=context.class_filter,
        annotation_prefixes=context.annotation_prefixes,
    )
    endpoints, reserved = _unreserved(source.endpoints, context)
    allowed = tuple(endpoints)
    if not context.fleets:
        return IngressDesire(
            resource, None, allowed, allowed, source.rejections, tuple(reserved), ()
        )
    fleet = context.fleets.get(ingress_class_of(ingress) or "")
    if fleet is None:
        return IngressDesire(resource, None, allowed, (), source.rejections, tuple(reserved), ())
    if not context.addresses[fleet.name] and not _has_target_annotation(
        ingress, context.annotation_prefixes
    ):
        endpoints = [e if not e.targets else e.with_targets(()) for e in endpoints]
    refusals: list[Refusal] = []
    if context.tenancy is not None:
        ns_name = namespace_of(ingress)
        decision = decide(
            context.tenancy,
            fleets=context.tenancy_fleets,
            namespace=context.namespaces.get(ns_name, Namespace(ns_name)),
            ingress=ingress,
            endpoints=endpoints,
        )
        refusals.extend(decision.refusals)
        endpoints = list(decision.allowed)
    guarded, refused = _view_guarded(fleet, endpoints, context)
    refusals.extend(refused)
    return IngressDesire(
        resource,
        fleet.name,
        allowed,
        tuple(guarded),
        source.rejections,
        tuple(reserved),
        tuple(refusals),
    )


def _has_target_annotation(ingress: Mapping[str, Any], prefixes: Sequence[str]) -> bool:
    return external_dns_annotation(annotations_of(ingress), "target", prefixes) is not None


def source_result(desires: Iterable[IngressDesire]) -> SourceResult:
    """The source's result over these desires, ordered as the source orders it: endpoints by
    (key, resource, targets), its rejections in Ingress order, then the reserved hosts sorted."""
    endpoints: list[Endpoint] = []
    rejections: list[Rejection] = []
    reserved: set[Rejection] = set()
    for desire in desires:
        endpoints.extend(desire.source)
        rejections.extend(desire.rejections)
        reserved.update(desire.reserved)
    endpoints.sort(key=lambda e: (e.key, e.labels.get(Label.RESOURCE, ""), e.targets))
    return SourceResult(
        endpoints=tuple(endpoints),
        rejections=(*rejections, *sorted(reserved, key=lambda r: (r.resource, r.host))),
    )


def endpoint_groups(
    desires: Iterable[IngressDesire], fleets: Sequence[FleetSpec], names: frozenset[str] | None
) -> tuple[tuple[Endpoint, ...], tuple[EndpointGroup, ...]]:
    """Plain desired endpoints (no fleets) or one group per fleet (its ``dnsProviders``); with
    ``names``, only the endpoints at those names."""
    if not fleets:
        return (
            tuple(e for d in desires for e in d.endpoints if names is None or e.name in names),
            (),
        )
    per_fleet: dict[str, list[Endpoint]] = {f.name: [] for f in fleets}
    for desire in desires:
        if desire.fleet is not None:
            per_fleet[desire.fleet].extend(
                e for e in desire.endpoints if names is None or e.name in names
            )
    return (), tuple(EndpointGroup(tuple(per_fleet[f.name]), f.dns_providers) for f in fleets)


def few_enough(changed: int, held: int) -> bool:
    """Is re-planning ``changed`` of ``held`` Ingresses by name cheaper than planning every name?
    (Reading records by name pays per name: past a tenth, the whole zone is cheaper.)"""
    return changed <= max(100, held // 10)


_FEW_CLAIMANTS = 8
"""Up to this many claimants of a name are held in a tuple (see DesiredIndex._claimants)."""


class DesiredIndex:
    """Every Ingress's last desire, and the Ingresses that desire each name.

    It also remembers what those desires were computed from (each Ingress object as cached, the
    pass's :class:`DesireContext`) and each provider's generation when every name was last
    planned, so that a full pass can tell what changed since (see
    :func:`reconciler.app.pipeline.reconcile`).
    """

    def __init__(self) -> None:
        self._desires: dict[str, IngressDesire] = {}
        self._claimants: dict[str, tuple[str, ...] | set[str]] = {}
        """The resources desiring each name: a tuple while few (most names have one; a set of
        one costs four times the memory), a set when many."""
        self._sources: dict[str, Mapping[str, Any]] = {}
        self._source_ids: dict[int, str] = {}
        """The resource of each held source object, by the object's id (held, so never reused)."""
        self._filled = False
        self.context: DesireContext | None = None
        """The context the held desires were computed in."""
        self.generations: Mapping[str, int] | None = None
        """Each provider's generation when every name was last planned."""
        self.stale = True
        """Must the next full pass plan every name (the last pass did not converge)?"""

    def __len__(self) -> int:
        return len(self._desires)

    @property
    def is_filled(self) -> bool:
        """Has a full pass filled it (:meth:`replace_all`)?"""
        return self._filled

    def resources(self) -> set[str]:
        """The resources whose desires are held."""
        return set(self._desires)

    def get(self, resource: str) -> IngressDesire | None:
        """The desire held for ``resource``."""
        return self._desires.get(resource)

    def reuse_object(self, ingress: Mapping[str, Any]) -> IngressDesire | None:
        """The desire held for the Ingress when it was computed from this very object (the
        cache replaces an object that changes, so identity is enough: nothing else is read)."""
        resource = self._source_ids.get(id(ingress))
        if resource is None or self._sources.get(resource) is not ingress:
            return None
        return self._desires.get(resource)

    def remember(self, resource: str, ingress: Mapping[str, Any]) -> None:
        """Note the object the desire of ``resource`` is (now) computed from."""
        old = self._sources.get(resource)
        if old is not None:
            self._source_ids.pop(id(old), None)
        self._sources[resource] = ingress
        self._source_ids[id(ingress)] = resource

    def replace_all(self, desires: Iterable[IngressDesire]) -> None:
        """Hold exactly these desires (a full pass)."""
        self._desires = {}
        self._claimants = {}
        self._sources = {}
        self._source_ids = {}
        self.update({d.key: d for d in desires})
        self._filled = True

    def update(self, changed: Mapping[str, IngressDesire | None]) -> frozenset[str]:
        """Replace the desires of some Ingresses, by :attr:`IngressDesire.key` (None: it is
        gone); the names they touched."""
        touched: set[str] = set()
        for resource, desire in changed.items():
            old = self._desires.pop(resource, None)
            if old is not None:
                for endpoint in old.endpoints:
                    touched.add(endpoint.name)
                    self._unclaim(endpoint.name, resource)
            if desire is None:
                gone = self._sources.pop(resource, None)
                if gone is not None:
                    self._source_ids.pop(id(gone), None)
                continue
            self._desires[resource] = desire
            for endpoint in desire.endpoints:
                touched.add(endpoint.name)
                self._claim(endpoint.name, resource)
        return frozenset(touched)

    def _claim(self, name: str, resource: str) -> None:
        claimants = self._claimants.get(name, ())
        if isinstance(claimants, set):
            claimants.add(resource)
        elif resource not in claimants:
            grown = (*claimants, resource)
            self._claimants[name] = grown if len(grown) <= _FEW_CLAIMANTS else set(grown)

    def _unclaim(self, name: str, resource: str) -> None:
        claimants = self._claimants.get(name)
        if isinstance(claimants, set):
            claimants.discard(resource)
            left: tuple[str, ...] | set[str] = claimants
        elif claimants is not None:
            left = tuple(r for r in claimants if r != resource)
            self._claimants[name] = left
        else:
            return
        if not left:
            del self._claimants[name]

    def claiming(self, names: Iterable[str]) -> list[IngressDesire]:
        """The desires of every Ingress that desires one of ``names``, by resource."""
        resources = sorted({r for n in names for r in self._claimants.get(n, ())})
        return [self._desires[r] for r in resources]
