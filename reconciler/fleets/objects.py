"""The desired objects of one fleet: Namespace, ServiceAccount, RBAC, IngressClass, the
controller's ConfigMap (when its profile has configuration), the controller workload (a Deployment
or a DaemonSet) with its PodDisruptionBudget and HorizontalPodAutoscaler (when asked for), and its
load-balancer Service, labelled as ours. Pure: the intent only."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.fleets.options import WorkloadKind
from reconciler.fleets.profiles import ControllerContext, Profile, profile_named
from reconciler.fleets.spec import (
    DEFAULT_CLASS_ANNOTATION,
    ELBV2_LOAD_BALANCER_CLASS,
    LABEL_FLEET,
    LB_TYPE_ANNOTATION,
    SCHEME_ANNOTATION,
    TARGET_TYPE_ANNOTATION,
    FleetSpec,
    LoadBalancerMode,
    cluster_role_name,
    controller_context,
    fleet_labels,
    workload_name,
)
from reconciler.model.cluster import (
    JsonObject,
)
from reconciler.model.gateway import GATEWAY_GROUP
from reconciler.model.load_balancer import scheme_for_visibility

# --- desired objects ---------------------------------------------------------------------------

__all__ = [
    "desired_fleet_objects",
    "gateway_objects",
    "service_annotations",
]


def object_meta(name: str, labels: Mapping[str, str], namespace: str = "") -> JsonObject:
    meta: JsonObject = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def pod_selector(spec: FleetSpec) -> dict[str, str]:
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


def _scheme_annotations(spec: FleetSpec) -> dict[str, str]:
    """The load-balancer annotations the reconciler decides (Gateway API allows 8)."""
    ours = (SCHEME_ANNOTATION, LB_TYPE_ANNOTATION, TARGET_TYPE_ANNOTATION)
    return {k: v for k, v in service_annotations(spec).items() if k in ours}


def desired_fleet_objects(spec: FleetSpec, *, owner_id: str) -> tuple[JsonObject, ...]:
    """The full intent of one fleet, in apply order (Namespace first, Service last)."""
    profile = profile_named(spec.profile)
    ctx = controller_context(spec, profile)
    labels = fleet_labels(spec.name, owner_id)
    name = workload_name(spec)
    ns = spec.namespace
    rbac = "rbac.authorization.k8s.io/v1"
    subject = {"kind": "ServiceAccount", "name": name, "namespace": ns}
    class_meta = object_meta(spec.ingress_class_name, labels)
    if spec.is_default:
        class_meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    pod_labels = {**labels, **pod_selector(spec), "app.kubernetes.io/name": profile.name}
    service_spec: JsonObject = {
        "type": "LoadBalancer",
        "selector": pod_selector(spec),
        "ports": [
            {"name": p.name, "port": p.port, "targetPort": p.target_port, "protocol": "TCP"}
            for p in spec.ports
        ],
    }
    if spec.lb_mode is LoadBalancerMode.ELBV2:
        service_spec["loadBalancerClass"] = ELBV2_LOAD_BALANCER_CLASS
    service_meta = object_meta(name, labels, ns)
    service_meta["annotations"] = service_annotations(spec)
    namespace_rules = profile.namespace_rules(ctx)
    namespace_rbac: tuple[JsonObject, ...] = (
        (
            {
                "apiVersion": rbac,
                "kind": "Role",
                "metadata": object_meta(name, labels, ns),
                "rules": [r.as_json() for r in namespace_rules],
            },
            {
                "apiVersion": rbac,
                "kind": "RoleBinding",
                "metadata": object_meta(name, labels, ns),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [subject],
            },
        )
        if namespace_rules
        else ()
    )
    config = profile.config(ctx)
    config_maps: tuple[JsonObject, ...] = (
        (
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": object_meta(name, labels, ns),
                "data": config,
            },
        )
        if config
        else ()
    )
    return (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(ns, labels)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": object_meta(name, labels, ns)},
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": object_meta(cluster_role_name(spec), labels),
            "rules": [
                r.as_json()
                for r in (*profile.cluster_rules, *(profile.gateway_rules if spec.gateway else ()))
            ],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": object_meta(cluster_role_name(spec), labels),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role_name(spec),
            },
            "subjects": [subject],
        },
        *namespace_rbac,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": class_meta,
            "spec": {"controller": ctx.controller_class},
        },
        *config_maps,
        *workload_objects(spec, profile, ctx, labels=labels, pod_labels=pod_labels),
        {"apiVersion": "v1", "kind": "Service", "metadata": service_meta, "spec": service_spec},
        *gateway_objects(spec, profile, labels=labels),
    )


def gateway_objects(
    spec: FleetSpec, profile: Profile, *, labels: Mapping[str, str]
) -> tuple[JsonObject, ...]:
    """The fleet's GatewayClass and Gateway (none without ``gateway``).

    The Gateway listens where the fleet's controller does: HTTP on the profile's HTTP port, and,
    with a default certificate, HTTPS terminated with it; Routes from every namespace may attach
    (tenancy decides whose hosts reach DNS, the admission policy whose Routes may name the
    Gateway). ``spec.infrastructure.annotations`` carries the fleet Service's load-balancer
    scheme, type and target-type annotations for implementations that provision from it.
    """
    if spec.gateway is None:
        return ()
    http_port, https_port = profile.gateway_ports
    everyone = {"namespaces": {"from": "All"}}
    listeners: list[JsonObject] = [
        {"name": "http", "protocol": "HTTP", "port": http_port, "allowedRoutes": everyone}
    ]
    if spec.options.default_certificate:
        listeners.append(
            {
                "name": "https",
                "protocol": "HTTPS",
                "port": https_port,
                "tls": {
                    "mode": "Terminate",
                    "certificateRefs": [
                        {"kind": "Secret", "name": spec.options.default_certificate}
                    ],
                },
                "allowedRoutes": everyone,
            }
        )
    api = f"{GATEWAY_GROUP}/v1"
    return (
        {
            "apiVersion": api,
            "kind": "GatewayClass",
            "metadata": object_meta(spec.gateway.class_name, labels),
            "spec": {"controllerName": profile.gateway_controller},
        },
        {
            "apiVersion": api,
            "kind": "Gateway",
            "metadata": object_meta(spec.gateway.name, labels, spec.namespace),
            "spec": {
                "gatewayClassName": spec.gateway.class_name,
                "listeners": listeners,
                "infrastructure": {"annotations": _scheme_annotations(spec)},
            },
        },
    )


def _container(spec: FleetSpec, profile: Profile, ctx: ControllerContext) -> JsonObject:
    container = profile.container(ctx, spec.image or profile.image)
    shape = spec.workload
    if shape.requests or shape.limits:
        resources: JsonObject = {}
        if shape.requests:
            resources["requests"] = dict(shape.requests)
        if shape.limits:
            resources["limits"] = dict(shape.limits)
        container["resources"] = resources
    return container


def workload_objects(
    spec: FleetSpec,
    profile: Profile,
    ctx: ControllerContext,
    *,
    labels: Mapping[str, str],
    pod_labels: Mapping[str, str],
) -> tuple[JsonObject, ...]:
    """The controller workload, and its PodDisruptionBudget and autoscaler when configured."""
    name = workload_name(spec)
    ns = spec.namespace
    shape = spec.workload
    pod_spec: JsonObject = {
        "serviceAccountName": name,
        "terminationGracePeriodSeconds": profile.termination_grace_period_seconds,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "containers": [_container(spec, profile, ctx)],
    }
    volumes = profile.volumes(ctx)
    if volumes:
        pod_spec["volumes"] = volumes
    workload_spec: JsonObject = {
        "selector": {"matchLabels": pod_selector(spec)},
        "template": {"metadata": {"labels": dict(pod_labels)}, "spec": pod_spec},
    }
    if shape.kind is WorkloadKind.DEPLOYMENT and shape.autoscaling is None:
        workload_spec = {"replicas": spec.replicas, **workload_spec}
    objects: list[JsonObject] = [
        {
            "apiVersion": "apps/v1",
            "kind": str(shape.kind),
            "metadata": object_meta(name, labels, ns),
            "spec": workload_spec,
        }
    ]
    if shape.has_budget:
        budget: JsonObject = {"selector": {"matchLabels": pod_selector(spec)}}
        if shape.min_available is not None:
            budget["minAvailable"] = shape.min_available
        else:
            budget["maxUnavailable"] = shape.max_unavailable
        objects.append(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": object_meta(name, labels, ns),
                "spec": budget,
            }
        )
    if shape.autoscaling is not None:
        scaling = shape.autoscaling
        objects.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": object_meta(name, labels, ns),
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": scaling.min_replicas,
                    "maxReplicas": scaling.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": scaling.target_cpu_utilization,
                                },
                            },
                        }
                    ],
                },
            }
        )
    return tuple(objects)
