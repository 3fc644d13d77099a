"""The desired objects of one fleet: Namespace, ServiceAccount, RBAC, IngressClass, the
controller workload and its load-balancer Service, labelled as ours. Pure: the intent only."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.fleets.profiles import profile_named
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
from reconciler.model.load_balancer import scheme_for_visibility

# --- desired objects ---------------------------------------------------------------------------

__all__ = [
    "desired_fleet_objects",
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
    return (
        {"apiVersion": "v1", "kind": "Namespace", "metadata": object_meta(ns, labels)},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": object_meta(name, labels, ns)},
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": object_meta(cluster_role_name(spec), labels),
            "rules": [r.as_json() for r in profile.cluster_rules],
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
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": object_meta(name, labels, ns),
            "rules": [r.as_json() for r in profile.namespace_rules(ctx)],
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": object_meta(name, labels, ns),
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
            "metadata": object_meta(name, labels, ns),
            "spec": {
                "replicas": spec.replicas,
                "selector": {"matchLabels": pod_selector(spec)},
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
