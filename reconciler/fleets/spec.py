"""Fleets: what a fleet is, and the names and labels of what belongs to it.

A fleet (:class:`FleetSpec`) is what users pick with ``ingressClassName``: one IngressClass, its
controller workload (from the fleet's profile, :mod:`reconciler.fleets.profiles`) and its
load-balancer Service. Every object of a fleet is labelled ``app.kubernetes.io/managed-by:
ingress-reconciler``, ``ingress-reconciler.io/owner: <ownerId>`` and ``ingress-reconciler.io/fleet:
<fleet>`` (:func:`fleet_labels`, :func:`is_owned`). The desired objects are
:mod:`reconciler.fleets.objects`; keeping them converged is :mod:`reconciler.fleets.converge`.

The finalizer ``ingress-reconciler.io/load-balancer`` on elbv2-mode Services is the load-balancer
stage's (it adds and removes it with a patch); the intent never lists finalizers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from reconciler.fleets.options import ControllerOptions, WorkloadShape, check_supported
from reconciler.fleets.profiles import DEFAULT_PROFILE, ControllerContext, Profile, profile_named
from reconciler.model.cluster import (
    ClusterState,
)
from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import Visibility

__all__ = [
    "DEFAULT_CLASS_ANNOTATION",
    "DEFAULT_PORTS",
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
    "FleetGateway",
    "FleetPort",
    "FleetSpec",
    "LoadBalancerMode",
    "Reason",
    "TargetType",
    "cluster_role_name",
    "controller_context",
    "election_id",
    "fleet_labels",
    "fleet_service_address",
    "is_owned",
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
    GATEWAY_CLASS_CONTROLLER_CONFLICT = "GatewayClassControllerConflict"
    SCHEME_CHANGE_REFUSED = "SchemeChangeRefused"
    LOAD_BALANCER_MODE_CHANGE_REFUSED = "LoadBalancerModeChangeRefused"
    OBJECT_NOT_OWNED = "ObjectNotOwned"
    MULTIPLE_DEFAULT_INGRESS_CLASSES = "MultipleDefaultIngressClasses"
    INGRESS_WITHOUT_CLASS = "IngressWithoutClass"
    INGRESS_CLASS_WITHOUT_FLEET = "IngressClassWithoutFleet"
    INGRESS_CLASS_NOT_FOUND = "IngressClassNotFound"
    SSL_PASSTHROUGH_NOT_ENABLED = "SslPassthroughNotEnabled"


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
class FleetGateway:
    """The Gateway API side of a fleet: its GatewayClass and its Gateway (in the fleet's
    namespace), served by the fleet's controller beside its IngressClass."""

    name: str
    """The Gateway's name (Routes name it in ``parentRefs``)."""
    class_name: str
    """The GatewayClass's name (``spec.gatewayClassName`` of the Gateway)."""


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
    profile: str = DEFAULT_PROFILE
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
    options: ControllerOptions = field(default_factory=ControllerOptions)
    """Controller-wide options (TLS, default backend, timeouts, ...)."""
    workload: WorkloadShape = field(default_factory=WorkloadShape)
    """Deployment or DaemonSet, resources, disruption budget, autoscaling."""
    gateway: FleetGateway | None = None
    """The fleet's Gateway, when it serves Gateway API Routes too."""

    @classmethod
    def of(
        cls,
        *,
        name: str,
        ingress_class_name: str,
        visibility: str,
        namespace: str,
        is_default: bool = False,
        profile: str = DEFAULT_PROFILE,
        image: str | None = None,
        replicas: int = 2,
        ports: Iterable[FleetPort] = DEFAULT_PORTS,
        lb_mode: str = "service-annotations",
        target_type: str = "ip",
        extra_annotations: Mapping[str, str] | None = None,
        dns_providers: Iterable[str] = (),
        options: ControllerOptions | None = None,
        workload: WorkloadShape | None = None,
        gateway: FleetGateway | None = None,
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
            chosen = profile_named(profile)
        except ConfigError as exc:
            raise ConfigError(f"{key}.profile: {exc}") from None
        opts = options or ControllerOptions()
        check_supported(opts, chosen.features, key=key, profile=chosen.name)
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
        if gateway is not None:
            if not chosen.gateway_controller:
                raise ConfigError(
                    f"{key}.gateway: profile {chosen.name} does not serve Gateway API; "
                    "use profile traefik"
                )
            if not _DNS_SUBDOMAIN.fullmatch(gateway.name) or not _DNS_SUBDOMAIN.fullmatch(
                gateway.class_name
            ):
                raise ConfigError(
                    f"{key}.gateway: name {gateway.name!r} and gatewayClassName "
                    f"{gateway.class_name!r} must be DNS subdomain names"
                )
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
            options=opts,
            workload=workload or WorkloadShape(),
            gateway=gateway,
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
        config_name=workload_name(spec),
        options=spec.options,
        gateway_class_selector=f"{LABEL_FLEET}={spec.name}" if spec.gateway else "",
        service_name=service_name(spec),
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
