"""One reconcile pass: fleets → load balancers → Ingress status → DNS; full or incremental.

:func:`reconcile` is the full pass ``once`` and ``run`` execute (``plan`` too, with writes off);
:func:`reconcile_changes` is ``run``'s pass after watch events that changed only Ingresses (or a
Namespace's labels): the same stages, then DNS for the changed Ingresses and the names they
touch only (see :mod:`reconciler.app.desired`; :func:`changed_ingresses` says which). The
cluster-side stages (fleet objects, elbv2 load balancers, Ingress status) are injected as
:data:`Stage` functions built by the composition root from their modules; this module composes
them and owns the DNS stage:

1. **source**: the Ingresses, each seen with the status the pass publishes for it (its fleet
   Service's ``status.loadBalancer.ingress``; the Ingress's own status while the Service has no
   address yet), → desired endpoints and source rejections;
2. **tenancy** (only with tenants configured): :func:`reconciler.dns.tenancy.decide` per
   Ingress, with each fleet's addresses read from its Service; refused hosts are dropped, the rest
   kept unchanged;
3. **split horizon** (only with fleets configured): an Ingress's endpoints go to its fleet's
   ``dnsProviders`` only (an :class:`reconciler.dns.sync.EndpointGroup` each), so a private fleet's
   names never reach a public provider; Ingresses of classes that are no fleet's are not ours;
4. registry → plan → apply, per provider (:func:`reconciler.dns.sync.sync_dns`).

**One pass converges** whatever can converge in it: each stage reads what the stages before it
wrote. After a stage that changed something, the pass *re-observes* before the next stage: a
state that can be re-read (a :class:`RefreshableState`, such as ``once``'s ``ListedState``, which
lists the cluster again) is replaced by its ``refreshed()`` copy, and the DNS stage's
:class:`Observed` is read again from it. So from an empty cluster one ``once`` creates the fleet
Service, then its NLB and the Service's address, then the Ingress status, then the DNS records.
A watch-backed cache (``run``) is not refreshable and is used as it is: the watch events of this
pass's writes trigger the next pass within the coalescing window, which takes the next step. A
failed re-read leaves the pass on its last read, reported as an ``observe`` error (not converged).
Stages stay independent of each other: they share nothing but the cluster.

Without fleets the pass is DNS only: the ``ingressClassNames`` filter, every
provider a candidate for every endpoint.

Logging: detail (refused hosts, each provider's pass) at DEBUG, failures at WARNING; nothing here
logs at INFO. The pass's one INFO summary, ``pass finished``, is written by its caller from
:func:`reconciler.app.wiring.loop_result`: the loop under ``run``, the CLI for ``once``/``plan``.

Everything refused becomes a Warning Event on the Ingress concerned (when an
:class:`~reconciler.model.cluster.EventRecorder` is given): tenancy refusals under their own
reason (``HostnameNotAllowed``, ``HostnameConflict``, ``FleetNotAllowed``, ``TargetNotAllowed``,
…), source rejections as ``InvalidHost``, planner conflicts as ``DNSRecordConflict``, and failed
DNS writes as ``DNSWriteFailed``. The same counts by reason reach the metrics through the wiring's
:func:`~reconciler.app.wiring.loop_result`, and :func:`conflict_entries` lists them for ``plan
--output json``. This module imports neither the loop nor the settings model: the wiring builds its
:class:`PassConfig` (:func:`~reconciler.app.wiring.pass_config`) and reads its :class:`PassReport`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from reconciler.app.desired import (
    DesireContext,
    DesiredIndex,
    IngressDesire,
    desire_of,
    endpoint_groups,
    few_enough,
    route_desires,
    source_result,
)
from reconciler.dns.ingress_source import SourceResult
from reconciler.dns.plan import DEFAULT_MANAGED_TYPES, Conflict, DomainFilter, Policy
from reconciler.dns.route_source import GatewayIndex
from reconciler.dns.sync import DnsPassResult, EndpointGroup, Registry, sync_dns
from reconciler.dns.tenancy import (
    DEFAULT_PUBLIC_EXCLUDED_NETS,
    Namespace,
    Refusal,
    TenancyConfig,
)
from reconciler.fleets.ingress_status import ingress_address
from reconciler.fleets.spec import FleetSpec, fleet_service_address, is_owned
from reconciler.model.cluster import (
    ChangeType,
    ClusterState,
    EventRecorder,
    EventType,
    JsonObject,
    ObjectChange,
    ObjectRef,
)
from reconciler.model.endpoint import Changes, Endpoint, Label
from reconciler.model.errors import KubernetesError, ReconcilerError, TransientProviderError
from reconciler.model.gateway import ROUTE_KINDS, object_key, route_resource
from reconciler.model.ingress import (
    ANNOTATION_PREFIXES,
    ingress_class_of,
    namespace_of,
    resource_of,
)

__all__ = [
    "DNS_ACTION",
    "DNS_RECORD_CONFLICT",
    "DNS_WRITE_FAILED",
    "INVALID_HOST",
    "GuardedRegistry",
    "Observed",
    "PassConfig",
    "PassReport",
    "RefreshableState",
    "Stage",
    "StageOutcome",
    "changed_ingresses",
    "conflict_entries",
    "published_ingresses",
    "reconcile",
    "reconcile_changes",
]

log = logging.getLogger(__name__)

DNS_ACTION = "PublishDNS"
"""The ``action`` of every Event the DNS stage records."""
INVALID_HOST = "InvalidHost"
"""Event/metric reason of a source rejection (a host, target or annotation that is not valid)."""
DNS_RECORD_CONFLICT = "DNSRecordConflict"
"""Event reason of a planner conflict (the name is held by another owner or record)."""
DNS_WRITE_FAILED = "DNSWriteFailed"
"""Event reason of a DNS provider failure that concerns the Ingress's names."""


@dataclass(frozen=True, slots=True)
class PassConfig:
    """The settings one pass needs, as plain values."""

    owner_id: str
    """TXT ownership owner id; also the ``ingress-reconciler.io/owner`` label."""
    policy: Policy = Policy.SYNC
    """Planner policy."""
    managed_types: frozenset[str] = DEFAULT_MANAGED_TYPES
    """Record types created, updated and deleted."""
    domain_filter: DomainFilter = field(default_factory=DomainFilter)
    """Which names are managed."""
    ingress_class_names: tuple[str, ...] = ()
    """Class filter without fleets (empty: every Ingress)."""
    fleets: tuple[FleetSpec, ...] = ()
    """Configured fleets; empty: DNS only (the class filter, no split horizon)."""
    tenancy: TenancyConfig | None = None
    """Tenants; None: single-tenant mode (no enforcement)."""
    public_excluded_nets: tuple[str, ...] = DEFAULT_PUBLIC_EXCLUDED_NETS
    """Target ranges a public fleet's view never receives (empty: no range guard)."""
    annotation_prefixes: tuple[str, ...] = ANNOTATION_PREFIXES
    """external-dns annotation prefixes read (hostname, target, ttl)."""
    gateway_routes: bool = True
    """Publish Gateway API Routes' hosts."""
    gateway_class_names: tuple[str, ...] = ()
    """Gateway class filter without fleets (empty: every Gateway)."""
    reserved_names: tuple[str, ...] = ()
    """Patterns of the ownership namespace (:func:`reconciler.dns.registry.reserved_name_patterns`):
    hosts matching one are rejected at the source."""


@dataclass(frozen=True, slots=True)
class Observed:
    """The cluster as one pass sees it (from the caches, or from manifest files offline)."""

    ingresses: tuple[Mapping[str, Any], ...] = ()
    """Every Ingress (raw API JSON)."""
    namespaces: Mapping[str, Namespace] = field(default_factory=dict)
    """Namespaces by name (labels matter for tenant selectors)."""
    addresses: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """Fleet name → its Service's ``status.loadBalancer.ingress`` (empty while pending)."""
    routes: tuple[Mapping[str, Any], ...] = ()
    """Every Gateway API Route (raw API JSON, with its ``kind``)."""
    gateways: tuple[Mapping[str, Any], ...] = ()
    """Every Gateway."""
    listener_sets: tuple[Mapping[str, Any], ...] = ()
    """Every ListenerSet."""

    @classmethod
    def from_state(cls, state: ClusterState, fleets: Sequence[FleetSpec]) -> Observed:
        """Read the caches (each fleet's address from its Service)."""
        namespaces = {}
        for ns in state.namespaces():
            meta = ns.get("metadata") or {}
            name = str(meta.get("name") or "")
            if name:
                namespaces[name] = Namespace.of(name, dict(meta.get("labels") or {}))
        return cls(
            ingresses=tuple(state.ingresses()),
            namespaces=namespaces,
            addresses={f.name: fleet_service_address(f, state) for f in fleets},
            routes=tuple(state.routes()),
            gateways=tuple(state.gateways()),
            listener_sets=tuple(state.listener_sets()),
        )


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What one cluster-side stage (fleets, load balancers, Ingress status) did."""

    stage: str
    """``fleets``, ``load-balancers`` or ``ingress-status``."""
    changes: int = 0
    """Objects written."""
    refusals: tuple[tuple[str, int], ...] = ()
    """What it refused: (reason, count) pairs."""
    errors: tuple[str, ...] = ()
    """What failed (the pass does not converge)."""

    @property
    def ok(self) -> bool:
        """Did the stage succeed?"""
        return not self.errors


Stage = Callable[[ClusterState, datetime], StageOutcome]
"""A cluster-side stage: (observed state, now) → what it did. Writes go through guards."""


@runtime_checkable
class RefreshableState(ClusterState, Protocol):
    """A cluster state read at one moment that can be read again (``once``'s listing)."""

    def refreshed(self) -> ClusterState:
        """The cluster as it is now (a new read; ``self`` is left as it was)."""
        ...


def _refreshed(state: ClusterState) -> ClusterState:
    """``state`` read again when it can be; a live (watch-backed) state is already current."""
    if isinstance(state, RefreshableState):
        return state.refreshed()
    return state


@dataclass(frozen=True, slots=True)
class PassReport:
    """Everything one pass saw and did."""

    source: SourceResult
    """Desired endpoints (before tenancy) and source rejections."""
    dns: DnsPassResult
    """Per-provider changes, conflicts and errors."""
    refusals: tuple[Refusal, ...] = ()
    """Tenancy refusals."""
    stages: tuple[StageOutcome, ...] = ()
    """The cluster-side stages, in order."""
    incremental: bool = False
    """Only changed Ingresses and the names they touched (the counts are of those)."""

    @property
    def ok(self) -> bool:
        """Did every stage and every provider succeed?"""
        return self.dns.ok and all(s.ok for s in self.stages)


def _address_strings(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    values: list[str] = []
    for entry in entries:
        for key in ("ip", "hostname"):
            value = entry.get(key)
            if isinstance(value, str) and value:
                values.append(value)
    return values


def published_ingresses(
    ingresses: Iterable[Mapping[str, Any]],
    fleets: Sequence[FleetSpec],
    addresses: Mapping[str, Sequence[Mapping[str, Any]]],
) -> tuple[Mapping[str, Any], ...]:
    """The Ingresses as the status stage publishes them (pure; inputs untouched).

    An Ingress of a fleet whose Service has an address gets exactly that address as
    ``status.loadBalancer.ingress``; otherwise it keeps its own (the last one published).
    """
    by_class = {f.ingress_class_name: f.name for f in fleets}
    result: list[Mapping[str, Any]] = []
    for ingress in ingresses:
        fleet = by_class.get(ingress_class_of(ingress) or "")
        address = ingress_address(addresses.get(fleet, ())) if fleet is not None else ()
        if not address:
            result.append(ingress)
            continue
        status = dict(ingress.get("status") or {})
        status["loadBalancer"] = {"ingress": [dict(a) for a in address]}
        result.append({**ingress, "status": status})
    return tuple(result)


class GuardedRegistry:
    """A registry whose writes first ask ``may_write`` (the leader lease): no write once lost."""

    def __init__(self, inner: Registry, may_write: Callable[[], bool]) -> None:
        self._inner = inner
        self._may_write = may_write

    @property
    def name(self) -> str:
        """The inner registry's provider name."""
        return self._inner.name

    def zones(self) -> Sequence[str]:
        """The inner registry's zones."""
        return self._inner.zones()

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """The inner registry's shaping (no write)."""
        return self._inner.adjust_endpoints(endpoints)

    def records(self) -> Sequence[Endpoint]:
        """The inner registry's records (reads are always allowed)."""
        return self._inner.records()

    def records_at(self, names: Collection[str]) -> Sequence[Endpoint]:
        """The inner registry's records at these names."""
        return self._inner.records_at(names)

    def generation(self) -> int:
        """The inner registry's generation (a read)."""
        return self._inner.generation()

    def screen(self, endpoints: Sequence[Endpoint]) -> tuple[list[Endpoint], list[Conflict]]:
        """The inner registry's screening (no write)."""
        return self._inner.screen(endpoints)

    def apply(self, changes: Changes) -> None:
        """Write through the inner registry, unless the lease was lost."""
        if not self._may_write():
            raise TransientProviderError("not the leader any more: DNS write skipped")
        self._inner.apply(changes)


def _object_ref(obj: Mapping[str, Any]) -> ObjectRef:
    """The reference of an Ingress or a Route (a listed Ingress may lack apiVersion/kind)."""
    return ObjectRef.of({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **obj})


def _resource(obj: Mapping[str, Any]) -> str:
    """The TXT ``resource`` of an Ingress or a Route."""
    return route_resource(obj) if obj.get("kind") in ROUTE_KINDS else resource_of(obj)


def _by_resource(objects: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {_resource(o): o for o in objects}


def _record_events(
    events: EventRecorder,
    *,
    report: PassReport,
    ingresses: Mapping[str, Mapping[str, Any]],
    groups: Sequence[EndpointGroup],
    desired: Sequence[Endpoint],
    now: datetime,
) -> None:
    """One Warning Event per thing refused or failed, on the Ingress concerned."""
    notes: dict[tuple[str, str], set[str]] = {}

    def add(resource: str, reason: str, note: str) -> None:
        if resource in ingresses:
            notes.setdefault((resource, reason), set()).add(note)

    for refusal in report.refusals:
        add(refusal.resource, str(refusal.reason), refusal.message)
    for rejection in report.source.rejections:
        subject = f"{rejection.host!r}: " if rejection.host else ""
        add(rejection.resource, INVALID_HOST, f"{subject}{rejection.reason}")
    failed: dict[str, str] = {}
    for result in report.dns.providers:
        for conflict in result.conflicts:
            for resource in conflict.resource.split(","):
                add(
                    resource.strip(),
                    DNS_RECORD_CONFLICT,
                    f"{conflict.name} {conflict.record_type or ''}: {conflict.detail}".replace(
                        "  ", " "
                    ),
                )
        if result.errors:
            failed[result.provider] = "; ".join(result.errors)
    if failed:
        candidates = [(e, None) for e in desired] + [
            (e, g.providers) for g in groups for e in g.endpoints
        ]
        for endpoint, providers in candidates:
            for name, error in failed.items():
                if providers is None or name in providers:
                    add(
                        endpoint.labels.get(Label.RESOURCE, ""),
                        DNS_WRITE_FAILED,
                        f"provider {name}: {error}",
                    )
    for (resource, reason), messages in sorted(notes.items()):
        try:
            events.record(
                _object_ref(ingresses[resource]),
                type=EventType.WARNING,
                reason=reason,
                note="; ".join(sorted(messages))[:1024],
                action=DNS_ACTION,
                now=now,
            )
        except ReconcilerError as exc:
            log.warning(
                "event not recorded",
                extra={"resource": resource, "reason": reason, "error": str(exc)},
            )


def _run_stage(stage: Stage, state: ClusterState, now: datetime) -> StageOutcome:
    try:
        return stage(state, now)
    except KubernetesError as exc:
        log.warning(
            "stage failed", extra={"stage": getattr(stage, "__name__", "?"), "error": str(exc)}
        )
        return StageOutcome(stage=getattr(stage, "__name__", "stage"), errors=(str(exc),))


def _run_stages(
    state: ClusterState, stages: Sequence[Stage], now: datetime
) -> tuple[list[StageOutcome], ClusterState]:
    """Run the cluster-side stages; after one that wrote, read a refreshable state again."""
    outcomes: list[StageOutcome] = []
    current = state
    for stage in stages:
        outcome = _run_stage(stage, current, now)
        outcomes.append(outcome)
        if outcome.changes:
            # The next stage (and DNS) must see what this one wrote.
            try:
                current = _refreshed(current)
            except KubernetesError as exc:
                # Go on with the last read (what the next pass would redo): not converged.
                log.warning(
                    "cluster not read again", extra={"stage": outcome.stage, "error": str(exc)}
                )
                outcomes.append(
                    StageOutcome(stage="observe", errors=(f"after {outcome.stage}: {exc}",))
                )
    return outcomes, current


def _context(config: PassConfig, observed: Observed) -> DesireContext:
    return DesireContext.of(
        fleets=config.fleets,
        ingress_class_names=config.ingress_class_names,
        annotation_prefixes=config.annotation_prefixes,
        reserved_names=config.reserved_names,
        addresses={
            f.name: _address_strings(observed.addresses.get(f.name, ())) for f in config.fleets
        },
        tenancy=config.tenancy,
        public_excluded_nets=config.public_excluded_nets,
        namespaces=observed.namespaces,
        gateways=(
            GatewayIndex(
                observed.gateways,
                observed.listener_sets,
                namespace_labels={n: ns.labels for n, ns in observed.namespaces.items()},
                gateway_classes=() if config.fleets else config.gateway_class_names,
                annotation_prefixes=config.annotation_prefixes,
            )
            if config.gateway_routes
            else None
        ),
    )


def _log_desires(source: SourceResult, refusals: Sequence[Refusal]) -> None:
    for rejection in source.rejections:
        log.warning(
            "ingress data rejected",
            extra={
                "resource": rejection.resource,
                "host": rejection.host,
                "reason": rejection.reason,
            },
        )
    for refusal in refusals:
        log.debug(
            "host refused",
            extra={
                "resource": refusal.resource,
                "host": refusal.host,
                "reason": str(refusal.reason),
            },
        )


def _sorted_refusals(desires: Iterable[IngressDesire]) -> tuple[Refusal, ...]:
    found = {r for d in desires for r in d.refusals}
    return tuple(sorted(found, key=lambda r: (r.resource, r.host, r.reason)))


def reconcile(
    *,
    config: PassConfig,
    observed: Observed,
    targets: Sequence[Registry],
    now: datetime,
    state: ClusterState | None = None,
    stages: Sequence[Stage] = (),
    events: EventRecorder | None = None,
    dry_run: bool = False,
    index: DesiredIndex | None = None,
) -> PassReport:
    """One pass: the cluster-side ``stages`` (given ``state``), then DNS; see the module docstring.

    After a stage that wrote something a :class:`RefreshableState` is read again, and ``observed``
    is then replaced by what that new read shows.

    ``dry_run`` plans DNS without applying and records no Events; the stages run only when
    ``state`` is given (offline, ``plan --manifests`` skips them). ``index``, when given, is made
    to hold this pass's desires (the base of the incremental passes that follow).
    """
    outcomes: list[StageOutcome] = []
    if state is not None:
        outcomes, current = _run_stages(state, stages, now)
        if current is not state:
            observed = Observed.from_state(current, config.fleets)
    context = _context(config, observed)
    if index is None:
        published = published_ingresses(observed.ingresses, config.fleets, observed.addresses)
        desires = [desire_of(ingress, context) for ingress in published]
        desires += _route_desires(observed.routes, context)
        return _dns_pass(
            config,
            desires,
            targets=targets,
            now=now,
            outcomes=outcomes,
            ingresses=(*observed.ingresses, *observed.routes),
            events=events,
            dry_run=dry_run,
        )
    generations = _generations(targets)
    memo = (
        index.is_filled
        and not index.stale
        and index.context == context
        and generations is not None
        and generations == index.generations
    )
    fresh: dict[str, IngressDesire] = {}
    fresh_objects: dict[str, Mapping[str, Any]] = {}  # the Ingresses of those, in listed order
    desires = []
    for ingress in observed.ingresses:
        desire = index.reuse_object(ingress) if memo else None
        if desire is None:
            resource = resource_of(ingress)
            (shown,) = published_ingresses((ingress,), config.fleets, observed.addresses)
            desire = fresh[resource] = desire_of(shown, context)
            fresh_objects[resource] = ingress
            index.remember(resource, ingress)
        desires.append(desire)
    # a Route's desire depends on Gateways and ListenerSets too: read every pass (they are few)
    routed = _route_desires(observed.routes, context)
    desires += routed
    fresh |= {d.key: d for d in routed}
    if memo:
        # every name was planned against these zones and this context: only what changed since
        gone = index.resources() - {d.key for d in desires}
        changed: dict[str, IngressDesire | None] = {r: None for r in gone}
        changed |= {r: d for r, d in fresh.items() if d != index.get(r)}
        memo = few_enough(len(changed), len(index))
    if not memo:
        index.replace_all(desires)
        for ingress in observed.ingresses:
            index.remember(resource_of(ingress), ingress)
        index.context, index.generations = context, generations
        report = _dns_pass(
            config,
            desires,
            targets=targets,
            now=now,
            outcomes=outcomes,
            ingresses=(*observed.ingresses, *observed.routes),
            events=events,
            dry_run=dry_run,
        )
    else:
        changed_resources = {d.resource for d in changed.values() if d is not None}
        report = _dns_changes(
            config,
            changed,
            index=index,
            targets=targets,
            now=now,
            outcomes=outcomes,
            # only changed Ingresses have a fresh desire: no need to walk every one
            ingresses=[
                *(o for r, o in fresh_objects.items() if r in changed_resources),
                *(o for o in observed.routes if _resource(o) in changed_resources),
            ],
            events=events,
            dry_run=dry_run,
        )
    index.stale = not report.ok
    return report


def _route_desires(
    routes: Iterable[Mapping[str, Any]], context: DesireContext
) -> list[IngressDesire]:
    return [d for route in routes for d in route_desires(route, context)]


def _generations(targets: Sequence[Registry]) -> dict[str, int] | None:
    """Each registry's generation (its freshness check), or None when one cannot say."""
    try:
        return {t.name: t.generation() for t in targets}
    except Exception as exc:  # noqa: BLE001 - the DNS pass reports the provider's failure itself
        log.debug("provider generation unknown", extra={"error": str(exc)})
        return None


def _dns_pass(
    config: PassConfig,
    desires: Sequence[IngressDesire],
    *,
    targets: Sequence[Registry],
    now: datetime,
    outcomes: Sequence[StageOutcome],
    ingresses: Sequence[Mapping[str, Any]],
    events: EventRecorder | None,
    dry_run: bool,
) -> PassReport:
    """Plan (and apply) every name of every provider."""
    return _dns_stage(
        config,
        read=desires,
        planned=desires,
        names=None,
        targets=targets,
        now=now,
        outcomes=outcomes,
        ingresses=ingresses,
        events=events,
        dry_run=dry_run,
    )


def _dns_changes(
    config: PassConfig,
    changed: Mapping[str, IngressDesire | None],
    *,
    index: DesiredIndex,
    targets: Sequence[Registry],
    now: datetime,
    outcomes: Sequence[StageOutcome],
    ingresses: Sequence[Mapping[str, Any]],
    events: EventRecorder | None,
    dry_run: bool,
) -> PassReport:
    """Replace the changed desires in ``index``; plan (and apply) the names they touched only."""
    touched = index.update(changed)
    return _dns_stage(
        config,
        read=[d for d in changed.values() if d is not None],
        planned=index.claiming(touched),
        names=touched,
        targets=targets,
        now=now,
        outcomes=outcomes,
        ingresses=ingresses,
        events=events,
        dry_run=dry_run,
    )


def _dns_stage(
    config: PassConfig,
    *,
    read: Sequence[IngressDesire],
    planned: Sequence[IngressDesire],
    names: frozenset[str] | None,
    targets: Sequence[Registry],
    now: datetime,
    outcomes: Sequence[StageOutcome],
    ingresses: Sequence[Mapping[str, Any]],
    events: EventRecorder | None,
    dry_run: bool,
) -> PassReport:
    """The DNS stage: the desires ``read`` this pass are reported (source, refusals, Events), the
    ``planned`` ones written; with ``names``, only the rows at those names (none: no call)."""
    source = source_result(read)
    refusals = _sorted_refusals(read)
    _log_desires(source, refusals)
    desired, groups = endpoint_groups(planned, config.fleets, names)
    dns = (
        DnsPassResult()
        if names is not None and not names
        else sync_dns(
            desired=desired,
            groups=groups,
            targets=targets,
            owner_id=config.owner_id,
            policy=config.policy,
            managed_types=config.managed_types,
            domain_filter=config.domain_filter,
            dry_run=dry_run,
            names=names,
        )
    )
    report = PassReport(
        source=source,
        dns=dns,
        refusals=refusals,
        stages=tuple(outcomes),
        incremental=names is not None,
    )
    if events is not None and not dry_run:
        _record_events(
            events,
            report=report,
            ingresses=_by_resource(ingresses),
            groups=groups,
            desired=desired,
            now=now,
        )
    return report


def changed_ingresses(
    changes: Sequence[ObjectChange] | None, state: ClusterState, owner_id: str
) -> dict[str, Mapping[str, Any] | None] | None:
    """The Ingresses an incremental pass must read again, by resource (None: deleted), or None
    when only a full pass will do.

    An Ingress's own change names it; a Namespace's change names every Ingress in it (its labels
    choose its tenant); a Service that is not a fleet's (none of ours) changes nothing a pass
    reads. Anything else (a fleet Service's address, an IngressClass, a Gateway API object, a
    Namespace holding Routes or ListenerSets, a full pass asked for) may change every desire:
    None.
    """
    if changes is None:
        return None
    changed: dict[str, Mapping[str, Any] | None] = {}
    namespaces: set[str] = set()
    for change in changes:
        if change.kind == "Ingress":
            gone = change.type is ChangeType.DELETED
            changed[f"ingress/{change.namespace}/{change.name}"] = None if gone else change.obj
        elif change.kind == "Namespace":
            namespaces.add(change.name)
        elif change.kind != "Service" or is_owned(change.obj, owner_id):
            return None
    if namespaces:
        gateway_api = (*state.routes(), *state.listener_sets())
        if any(object_key(o)[0] in namespaces for o in gateway_api):
            return None  # a Route's tenant and allowedRoutes selectors: read them all again
        for ingress in state.ingresses():
            if namespace_of(ingress) in namespaces:
                changed.setdefault(resource_of(ingress), ingress)
    return changed


def reconcile_changes(
    *,
    config: PassConfig,
    changed: Mapping[str, Mapping[str, Any] | None],
    index: DesiredIndex,
    state: ClusterState,
    targets: Sequence[Registry],
    now: datetime,
    stages: Sequence[Stage] = (),
    events: EventRecorder | None = None,
    dry_run: bool = False,
) -> PassReport:
    """An incremental pass: only Ingresses changed since the last pass (``changed``: resource →
    the Ingress as now cached, None when deleted), on top of the desires ``index`` holds.

    The stages run as in :func:`reconcile`. The changed Ingresses are read as the full pass reads
    them (:func:`~reconciler.app.desired.desire_of`); the names their desires touched, before and
    after, are planned whole, with every endpoint any Ingress desires there, against the records
    at those names only. Valid only while nothing else a desire depends on changed (fleet
    addresses, Namespace labels, the settings): the caller runs :func:`reconcile` then.
    """
    outcomes, current = _run_stages(state, stages, now)
    observed = Observed.from_state(current, config.fleets)
    context = _context(config, observed)
    if context != index.context:
        # a Namespace's labels (or, ahead of its event, a fleet's address) changed: the desires
        # of Ingresses not read here may be of the old context, so the next full pass reads all
        index.stale = True
    present = [i for i in changed.values() if i is not None]
    desires: dict[str, IngressDesire | None] = {resource: None for resource in changed}
    for ingress in present:
        (shown,) = published_ingresses((ingress,), config.fleets, observed.addresses)
        desire = desire_of(shown, context)
        desires[desire.resource] = desire
        index.remember(desire.resource, ingress)
    report = _dns_changes(
        config,
        desires,
        index=index,
        targets=targets,
        now=now,
        outcomes=outcomes,
        ingresses=present,
        events=events,
        dry_run=dry_run,
    )
    if not report.ok:
        index.stale = True
    return report


def conflict_entries(report: PassReport) -> list[JsonObject]:
    """Tenancy refusals as conflict entries of ``plan --output json`` (see
    reconciler.app.output)."""
    return [
        {
            "name": r.host or None,
            "type": None,
            "reason": str(r.reason),
            "resource": r.resource,
            "message": r.message,
            "detail": r.message,
            "provider": None,
        }
        for r in report.refusals
    ]
