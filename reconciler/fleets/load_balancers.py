"""Load balancers in ``elbv2`` mode: one network load balancer per fleet, provisioned by us.

In ``elbv2`` mode no cloud controller watches the fleet Services, so this stage does its job:

- for the fleet Service of every elbv2-mode fleet (a Service of type LoadBalancer that carries
  our labels and our owner, and ``spec.loadBalancerClass``
  :data:`~reconciler.fleets.spec.ELBV2_LOAD_BALANCER_CLASS`; a Service of another class is some
  other controller's and is refused with :data:`CLASS_MISMATCH_REFUSED`) it adds the finalizer
  :data:`~reconciler.fleets.spec.LOAD_BALANCER_FINALIZER`, asks the backend to ``ensure`` the
  fleet's NLB, and writes ``status.loadBalancer.ingress = [{hostname: <dns name>}]``
  into the Service (skipped when already equal);
- a fleet Service being deleted (``deletionTimestamp``) that still carries our finalizer has its
  NLB deleted first; the finalizer is removed once the backend reports the NLB gone, so the
  Service (and the fleet) disappears only after its load balancer;
- a Service of ours that carries the finalizer but whose fleet is no longer in elbv2 mode is
  released the same way (its NLB deleted, the finalizer removed);
- an NLB the backend reports as ours whose fleet is neither configured nor has a Service any more
  (a fleet removed while the reconciler was down) is deleted;
- a scheme change is never made in place: when the Service's scheme annotation or the existing NLB
  disagrees with the fleet's scheme, the stage refuses with a Warning Event and keeps publishing
  the existing NLB's address. Changing a fleet's visibility is an explicit operation (see
  docs/load-balancers.md): change the config, then delete the fleet Service.

The decisions are a pure function, :func:`decide_load_balancers` (specs, Services, owned NLBs ->
:class:`LbDecision`\\ s); :func:`converge_load_balancers` executes them through the injected
:class:`LoadBalancerBackend` (providers/elbv2.py) and :class:`ServiceStatusWriter`
(reconciler/kube/service_status.py)
and returns an :class:`LbReport`. A failure of one fleet is reported (Warning Event, report entry)
and never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from reconciler.fleets import spec as fleets
from reconciler.model.cluster import ClusterState, EventRecorder, EventType, ObjectRef
from reconciler.model.errors import KubernetesError, ProviderError
from reconciler.model.k8s_json import ServiceDict
from reconciler.model.load_balancer import (
    CLUSTER_TAG_KEY,
    FLEET_TAG_KEY,
    OWNER_TAG_KEY,
    LoadBalancerBackend,
    LoadBalancerPort,
    LoadBalancerSpec,
    LoadBalancerState,
    Scheme,
    scheme_for_visibility,
)

__all__ = [
    "CLASS_MISMATCH_REFUSED",
    "CLUSTER_TAG_KEY",
    "FLEET_TAG_KEY",
    "OWNER_TAG_KEY",
    "SCHEME_CHANGE_REFUSED",
    "LbAction",
    "LbDecision",
    "LbFailure",
    "LbRefusal",
    "LbReport",
    "LoadBalancerBackend",
    "LoadBalancerPort",
    "LoadBalancerSpec",
    "LoadBalancerState",
    "Scheme",
    "ServiceStatusWriter",
    "converge_load_balancers",
    "decide_load_balancers",
    "desired_service_status",
    "fleet_services",
    "scheme_for_visibility",
    "service_status",
]

log = logging.getLogger(__name__)


SCHEME_CHANGE_REFUSED = "SchemeChangeRefused"
"""Refusal reason: the fleet's scheme differs from its Service's or its NLB's."""
CLASS_MISMATCH_REFUSED = "LoadBalancerClassMismatch"
"""Refusal reason: the fleet is in elbv2 mode but its Service is not of our load-balancer class."""

_ACTION = "ReconcileLoadBalancer"


class ServiceStatusWriter(Protocol):
    """The Kubernetes writes this stage makes (reconciler.kube.service_status.KubeServiceStatus)."""

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> Any:
        """Set ``status.loadBalancer.ingress`` of a Service to exactly ``load_balancer``."""
        ...

    def add_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Add ``finalizer`` to the Service's ``metadata.finalizers`` (no-op when present)."""
        ...

    def remove_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Remove ``finalizer`` from the Service (no-op when absent or the Service is gone)."""
        ...


class LbAction(StrEnum):
    """What :func:`converge_load_balancers` does for one fleet."""

    ENSURE = "ensure"
    """Finalizer on, NLB ensured, address published."""
    REFUSE = "refuse"
    """A scheme change: Warning Event, the existing NLB kept (its address still published)."""
    RELEASE = "release"
    """The Service is going (or no longer elbv2): delete the NLB, then drop the finalizer."""
    DELETE_ORPHAN = "delete-orphan"
    """An NLB of ours whose fleet and Service are gone: delete it."""
    WAIT = "wait"
    """A configured fleet whose Service does not exist (yet): nothing to do this pass."""


@dataclass(frozen=True, slots=True)
class LbDecision:
    """One fleet's decision (data only; :func:`converge_load_balancers` executes it)."""

    fleet: str
    """The fleet."""
    action: LbAction
    """What to do."""
    spec: LoadBalancerSpec
    """The spec passed to the backend (for orphans and releases: rebuilt from tags/labels)."""
    service: ObjectRef | None = None
    """The fleet Service (None for orphans and waits)."""
    needs_finalizer: bool = False
    """ENSURE/REFUSE: our finalizer is missing from the Service."""
    existing: LoadBalancerState | None = None
    """The NLB of ours for this fleet found before the pass, if any."""
    published: tuple[Mapping[str, Any], ...] = ()
    """The Service's current ``status.loadBalancer.ingress``."""
    reason: str = ""
    """REFUSE: the refusal's reason (the Warning Event's reason)."""
    note: str = ""
    """REFUSE: why."""
    stale: tuple[ObjectRef, ...] = ()
    """ENSURE/REFUSE: other Services of the fleet being deleted with our finalizer (e.g. a
    renamed Service): the NLB stays for the live one, so their finalizer is simply removed."""


@dataclass(frozen=True, slots=True)
class LbRefusal:
    """A change the stage refused."""

    fleet: str
    """The fleet."""
    reason: str
    """Machine-readable reason (the Event's reason)."""
    note: str
    """What was refused and how to proceed."""


@dataclass(frozen=True, slots=True)
class LbFailure:
    """A fleet whose reconciliation failed this pass (retried next pass)."""

    fleet: str
    """The fleet."""
    error: str
    """The error's message."""
    transient: bool
    """Whether a retry may help."""


@dataclass(frozen=True, slots=True)
class LbReport:
    """What one pass of the load-balancer stage did."""

    ensured: tuple[str, ...] = ()
    """Fleets whose NLB was ensured."""
    created: tuple[str, ...] = ()
    """Fleets whose NLB did not exist before this pass."""
    status_written: tuple[str, ...] = ()
    """Fleets whose Service status was written."""
    finalizers_added: tuple[str, ...] = ()
    """Fleets whose Service got our finalizer."""
    deleted: tuple[str, ...] = ()
    """Fleets whose NLB was deleted (released Services and orphans)."""
    pending: tuple[str, ...] = ()
    """Fleets whose NLB deletion is still in progress (finalizer kept)."""
    waiting: tuple[str, ...] = ()
    """Configured fleets without a Service yet."""
    refused: tuple[LbRefusal, ...] = ()
    """Refused changes."""
    failed: tuple[LbFailure, ...] = ()
    """Failures."""

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


# --- pure helpers --------------------------------------------------------------------------


def _labels(service: Mapping[str, Any]) -> Mapping[str, str]:
    return (service.get("metadata") or {}).get("labels") or {}


def fleet_services(
    services: Sequence[ServiceDict], owner_id: str
) -> dict[str, tuple[ServiceDict, ...]]:
    """Our Services of type LoadBalancer, by fleet (each fleet's sorted by namespace/name)."""
    found: dict[str, list[ServiceDict]] = {}
    for service in services:
        if (service.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        if not fleets.is_owned(service, owner_id):
            continue
        found.setdefault(_labels(service)[fleets.LABEL_FLEET], []).append(service)
    return {
        fleet: tuple(sorted(items, key=lambda s: _ref_key(ObjectRef.of(_with_kind(s)))))
        for fleet, items in found.items()
    }


def _ref_key(ref: ObjectRef) -> tuple[str, str]:
    return ref.namespace, ref.name


def _with_kind(service: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", **service}


def service_status(service: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    """A Service's ``status.loadBalancer.ingress`` (empty when unset)."""
    status = service.get("status") or {}
    return tuple((status.get("loadBalancer") or {}).get("ingress") or ())


def desired_service_status(lb: LoadBalancerState) -> tuple[dict[str, str], ...]:
    """The Service status that publishes ``lb``: ``[{hostname: <dns name>}]``."""
    return ({"hostname": lb.dns_name},) if lb.dns_name else ()


def _finalizers(service: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple((service.get("metadata") or {}).get("finalizers") or ())


def _is_deleting(service: Mapping[str, Any]) -> bool:
    return bool((service.get("metadata") or {}).get("deletionTimestamp"))


def _release_spec(
    fleet: str,
    *,
    cluster_name: str,
    owner_id: str,
    configured: LoadBalancerSpec | None,
    existing: LoadBalancerState | None,
) -> LoadBalancerSpec:
    if configured is not None:
        return configured
    scheme = Scheme.INTERNAL
    if existing is not None and existing.scheme == Scheme.INTERNET_FACING:
        scheme = Scheme.INTERNET_FACING
    return LoadBalancerSpec(
        fleet=fleet,
        cluster_name=cluster_name,
        scheme=scheme,
        ports=(),
        target_type="",
        owner_id=owner_id,
    )


def _scheme_conflict(
    spec: LoadBalancerSpec, service: Mapping[str, Any], existing: LoadBalancerState | None
) -> str:
    annotations = (service.get("metadata") or {}).get("annotations") or {}
    annotated = annotations.get(fleets.SCHEME_ANNOTATION)
    if annotated is not None and annotated != spec.scheme:
        return (
            f"the Service is annotated {fleets.SCHEME_ANNOTATION}={annotated} but fleet "
            f"{spec.fleet} wants {spec.scheme}; a scheme is never changed in place: delete the "
            "Service to replace the load balancer"
        )
    if existing is not None and existing.scheme != spec.scheme:
        return (
            f"load balancer {existing.name} is {existing.scheme} but fleet {spec.fleet} wants "
            f"{spec.scheme}; a scheme change replaces the load balancer (new DNS name): delete "
            "the Service to replace it"
        )
    return ""


def decide_load_balancers(
    *,
    specs: Sequence[LoadBalancerSpec],
    services: Sequence[ServiceDict],
    owned: Sequence[LoadBalancerState],
    owner_id: str,
    cluster_name: str,
) -> tuple[LbDecision, ...]:
    """Pure: one decision per fleet that has a spec, a Service of ours, or an NLB of ours.

    Sorted by fleet; independent of the order of its inputs; never mutates them.
    """
    by_spec = {spec.fleet: spec for spec in specs}
    by_service = fleet_services(services, owner_id)
    by_lb: dict[str, LoadBalancerState] = {}
    for lb in sorted(owned, key=lambda s: s.name):
        if lb.fleet:
            by_lb.setdefault(lb.fleet, lb)
    decisions: list[LbDecision] = []
    for fleet in sorted(set(by_spec) | set(by_service) | set(by_lb)):
        spec = by_spec.get(fleet)
        existing = by_lb.get(fleet)
        fleet_svcs = by_service.get(fleet, ())
        holding = [s for s in fleet_svcs if fleets.LOAD_BALANCER_FINALIZER in _finalizers(s)]
        live = [s for s in fleet_svcs if not _is_deleting(s)]
        release_spec = _release_spec(
            fleet,
            cluster_name=cluster_name,
            owner_id=owner_id,
            configured=spec,
            existing=existing,
        )
        if spec is not None and live:
            service = live[0]
            ref = ObjectRef.of(_with_kind(service))
            stale = tuple(ObjectRef.of(_with_kind(s)) for s in holding if _is_deleting(s))
            lb_class = (service.get("spec") or {}).get("loadBalancerClass")
            if lb_class != fleets.ELBV2_LOAD_BALANCER_CLASS:
                # another controller serves this Service: neither an NLB nor status from us
                decisions.append(
                    LbDecision(
                        fleet=fleet,
                        action=LbAction.REFUSE,
                        spec=spec,
                        service=ref,
                        existing=existing,
                        reason=CLASS_MISMATCH_REFUSED,
                        note=(
                            f"fleet {fleet} is in elbv2 mode but its Service has "
                            f"loadBalancerClass {lb_class!r}, not "
                            f"{fleets.ELBV2_LOAD_BALANCER_CLASS!r}; "
                            "the class is immutable: delete the Service to switch modes"
                        ),
                        stale=stale,
                    )
                )
                continue
            conflict = _scheme_conflict(spec, service, existing)
            decisions.append(
                LbDecision(
                    fleet=fleet,
                    action=LbAction.REFUSE if conflict else LbAction.ENSURE,
                    spec=spec,
                    service=ref,
                    needs_finalizer=fleets.LOAD_BALANCER_FINALIZER not in _finalizers(service)
                    and (not conflict or existing is not None),
                    existing=existing,
                    published=service_status(service),
                    reason=SCHEME_CHANGE_REFUSED if conflict else "",
                    note=conflict,
                    stale=stale,
                )
            )
        elif holding:
            # being deleted, or no longer an elbv2 fleet: the NLB goes first, then the finalizer
            decisions.append(
                LbDecision(
                    fleet=fleet,
                    action=LbAction.RELEASE,
                    spec=release_spec,
                    service=ObjectRef.of(_with_kind(holding[0])),
                    existing=existing,
                )
            )
        elif spec is not None:
            decisions.append(
                LbDecision(fleet=fleet, action=LbAction.WAIT, spec=spec, existing=existing)
            )
        elif existing is not None and not fleet_svcs:
            decisions.append(
                LbDecision(
                    fleet=fleet,
                    action=LbAction.DELETE_ORPHAN,
                    spec=release_spec,
                    existing=existing,
                )
            )
        # else: a Service of ours without our finalizer and no elbv2 spec (service-annotations
        # mode, or an NLB kept for a Service that still exists): not this stage's business
    return tuple(decisions)


# --- I/O -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """Mutable accumulator of one pass (private)."""

    ensured: list[str]
    created: list[str]
    status_written: list[str]
    finalizers_added: list[str]
    deleted: list[str]
    pending: list[str]
    waiting: list[str]
    refused: list[LbRefusal]
    failed: list[LbFailure]

    def report(self) -> LbReport:
        return LbReport(
            ensured=tuple(self.ensured),
            created=tuple(self.created),
            status_written=tuple(self.status_written),
            finalizers_added=tuple(self.finalizers_added),
            deleted=tuple(self.deleted),
            pending=tuple(self.pending),
            waiting=tuple(self.waiting),
            refused=tuple(self.refused),
            failed=tuple(self.failed),
        )


def _publish(
    decision: LbDecision, lb: LoadBalancerState, kube: ServiceStatusWriter, tally: _Tally
) -> None:
    desired = desired_service_status(lb)
    if not desired or decision.service is None:
        return
    if [dict(i) for i in decision.published] == [dict(i) for i in desired]:
        return
    ref = decision.service
    kube.patch_service_status(ref.namespace, ref.name, desired)
    tally.status_written.append(decision.fleet)
    log.info(
        "load balancer address published",
        extra={
            "fleet": decision.fleet,
            "namespace": ref.namespace,
            "service": ref.name,
            "hostname": lb.dns_name,
        },
    )


def _ensure(
    decision: LbDecision,
    *,
    backend: LoadBalancerBackend,
    kube: ServiceStatusWriter,
    events: EventRecorder,
    now: datetime,
    tally: _Tally,
) -> None:
    lb = backend.ensure(decision.spec)
    tally.ensured.append(decision.fleet)
    if decision.existing is None and decision.service is not None:
        tally.created.append(decision.fleet)
        events.record(
            decision.service,
            type=EventType.NORMAL,
            reason="LoadBalancerCreated",
            note=f"{lb.scheme} network load balancer {lb.name}: {lb.dns_name}",
            action=_ACTION,
            now=now,
        )
    _publish(decision, lb, kube, tally)


def _refuse(
    decision: LbDecision,
    *,
    kube: ServiceStatusWriter,
    events: EventRecorder,
    now: datetime,
    tally: _Tally,
) -> None:
    tally.refused.append(LbRefusal(decision.fleet, decision.reason, decision.note))
    if decision.service is not None:
        events.record(
            decision.service,
            type=EventType.WARNING,
            reason=decision.reason,
            note=decision.note,
            action=_ACTION,
            now=now,
        )
    log.warning(
        "load balancer change refused",
        extra={"fleet": decision.fleet, "reason": decision.reason, "detail": decision.note},
    )
    if decision.existing is not None and decision.reason == SCHEME_CHANGE_REFUSED:
        # the existing NLB still serves the fleet: keep its address published
        _publish(decision, decision.existing, kube, tally)


def _release(
    decision: LbDecision,
    *,
    backend: LoadBalancerBackend,
    kube: ServiceStatusWriter,
    events: EventRecorder,
    now: datetime,
    tally: _Tally,
) -> None:
    if not backend.delete(decision.spec):
        tally.pending.append(decision.fleet)
        return
    ref = decision.service
    if decision.existing is not None:
        tally.deleted.append(decision.fleet)
        log.info(
            "load balancer deleted",
            extra={"fleet": decision.fleet, "load_balancer": decision.existing.name},
        )
        if ref is not None:
            events.record(
                ref,
                type=EventType.NORMAL,
                reason="LoadBalancerDeleted",
                note=f"network load balancer {decision.existing.name} deleted",
                action=_ACTION,
                now=now,
            )
    if ref is not None:
        kube.remove_finalizer(ref.namespace, ref.name, fleets.LOAD_BALANCER_FINALIZER)


def _execute(
    decision: LbDecision,
    *,
    backend: LoadBalancerBackend,
    kube: ServiceStatusWriter,
    events: EventRecorder,
    now: datetime,
    tally: _Tally,
) -> None:
    ref = decision.service
    if decision.needs_finalizer and ref is not None:
        kube.add_finalizer(ref.namespace, ref.name, fleets.LOAD_BALANCER_FINALIZER)
        tally.finalizers_added.append(decision.fleet)
    for stale in decision.stale:
        kube.remove_finalizer(stale.namespace, stale.name, fleets.LOAD_BALANCER_FINALIZER)
    if decision.action is LbAction.ENSURE:
        _ensure(decision, backend=backend, kube=kube, events=events, now=now, tally=tally)
    elif decision.action is LbAction.REFUSE:
        _refuse(decision, kube=kube, events=events, now=now, tally=tally)
    elif decision.action in (LbAction.RELEASE, LbAction.DELETE_ORPHAN):
        _release(decision, backend=backend, kube=kube, events=events, now=now, tally=tally)
    else:
        tally.waiting.append(decision.fleet)


def converge_load_balancers(
    *,
    specs: Sequence[LoadBalancerSpec],
    owner_id: str,
    cluster_name: str,
    state: ClusterState,
    backend: LoadBalancerBackend,
    kube: ServiceStatusWriter,
    events: EventRecorder,
    now: datetime,
) -> LbReport:
    """One pass of the load-balancer stage for the elbv2-mode fleets ``specs``.

    Reads Services from ``state`` and owned NLBs from ``backend``; see the module docstring.
    When the backend cannot list its NLBs the pass stops there (a failure per spec), so nothing
    is created or deleted on a partial view.
    """
    tally = _Tally([], [], [], [], [], [], [], [], [])
    try:
        owned = tuple(backend.owned(cluster_name, owner_id))
    except ProviderError as exc:
        log.warning("load balancers unavailable", extra={"error": str(exc)})
        for spec in sorted(specs, key=lambda s: s.fleet):
            tally.failed.append(LbFailure(spec.fleet, str(exc), exc.transient))
        return tally.report()
    decisions = decide_load_balancers(
        specs=specs,
        services=state.services(),
        owned=owned,
        owner_id=owner_id,
        cluster_name=cluster_name,
    )
    for decision in decisions:
        try:
            _execute(decision, backend=backend, kube=kube, events=events, now=now, tally=tally)
        except (ProviderError, KubernetesError) as exc:
            tally.failed.append(LbFailure(decision.fleet, str(exc), exc.transient))
            log.warning(
                "load balancer reconcile failed",
                extra={"fleet": decision.fleet, "action": str(decision.action), "error": str(exc)},
            )
            if decision.service is not None:
                events.record(
                    decision.service,
                    type=EventType.WARNING,
                    reason="LoadBalancerFailed",
                    note=str(exc),
                    action=_ACTION,
                    now=now,
                )
    report = tally.report()
    log.info(
        "load balancers reconciled",
        extra={
            "ensured": len(report.ensured),
            "lbs_created": len(report.created),
            "status_written": len(report.status_written),
            "deleted": len(report.deleted),
            "pending": len(report.pending),
            "refused": len(report.refused),
            "failed": len(report.failed),
        },
    )
    return report
