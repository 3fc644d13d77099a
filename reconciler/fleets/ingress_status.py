"""Ingress status: every Ingress of a fleet shows its fleet's load-balancer address.

The fleet controllers run with ``--update-status=false``; this stage is the one writer of
``status.loadBalancer.ingress`` for Ingresses whose class is a fleet's class. Rules
(``desired_status``, pure):

- the list is atomic: it is written whole, equal to the fleet Service's address (only the fields an
  Ingress status has: ``ip``, ``hostname``, ``ports``; a Service's ``ipMode`` is dropped);
- an Ingress already showing that list is not written;
- while the fleet's address is empty (load balancer being replaced, Service recreated), the last
  published address is kept: nothing is written;
- Ingresses of other classes, or without a class, are never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.fleets.spec import FleetSpec
from reconciler.model.cluster import ClusterState, ObjectRef, StatusWriter
from reconciler.model.errors import KubernetesError
from reconciler.model.ingress import ingress_class_of
from reconciler.model.k8s_json import IngressDict

__all__ = [
    "StatusError",
    "StatusReport",
    "desired_status",
    "ingress_address",
    "publish_ingress_status",
]

log = logging.getLogger(__name__)

_INGRESS_FIELDS = ("ip", "hostname", "ports")
"""The fields of an IngressLoadBalancerIngress (a Service's entry may also carry ``ipMode``)."""


def ingress_address(entries: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Load-balancer entries reduced to the fields an Ingress status holds (order kept)."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        kept = {k: entry[k] for k in _INGRESS_FIELDS if entry.get(k)}
        if "ports" in kept:
            kept["ports"] = [dict(p) for p in kept["ports"]]
        if kept.get("ip") or kept.get("hostname"):
            out.append(kept)
    return tuple(out)


def desired_status(
    ingress: IngressDict,
    *,
    fleet_by_class: Mapping[str, str],
    addresses: Mapping[str, Sequence[Mapping[str, Any]]],
) -> tuple[dict[str, Any], ...] | None:
    """The list to write into ``ingress``'s status, or None to leave it as it is.

    ``fleet_by_class`` maps IngressClass names to fleet names; ``addresses`` maps fleet names to
    their Service's ``status.loadBalancer.ingress``.
    """
    class_name = ingress_class_of(ingress)
    fleet = fleet_by_class.get(class_name) if class_name is not None else None
    if fleet is None:
        return None
    wanted = ingress_address(addresses.get(fleet, ()))
    if not wanted:
        return None  # keep the last published address while the fleet has none
    current = (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    if list(ingress_address(current)) == list(wanted) and len(current) == len(wanted):
        return None
    return wanted


@dataclass(frozen=True, slots=True)
class StatusError:
    """A status write that failed (the next pass tries again)."""

    ref: ObjectRef
    """The Ingress."""
    message: str
    """The API's error."""
    transient: bool
    """May a retry help."""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What one status pass did."""

    written: tuple[ObjectRef, ...] = ()
    """Ingresses whose status was written."""
    unchanged: int = 0
    """Fleet Ingresses already showing their fleet's address."""
    kept: tuple[ObjectRef, ...] = ()
    """Fleet Ingresses left as they are because their fleet has no address yet."""
    errors: tuple[StatusError, ...] = ()
    """Failed writes."""

    @property
    def ok(self) -> bool:
        """True when no write failed."""
        return not self.errors


def _ref(ingress: IngressDict) -> ObjectRef:
    meta = ingress.get("metadata") or {}
    return ObjectRef(
        "networking.k8s.io/v1",
        "Ingress",
        str(meta.get("name", "")),
        str(meta.get("namespace", "")),
        str(meta.get("uid", "")),
    )


def publish_ingress_status(
    *,
    specs: Sequence[FleetSpec],
    state: ClusterState,
    writer: StatusWriter,
    addresses: Mapping[str, Sequence[Mapping[str, Any]]],
) -> StatusReport:
    """Write each fleet Ingress's status when it differs from its fleet's address.

    ``addresses`` is keyed by fleet name (``fleets.fleet_service_address`` of each spec). A failed
    write is reported and the others go on.
    """
    fleet_by_class = {s.ingress_class_name: s.name for s in specs}
    written: list[ObjectRef] = []
    kept: list[ObjectRef] = []
    errors: list[StatusError] = []
    unchanged = 0
    for ingress in state.ingresses():
        class_name = ingress_class_of(ingress)
        fleet = fleet_by_class.get(class_name) if class_name is not None else None
        if fleet is None:
            continue
        wanted = desired_status(ingress, fleet_by_class=fleet_by_class, addresses=addresses)
        ref = _ref(ingress)
        if wanted is None:
            if ingress_address(addresses.get(fleet, ())):
                unchanged += 1
            else:
                kept.append(ref)
            continue
        try:
            writer.patch_ingress_status(ref.namespace, ref.name, wanted)
        except KubernetesError as exc:
            errors.append(StatusError(ref, str(exc), exc.transient))
            log.warning(
                "ingress status not written",
                extra={"namespace": ref.namespace, "object": ref.name, "error": str(exc)},
            )
            continue
        written.append(ref)
    report = StatusReport(
        written=tuple(written), unchanged=unchanged, kept=tuple(kept), errors=tuple(errors)
    )
    log.debug(
        "ingress status published",
        extra={
            "written": len(report.written),
            "unchanged": report.unchanged,
            "kept": len(report.kept),
            "errors": len(report.errors),
        },
    )
    return report
