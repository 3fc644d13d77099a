"""Fleets: one IngressClass, its controller workload and its load-balancer Service, kept converged.

A fleet (``FleetSpec``) is what users pick with ``ingressClassName``. ``desired_fleet_objects`` is
the pure intent of one fleet: Namespace, ServiceAccount, ClusterRole + binding, Role + binding,
IngressClass, Deployment and a Service of type LoadBalancer, every one labelled
``app.kubernetes.io/managed-by: ingress-reconciler``, ``ingress-reconciler.io/owner: <ownerId>`` and
``ingress-reconciler.io/fleet: <fleet>``. The controller's image, args and RBAC come from the
fleet's profile (``reconciler.fleets.profiles``).

``converge_fleets`` applies every intent each pass (server-side apply, field manager
``ingress-reconciler``: a hand-edited field is set back, an unchanged object is left as is), deletes
the owned objects of fleets no longer configured, and refuses what must not be done in place:

- an IngressClass whose immutable ``spec.controller`` differs (never deleted under its Ingresses);
- a fleet Service whose ``aws-load-balancer-scheme`` annotation would flip (the AWS Load Balancer
  Controller would replace the load balancer and its DNS name), or whose load-balancer mode would
  change (``spec.loadBalancerClass`` is immutable);
- any object of the same name without our labels and owner.

It also reports what Kubernetes does not: several IngressClasses marked default, Ingresses without
a class while a default exists, classes no fleet serves. Refusals and findings become Events on the
object concerned and entries of the ``FleetReport``.

The finalizer ``ingress-reconciler.io/load-balancer`` on elbv2-mode Services is the load-balancer
stage's (it adds and removes it with a patch); the intent here never lists finalizers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from reconciler.fleets.profiles import ControllerContext, Profile, profile_named
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
    EventType,
    JsonObject,
    ObjectRef,
)
from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import ConfigError, KubernetesError
from reconciler.model.ingress import Visibility, ingress_class_of
from reconciler.model.k8s_json import IngressClassDict, IngressDict
from reconciler.model.load_balancer import scheme_for_visibility

__all__ = [
    "DEFAULT_CLASS_ANNOTATION",
    "DEFAULT_PORTS",
    "DELETE_ORDER",
    "ELBV2_LOAD_BALANCER_CLASS",
    "LABEL_FLEET",
    "LABEL_MANAGED_BY",
    "LABEL_OWNER",
    "LB_TYPE_ANNOTATION",
    "LOAD_BALANCER_FINALIZER",
    "MANAGED_BY",
    "MAX_FLEET_NAME",
    "SCHEME_ANNOTATION",
    "TARGET_TYPE_ANNOTATION",
    "Finding",
    "FleetError",
    "FleetKube",
    "FleetPort",
    "FleetReport",
    "FleetSpec",
    "LoadBalancerMode",
    "Reason",
    "Refusal",
    "TargetType",
    "cluster_role_name",
    "controller_context",
    "converge_fleets",
    "desired_fleet_objects",
    "election_id",
    "find_class_problems",
    "fleet_labels",
    "fleet_service_address",
    "is_owned",
    "service_annotations",
    "service_name",
    "workload_name",
]

log = logging.getLogger(__name__)

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
"""Label on every object the reconciler owns (value ``MANAGED_BY``)."""
MANAGED_BY = "ingress-reconciler"
"""Value of ``LABEL_MANAGED_BY``."""
LABEL_OWNER = "ingress-reconciler.io/owner"
"""Label naming the owner id (``ownerId``) of the reconciler that owns the object."""
LABEL_FLEET = "ingress-reconciler.io/fleet"
"""Label naming the fleet an object belongs to."""
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
"""IngressClass annotation: ``"true"`` makes it the cluster's default class."""
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
"""AWS Load Balancer Controller: ``internet-facing`` or ``internal`` (its default)."""
LB_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type"
"""AWS Load Balancer Controller: ``external`` hands the Service to it (an NLB)."""
TARGET_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
"""AWS Load Balancer Controller: ``ip`` or ``instance`` targets."""
ELBV2_LOAD_BALANCER_CLASS = "ingress-reconciler.io/elbv2"
"""``spec.loadBalancerClass`` of elbv2-mode Services, so no other load-balancer controller acts."""
LOAD_BALANCER_FINALIZER = "ingress-reconciler.io/load-balancer"
"""Finalizer the load-balancer stage keeps on elbv2-mode fleet Services."""

_E = TypeVar("_E", bound=StrEnum)

MAX_FLEET_NAME = 55
"""Longest fleet name: the Service ``ingress-<fleet>`` must stay a 63-character DNS label."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class LoadBalancerMode(StrEnum):
    """Who provisions a fleet's load balancer."""

    SERVICE_ANNOTATIONS = "service-annotations"
    """The cluster's load-balancer controller (AWS Load Balancer Controller on EKS)."""
    ELBV2 = "elbv2"
    """The reconciler itself, through the ELBv2 API."""


class TargetType(StrEnum):
    """NLB target type of a fleet Service."""

    IP = "ip"
    INSTANCE = "instance"


class Reason(StrEnum):
    """Event reasons of the fleet stage (refusals and findings)."""

    INGRESS_CLASS_CONTROLLER_CONFLICT = "IngressClassControllerConflict"
    SCHEME_CHANGE_REFUSED = "SchemeChangeRefused"
    LOAD_BALANCER_MODE_CHANGE_REFUSED = "LoadBalancerModeChangeRefused"
    OBJECT_NOT_OWNED = "ObjectNotOwned"
    MULTIPLE_DEFAULT_INGRESS_CLASSES = "MultipleDefaultIngressClasses"
    INGRESS_WITHOUT_CLASS = "IngressWithoutClass"
    INGRESS_CLASS_WITHOUT_FLEET = "IngressClassWithoutFleet"
    INGRESS_CLASS_NOT_FOUND = "IngressClassNotFound"


@dataclass(frozen=True, slots=True)
class FleetPort:
    """One port of a fleet's Service."""

    name: str
    """Port name (``http``)."""
    port: int
    """The load balancer's port (80)."""
    target_port: int | str
    """The controller's container port, by number or name (``http``)."""


DEFAULT_PORTS = (FleetPort("http", 80, "http"), FleetPort("https", 443, "https"))
"""HTTP and HTTPS to the controller's named ports."""


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """One configured fleet (``fleets[]`` of the configuration file)."""

    name: str
    """Fleet name (a DNS label); names its objects."""
    ingress_class_name: str
    """The IngressClass users write in ``spec.ingressClassName``."""
    visibility: Visibility
    """public: internet-facing load balancer, public DNS; private: internal, private DNS."""
    namespace: str
    """Namespace of the controller workload and Service."""
    is_default: bool = False
    """Mark the IngressClass as the cluster default."""
    profile: str = "ingress-nginx"
    """Controller profile name (``reconciler.fleets.profiles.PROFILES``)."""
    image: str | None = None
    """Override of the profile's image."""
    replicas: int = 2
    """Controller replicas."""
    ports: tuple[FleetPort, ...] = DEFAULT_PORTS
    """The Service's ports."""
    lb_mode: LoadBalancerMode = LoadBalancerMode.SERVICE_ANNOTATIONS
    """Who provisions the load balancer."""
    target_type: TargetType = TargetType.IP
    """NLB target type."""
    extra_annotations: FrozenMap = field(default_factory=FrozenMap)
    """More Service annotations (the scheme, type and target-type annotations always win)."""
    dns_providers: tuple[str, ...] = ()
    """Names of the DNS providers that receive this fleet's records."""

    @classmethod
    def of(
        cls,
        *,
        name: str,
        ingress_class_name: str,
        visibility: str,
        namespace: str,
        is_default: bool = False,
        profile: str = "ingress-nginx",
        image: str | None = None,
        replicas: int = 2,
        ports: Iterable[FleetPort] = DEFAULT_PORTS,
        lb_mode: str = "service-annotations",
        target_type: str = "ip",
        extra_annotations: Mapping[str, str] | None = None,
        dns_providers: Iterable[str] = (),
    ) -> FleetSpec:
        """A validated spec; ConfigError naming ``fleets[<name>].<key>`` when a value is wrong."""
        key = f"fleets[{name}]"
        if not _DNS_LABEL.fullmatch(name) or len(name) > MAX_FLEET_NAME:
            raise ConfigError(
                f"{key}.name: {name!r} must be a DNS label (a-z, 0-9, '-') of at most "
                f"{MAX_FLEET_NAME} characters"
            )
        if not _DNS_SUBDOMAIN.fullmatch(ingress_class_name):
            raise ConfigError(
                f"{key}.ingressClassName: {ingress_class_name!r} must be a DNS subdomain name"
            )
        if not _DNS_LABEL.fullmatch(namespace):
            raise ConfigError(f"{key}.namespace: {namespace!r} must be a DNS label")
        view = _enum(Visibility, visibility, f"{key}.visibility")
        mode = _enum(LoadBalancerMode, lb_mode, f"{key}.loadBalancer.mode")
        target = _enum(TargetType, target_type, f"{key}.loadBalancer.targetType")
        try:
            profile_named(profile)
        except ConfigError as exc:
            raise ConfigError(f"{key}.profile: {exc}") from None
        if replicas < 0:
            raise ConfigError(f"{key}.replicas: {replicas} must be 0 or more")
        port_list = tuple(ports)
        if not port_list:
            raise ConfigError(f"{key}.ports: a fleet needs at least one port")
        names = [p.name for p in port_list]
        if len(set(names)) != len(names) or len({p.port for p in port_list}) != len(port_list):
            raise ConfigError(f"{key}.ports: port names and numbers must be unique")
        for p in port_list:
            if not 1 <= p.port <= 65535:
                raise ConfigError(f"{key}.ports[{p.name}].port: {p.port} is not a TCP port")
        return cls(
            name=name,
            ingress_class_name=ingress_class_name,
            visibility=view,
            namespace=namespace,
            is_default=is_default,
            profile=profile,
            image=image or None,
            replicas=replicas,
            ports=port_list,
            lb_mode=mode,
            target_type=target,
            extra_annotations=FrozenMap(extra_annotations or {}),
            dns_providers=tuple(dns_providers),
        )


def _enum(enum: type[_E], value: str, key: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        allowed = " or ".join(repr(str(m)) for m in enum)
        raise ConfigError(f"{key}: {value!r} must be {allowed}") from None


# --- names and labels ------------------------------------------------------------------------


def workload_name(spec: FleetSpec) -> str:
    """Name of the fleet's namespaced objects (ServiceAccount, Role, Deployment, ...)."""
    return f"ingress-{spec.name}"


def service_name(spec: FleetSpec) -> str:
    """Name of the fleet's Service of type LoadBalancer (in ``spec.namespace``)."""
    return workload_name(spec)


def cluster_role_name(spec: FleetSpec) -> str:
    """Name of the fleet's ClusterRole and ClusterRoleBinding."""
    return f"ingress-reconciler-{spec.name}"


def election_id(spec: FleetSpec) -> str:
    """The controller's leader-election Lease name (unique per fleet)."""
    return f"ingress-reconciler-{spec.name}"


def fleet_labels(fleet: str, owner_id: str) -> dict[str, str]:
    """The three labels every owned object of ``fleet`` carries."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_OWNER: owner_id, LABEL_FLEET: fleet}


def is_owned(obj: Mapping[str, Any], owner_id: str) -> bool:
    """Does ``obj`` carry our managed-by label, ``owner_id`` and a fleet label?"""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(LABEL_MANAGED_BY) == MANAGED_BY
        and labels.get(LABEL_OWNER) == owner_id
        and bool(labels.get(LABEL_FLEET))
    )


def controller_context(spec: FleetSpec, profile: Profile | None = None) -> ControllerContext:
    """What the fleet's profile needs to build its container and RBAC."""
    chosen = profile or profile_named(spec.profile)
    return ControllerContext(
        fleet=spec.name,
        ingress_class_name=spec.ingress_class_name,
        controller_class=chosen.controller_class(spec.name),
        election_id=election_id(spec),
        namespace=spec.namespace,
    )


# --- desired objects ---------------------------------------------------------------------------


def _meta(name: str, labels: Mapping[str, str], namespace: str = "") -> JsonObject:
    meta: JsonObject = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _selector(spec: FleetSpec) -> dict[str, str]:
    # immutable on a Deployment: only stable facts
    return {LABEL_FLEET: spec.name, "app.kubernetes.io/component": "controller"}


def service_annotations(spec: FleetSpec) -> dict[str, str]:
    """The fleet Service's annotations (extra ones first; ours override them)."""
    return {
        **dict(spec.extra_annotations),
        SCHEME_ANNOTATION: str(scheme_for_visibility(spec.visibility)),
        LB_TYPE_ANNOTATION: "external",
        TARGET_TYPE_ANNOTATION: str(spec.target_type),
    }


def desired_fleet_objects(spec: FleetSpec, *, owner_id: str) -> tuple[JsonObject, ...]:
    """The full intent of one fleet, in apply order (Namespace first, Service last)."""
    profile = profile_named(spec.profile)
    ctx = controller_context(spec, profile)
    labels = fleet_labels(spec.name, owner_id)
    name = workload_name(spec)
    ns = spec.namespace
    rbac = "rbac.authorization.k8s.io/v1"
    subject = {"kind": "ServiceAccount", "name": name, "namespace": ns}
    class_meta = _meta(spec.ingress_class_name, labels)
    if spec.is_default:
        class_meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    pod_labels = {**labels, **_selector(spec), "app.kubernetes.io/name": profile.name}
    service_spec: JsonObject = {
        "type": "LoadBalancer",
        "selector": _selector(spec),
        "ports": [
            {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": "TCP"}
            for p in spec.ports
        ],
    }
    if spec.lb_mode is LoadBalancerMode.ELBV2:
        service_spec["loadBalancerClass"] = ELBV2_LOAD_BALANCER_CLASS
    service_meta = _meta(name, labels, ns)
    service_meta["annotations"] = service_annotations(spec)
    return (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(ns, labels)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, labels, ns)},
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": _meta(cluster_role_name(spec), labels),
            "rules": [r.as_json() for r in profile.cluster_rules],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": _meta(cluster_role_name(spec), labels),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role_name(spec),
            },
            "subjects": [subject],
        },
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": _meta(name, labels, ns),
            "rules": [r.as_json() for r in profile.namespace_rules(ctx)],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": _meta(name, labels, ns),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [subject],
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": class_meta,
            "spec": {"controller": ctx.controller_class},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": _meta(name, labels, ns),
            "spec": {
                "replicas": spec.replicas,
                "selector": {"matchLabels": _selector(spec)},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": {
                        "serviceAccountName": name,
                        "terminationGracePeriodSeconds": profile.termination_grace_period_seconds,
                        "nodeSelector": {"kubernetes.io/os": "linux"},
                        "containers": [profile.container(ctx, spec.image or profile.image)],
                    },
                },
            },
        },
        {"apiVersion": "v1", "kind": "Service", "metadata": service_meta, "spec": service_spec},
    )


# --- observed state ----------------------------------------------------------------------------


def fleet_service_address(spec: FleetSpec, state: ClusterState) -> tuple[dict[str, Any], ...]:
    """The fleet Service's ``status.loadBalancer.ingress`` (copies); empty when not (yet) there."""
    for svc in state.services():
        meta = svc.get("metadata") or {}
        labels = meta.get("labels") or {}
        if (
            meta.get("name") == service_name(spec)
            and meta.get("namespace") == spec.namespace
            and labels.get(LABEL_FLEET) == spec.name
            and labels.get(LABEL_MANAGED_BY) == MANAGED_BY
        ):
            entries = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
            return tuple(dict(e) for e in entries)
    return ()


# --- converge ----------------------------------------------------------------------------------


class FleetKube(Protocol):
    """What the fleet stage needs to write (``reconciler.kube.fleet_objects.KubeFleetKube``)."""

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
    "Deployment",
    "RoleBinding",
    "Role",
    "ClusterRoleBinding",
    "ClusterRole",
    "ServiceAccount",
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


def _refusal(
    desired: Mapping[str, Any], existing: Mapping[str, Any], fleet: str, owner_id: str
) -> Refusal | None:
    """Why ``desired`` must not be applied over ``existing``; None when it may be."""
    kind = str(desired["kind"])
    ref = _ref(existing, str(desired["apiVersion"]), kind)
    if kind == "IngressClass":
        have = (existing.get("spec") or {}).get("controller")
        want = desired["spec"]["controller"]
        if have != want:
            return Refusal(
                ref,
                fleet,
                Reason.INGRESS_CLASS_CONTROLLER_CONFLICT,
                f"IngressClass {ref.name} has controller {have!r}; fleet {fleet} needs {want!r}. "
                "spec.controller is immutable: rename the fleet's ingressClassName, or delete "
                "the class yourself once no Ingress uses it",
            )
    if not is_owned(existing, owner_id):
        return Refusal(
            ref,
            fleet,
            Reason.OBJECT_NOT_OWNED,
            f"{kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name} exists without "
            f"the labels of owner {owner_id!r}; it is left alone: rename the fleet or remove it",
        )
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
    kube: FleetKube,
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
    stale: Sequence[JsonObject], *, owned: Mapping[_Key, JsonObject], kube: FleetKube, tally: _Tally
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
    kube: FleetKube,
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
    - an Ingress naming a class that neither exists nor belongs to a fleet.
    """
    fleet_classes = {s.ingress_class_name for s in specs}
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
    for ing in ingresses:
        class_name = ingress_class_of(ing)
        ref = _ref(ing, "networking.k8s.io/v1", "Ingress")
        if class_name is None:
            if default_names:
                findings.append(
                    Finding(
                        ref,
                        Reason.INGRESS_WITHOUT_CLASS,
                        f"Ingress has no ingressClassName while {default_names[-1]} is the "
                        "default class: the default applies only at creation, so no fleet "
                        "serves it. Set spec.ingressClassName",
                    )
                )
        elif class_name not in fleet_classes and class_name not in class_names:
            findings.append(
                Finding(
                    ref,
                    Reason.INGRESS_CLASS_NOT_FOUND,
                    f"Ingress names class {class_name!r}, which neither exists nor belongs to a "
                    f"fleet (fleet classes: {', '.join(sorted(fleet_classes)) or 'none'})",
                )
            )
    return tuple(
        sorted(findings, key=lambda f: (f.ref.kind, f.ref.namespace, f.ref.name, f.reason))
    )
