"""Converging fleets, and what Kubernetes does not report about IngressClasses.

``converge_fleets`` applies every fleet's desired objects each pass (server-side apply, field
manager ``ingress-reconciler``: a hand-edited field is set back, an unchanged object is left as
is), deletes the owned objects of fleets no longer configured, and refuses what must not be done
in place:

- an IngressClass whose immutable ``spec.controller`` differs (never deleted under its Ingresses);
- a fleet Service whose ``aws-load-balancer-scheme`` annotation would flip (the AWS Load Balancer
  Controller would replace the load balancer and its DNS name), or whose load-balancer mode would
  change (``spec.loadBalancerClass`` is immutable);
- any object of the same name without our labels and owner.

``find_class_problems`` reports several IngressClasses marked default, Ingresses without a class
while a default exists, and classes no fleet serves. Refusals and findings become Events on the
object concerned and entries of the ``FleetReport``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconciler.fleets.objects import desired_fleet_objects
from reconciler.fleets.profiles import profile_named
from reconciler.fleets.spec import (
    DEFAULT_CLASS_ANNOTATION,
    ELBV2_LOAD_BALANCER_CLASS,
    SCHEME_ANNOTATION,
    FleetSpec,
    Reason,
    is_owned,
)
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
    EventType,
    JsonObject,
    ObjectRef,
)
from reconciler.model.errors import KubernetesError
from reconciler.model.ingress import (
    SSL_PASSTHROUGH_ANNOTATION,
    asks_ssl_passthrough,
    ingress_class_of,
)
from reconciler.model.k8s_json import IngressClassDict, IngressDict

# --- converge ----------------------------------------------------------------------------------

__all__ = [
    "DELETE_ORDER",
    "Finding",
    "FleetError",
    "FleetObjectWriter",
    "FleetReport",
    "Refusal",
    "converge_fleets",
    "find_class_problems",
]

log = logging.getLogger(__name__)


class FleetObjectWriter(Protocol):
    """What the fleet stage needs to write (``reconciler.kube.fleet_objects.KubeFleetObjects``)."""

    def apply(self, obj: Mapping[str, Any]) -> JsonObject:
        """Server-side apply ``obj`` with our field manager (forced); return the result."""
        ...

    def list_owned(self, owner_id: str) -> Sequence[JsonObject]:
        """Every object of the fleet kinds labelled as ours with ``owner_id``."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Delete one object; no error when it is already gone."""
        ...

    def get(self, ref: ObjectRef) -> JsonObject | None:
        """One object, or None when there is none (asked only before creating an object of a
        kind the caches do not serve, so a same-named object of someone else's is never taken
        over)."""
        ...


@dataclass(frozen=True, slots=True)
class Refusal:
    """An object the stage would not write, and why."""

    ref: ObjectRef
    """The object concerned (the existing one)."""
    fleet: str
    """The fleet whose intent was refused."""
    reason: Reason
    """Event reason."""
    message: str
    """What is wrong and how to resolve it."""


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem the cluster has that Kubernetes does not report."""

    ref: ObjectRef
    """The object concerned."""
    reason: Reason
    """Event reason."""
    message: str
    """What is wrong."""


@dataclass(frozen=True, slots=True)
class FleetError:
    """A write that failed (the next pass tries again)."""

    ref: ObjectRef
    """The object concerned."""
    message: str
    """The API's error."""
    transient: bool
    """May a retry help."""


@dataclass(frozen=True, slots=True)
class FleetReport:
    """What one fleet pass did, refused and found."""

    applied: tuple[ObjectRef, ...] = ()
    """Every object applied (changed or not)."""
    changed: tuple[ObjectRef, ...] = ()
    """Objects created or modified by the apply (their resourceVersion moved)."""
    deleted: tuple[ObjectRef, ...] = ()
    """Owned objects of fleets no longer configured, deleted this pass."""
    pending: tuple[ObjectRef, ...] = ()
    """Objects waiting: terminating, or a Namespace that still holds owned objects."""
    refused: tuple[Refusal, ...] = ()
    """Intents refused (with a Warning Event)."""
    findings: tuple[Finding, ...] = ()
    """Cluster problems reported (with a Warning Event)."""
    errors: tuple[FleetError, ...] = ()
    """Failed writes."""
    synced: bool = True
    """False when the pass did nothing because the caches had not synced yet."""

    @property
    def ok(self) -> bool:
        """True when the pass ran and no write failed."""
        return self.synced and not self.errors


_Key = tuple[str, str, str]

DELETE_ORDER = (
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Deployment",
    "DaemonSet",
    "ConfigMap",
    "RoleBinding",
    "Role",
    "ClusterRoleBinding",
    "ClusterRole",
    "ServiceAccount",
    "Gateway",
    "GatewayClass",
    "IngressClass",
    "Namespace",
)
"""The Service goes first (its load-balancer finalizer runs), the Namespace last."""


def _delete_rank(obj: Mapping[str, Any]) -> tuple[int, str, str, str]:
    kind = str(obj.get("kind", ""))
    rank = DELETE_ORDER.index(kind) if kind in DELETE_ORDER else len(DELETE_ORDER)
    return (rank, *_key(obj))


def _key(obj: Mapping[str, Any]) -> _Key:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", ""))


def _ref(obj: Mapping[str, Any], api_version: str, kind: str) -> ObjectRef:
    ref = ObjectRef.of(obj)
    if ref.api_version and ref.kind:
        return ref
    return ObjectRef(api_version, kind, ref.name, ref.namespace, ref.uid, ref.resource_version)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


# a class's controller field is immutable: (field, reason, the fleet key that renames the class)
_CLASS_CONTROLLER = {
    "IngressClass": ("controller", Reason.INGRESS_CLASS_CONTROLLER_CONFLICT, "ingressClassName"),
    "GatewayClass": (
        "controllerName",
        Reason.GATEWAY_CLASS_CONTROLLER_CONFLICT,
        "gateway.gatewayClassName",
    ),
}


def _class_refusal(
    desired: Mapping[str, Any], existing: Mapping[str, Any], ref: ObjectRef, fleet: str
) -> Refusal | None:
    """An IngressClass or GatewayClass whose controller is not the fleet's is never taken."""
    if ref.kind not in _CLASS_CONTROLLER:
        return None
    key, reason, setting = _CLASS_CONTROLLER[ref.kind]
    have = (existing.get("spec") or {}).get(key)
    want = desired["spec"][key]
    if have == want:
        return None
    user = "Ingress" if ref.kind == "IngressClass" else "Gateway"
    return Refusal(
        ref,
        fleet,
        reason,
        f"{ref.kind} {ref.name} has {key} {have!r}; fleet {fleet} needs {want!r}. "
        f"spec.{key} is immutable: rename the fleet's {setting}, or delete "
        f"the class yourself once no {user} uses it",
    )


def _refusal(
    desired: Mapping[str, Any], existing: Mapping[str, Any], fleet: str, owner_id: str
) -> Refusal | None:
    """Why ``desired`` must not be applied over ``existing``; None when it may be."""
    kind = str(desired["kind"])
    ref = _ref(existing, str(desired["apiVersion"]), kind)
    refusal = _class_refusal(desired, existing, ref, fleet)
    if refusal is not None:
        return refusal
    if not is_owned(existing, owner_id):
        return Refusal(
            ref,
            fleet,
            Reason.OBJECT_NOT_OWNED,
            f"{kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name} exists without "
            f"the labels of owner {owner_id!r}; it is left alone: rename the fleet or remove it",
        )
    if kind == "Gateway":
        return _gateway_scheme_refusal(desired, existing, ref, fleet)
    if kind == "Service":
        have_scheme = ((existing.get("metadata") or {}).get("annotations") or {}).get(
            SCHEME_ANNOTATION
        )
        want_scheme = desired["metadata"]["annotations"][SCHEME_ANNOTATION]
        if have_scheme is not None and have_scheme != want_scheme:
            return Refusal(
                ref,
                fleet,
                Reason.SCHEME_CHANGE_REFUSED,
                f"fleet {fleet} wants scheme {want_scheme} but its Service has {have_scheme}: "
                "changing it in place replaces the load balancer and its DNS name. "
                "To change visibility, delete the fleet Service (see docs/fleets.md)",
            )
        have_class = (existing.get("spec") or {}).get("loadBalancerClass")
        want_class = desired["spec"].get("loadBalancerClass")
        # in service-annotations mode the field is not ours: the AWS Load Balancer Controller's
        # webhook may set its own class (service.k8s.aws/nlb); only leaving elbv2 is a change
        if (want_class == ELBV2_LOAD_BALANCER_CLASS) != (have_class == ELBV2_LOAD_BALANCER_CLASS):
            return Refusal(
                ref,
                fleet,
                Reason.LOAD_BALANCER_MODE_CHANGE_REFUSED,
                f"fleet {fleet} wants loadBalancerClass {want_class!r} but its Service has "
                f"{have_class!r} (immutable): delete the fleet Service to change the mode",
            )
    return None


def _gateway_scheme_refusal(
    desired: Mapping[str, Any], existing: Mapping[str, Any], ref: ObjectRef, fleet: str
) -> Refusal | None:
    """A fleet Gateway's scheme never flips in place (its load balancer would be replaced)."""
    infrastructure = (existing.get("spec") or {}).get("infrastructure") or {}
    have = (infrastructure.get("annotations") or {}).get(SCHEME_ANNOTATION)
    want = desired["spec"]["infrastructure"]["annotations"][SCHEME_ANNOTATION]
    if have is None or have == want:
        return None
    return Refusal(
        ref,
        fleet,
        Reason.SCHEME_CHANGE_REFUSED,
        f"fleet {fleet} wants scheme {want} but its Gateway has {have}: changing it in place "
        "replaces the load balancer and its DNS name. To change visibility, delete the fleet "
        "Gateway and Service (see docs/fleets.md)",
    )


def _is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _rv(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


@dataclass(slots=True)
class _Tally:
    """What a pass did so far (private, mutable while the pass runs)."""

    applied: list[ObjectRef] = field(default_factory=list)
    changed: list[ObjectRef] = field(default_factory=list)
    deleted: list[ObjectRef] = field(default_factory=list)
    pending: list[ObjectRef] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    errors: list[FleetError] = field(default_factory=list)

    def failed(self, ref: ObjectRef, exc: KubernetesError, message: str) -> None:
        self.errors.append(FleetError(ref, str(exc), exc.transient))
        log.warning(
            message,
            extra={
                "kind": ref.kind,
                "namespace": ref.namespace,
                "object": ref.name,
                "error": str(exc),
            },
        )


_CACHED_KINDS = frozenset({"IngressClass", "Service", "Namespace"})
"""Kinds whose every object (ours or not) the ClusterState serves."""


def _observed(state: ClusterState, owned: Mapping[_Key, JsonObject]) -> dict[_Key, JsonObject]:
    """Existing objects by key: the cache's kinds (foreign objects included), then ours."""
    observed: dict[_Key, JsonObject] = {}
    cached: tuple[tuple[str, Sequence[Mapping[str, Any]]], ...] = (
        ("IngressClass", state.ingress_classes()),
        ("Service", state.services()),
        ("Namespace", state.namespaces()),
    )
    for kind, items in cached:
        for item in items:
            _, namespace, name = _key(item)
            observed[(kind, namespace, name)] = dict(item)
    observed.update(owned)
    return observed


def _desired(specs: Sequence[FleetSpec], owner_id: str) -> dict[_Key, tuple[str, JsonObject]]:
    """Every fleet's intent by key; a namespace shared by fleets goes to the first by name."""
    desired: dict[_Key, tuple[str, JsonObject]] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        for intent in desired_fleet_objects(spec, owner_id=owner_id):
            desired.setdefault(_key(intent), (spec.name, intent))
    return desired


def _apply_desired(
    desired: Mapping[_Key, tuple[str, JsonObject]],
    *,
    observed: Mapping[_Key, JsonObject],
    owned: Mapping[_Key, JsonObject],
    owner_id: str,
    kube: FleetObjectWriter,
    events: EventRecorder,
    now: datetime,
    tally: _Tally,
) -> None:
    for key, (fleet, intent) in desired.items():
        ref = ObjectRef.of(intent)
        existing = observed.get(key)
        if existing is None and key[0] not in _CACHED_KINDS:
            try:
                existing = kube.get(ref)
            except KubernetesError as exc:
                tally.failed(ref, exc, "fleet object not read")
                continue
        if existing is not None:
            if key[0] == "Namespace" and not is_owned(existing, owner_id):
                continue  # a namespace someone else made: used as it is, never labelled or deleted
            if _is_terminating(existing):
                tally.pending.append(ref)
                continue
            refusal = _refusal(intent, existing, fleet, owner_id)
            if refusal is not None:
                tally.refused.append(refusal)
                events.record(
                    refusal.ref,
                    type=EventType.WARNING,
                    reason=str(refusal.reason),
                    note=refusal.message,
                    action="Apply",
                    now=now,
                )
                continue
        try:
            result = kube.apply(intent)
        except KubernetesError as exc:
            tally.failed(ref, exc, "fleet object not applied")
            continue
        tally.applied.append(ref)
        if _rv(result) != _rv(owned.get(key)):
            tally.changed.append(ref)


def _delete_stale(
    stale: Sequence[JsonObject],
    *,
    owned: Mapping[_Key, JsonObject],
    kube: FleetObjectWriter,
    tally: _Tally,
) -> None:
    for obj in sorted(stale, key=_delete_rank):
        ref = _ref(obj, str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if _is_terminating(obj):
            tally.pending.append(ref)
            continue
        if ref.kind == "Namespace" and any(k[1] == ref.name and k[0] != "Namespace" for k in owned):
            tally.pending.append(ref)  # deleted on a later pass, once nothing of ours is left in it
            continue
        try:
            kube.delete(ref)
        except KubernetesError as exc:
            tally.failed(ref, exc, "fleet object not deleted")
            continue
        tally.deleted.append(ref)


def converge_fleets(
    *,
    specs: Sequence[FleetSpec],
    owner_id: str,
    state: ClusterState,
    kube: FleetObjectWriter,
    events: EventRecorder,
    now: datetime,
) -> FleetReport:
    """Apply every fleet's objects, delete those of removed fleets, report refusals and findings.

    Nothing is done before ``state`` has synced (``FleetReport.synced`` is then False).

    KubernetesError from ``list_owned`` propagates (nothing is deleted without knowing what is
    ours); a failed apply or delete of one object is reported and the others go on.
    """
    if not state.has_synced():
        # the refusals read the caches: an unsynced cache could hide a foreign object
        log.info("fleets skipped: caches not synced")
        return FleetReport(synced=False)
    owned = {_key(o): o for o in kube.list_owned(owner_id) if is_owned(o, owner_id)}
    desired = _desired(specs, owner_id)
    tally = _Tally()
    _apply_desired(
        desired,
        observed=_observed(state, owned),
        owned=owned,
        owner_id=owner_id,
        kube=kube,
        events=events,
        now=now,
        tally=tally,
    )
    stale = [o for k, o in owned.items() if k not in desired]
    _delete_stale(stale, owned=owned, kube=kube, tally=tally)

    removed_classes = {r.name for r in tally.deleted if r.kind == "IngressClass"}
    findings = find_class_problems(
        specs,
        ingress_classes=[
            c
            for c in state.ingress_classes()
            if (c.get("metadata") or {}).get("name") not in removed_classes
        ],
        ingresses=state.ingresses(),
    )
    for finding in findings:
        events.record(
            finding.ref,
            type=EventType.WARNING,
            reason=str(finding.reason),
            note=finding.message,
            action="Check",
            now=now,
        )
    report = FleetReport(
        applied=tuple(tally.applied),
        changed=tuple(tally.changed),
        deleted=tuple(tally.deleted),
        pending=tuple(tally.pending),
        refused=tuple(tally.refused),
        findings=findings,
        errors=tuple(tally.errors),
    )
    log.debug(
        "fleets converged",
        extra={
            "applied": len(report.applied),
            "changed": len(report.changed),
            "deleted": len(report.deleted),
            "pending": len(report.pending),
            "refused": len(report.refused),
            "findings": len(report.findings),
            "errors": len(report.errors),
        },
    )
    return report


# --- findings ----------------------------------------------------------------------------------


def _is_default_class(cls: IngressClassDict) -> bool:
    annotations = (cls.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"


def find_class_problems(
    specs: Sequence[FleetSpec],
    *,
    ingress_classes: Sequence[IngressClassDict],
    ingresses: Sequence[IngressDict],
) -> tuple[Finding, ...]:
    """What is wrong with classes that Kubernetes does not report (pure; sorted).

    - several IngressClasses marked default: the apiserver's admission picks the newest silently;
    - Ingresses without a class while a default class exists: admission sets the class only when
      an Ingress is created, and fleet controllers ignore Ingresses without one;
    - an IngressClass of ours (controller ``ingress-reconciler.io/...``) that no fleet serves;
    - an Ingress naming a class that neither exists nor belongs to a fleet;
    - an Ingress asking for SSL passthrough on a fleet that does not enable it (the admission
      policy refuses it at creation; this reports the ones that exist already).
    """
    fleet_classes = {s.ingress_class_name for s in specs}
    closed_classes = {s.ingress_class_name: s.name for s in specs if not s.options.ssl_passthrough}
    fleet_controllers = {profile_named(s.profile).controller_class(s.name) for s in specs}
    findings: list[Finding] = []
    class_names = {str((c.get("metadata") or {}).get("name", "")) for c in ingress_classes}

    defaults = sorted(
        (c for c in ingress_classes if _is_default_class(c)),
        key=lambda c: (
            str((c.get("metadata") or {}).get("creationTimestamp", "")),
            str((c.get("metadata") or {}).get("name", "")),
        ),
    )
    default_names = [str((c.get("metadata") or {}).get("name", "")) for c in defaults]
    if len(defaults) > 1:
        listed = ", ".join(default_names)
        for cls in defaults:
            findings.append(
                Finding(
                    _ref(cls, "networking.k8s.io/v1", "IngressClass"),
                    Reason.MULTIPLE_DEFAULT_INGRESS_CLASSES,
                    f"{len(defaults)} IngressClasses are marked default ({listed}); new Ingresses "
                    f"without a class get the newest ({default_names[-1]}). Keep one default",
                )
            )
    for cls in ingress_classes:
        controller = str((cls.get("spec") or {}).get("controller", ""))
        name = str((cls.get("metadata") or {}).get("name", ""))
        if (
            controller.startswith("ingress-reconciler.io/")
            and name not in fleet_classes
            and controller not in fleet_controllers
        ):
            findings.append(
                Finding(
                    _ref(cls, "networking.k8s.io/v1", "IngressClass"),
                    Reason.INGRESS_CLASS_WITHOUT_FLEET,
                    f"IngressClass {name} names controller {controller} but no configured fleet "
                    "serves it; its Ingresses get no address and no DNS records",
                )
            )
    known = fleet_classes | class_names
    for ing in ingresses:  # every pass, every Ingress: the usual one costs a class lookup
        class_name = ingress_class_of(ing)
        if class_name is None:
            if default_names:
                findings.append(
                    Finding(
                        _ref(ing, "networking.k8s.io/v1", "Ingress"),
                        Reason.INGRESS_WITHOUT_CLASS,
                        f"Ingress has no ingressClassName while {default_names[-1]} is the "
                        "default class: the default applies only at creation, so no fleet "
                        "serves it. Set spec.ingressClassName",
                    )
                )
        elif class_name not in known:
            findings.append(
                Finding(
                    _ref(ing, "networking.k8s.io/v1", "Ingress"),
                    Reason.INGRESS_CLASS_NOT_FOUND,
                    f"Ingress names class {class_name!r}, which neither exists nor belongs to a "
                    f"fleet (fleet classes: {', '.join(sorted(fleet_classes)) or 'none'})",
                )
            )
        elif class_name in closed_classes and asks_ssl_passthrough(ing):
            findings.append(
                Finding(
                    _ref(ing, "networking.k8s.io/v1", "Ingress"),
                    Reason.SSL_PASSTHROUGH_NOT_ENABLED,
                    f"Ingress asks for {SSL_PASSTHROUGH_ANNOTATION} but fleet "
                    f"{closed_classes[class_name]} (class {class_name}) does not enable "
                    "tls.sslPassthrough; use a fleet that does, or terminate TLS at the fleet",
                )
            )
    return tuple(
        sorted(findings, key=lambda f: (f.ref.kind, f.ref.namespace, f.ref.name, f.reason))
    )
