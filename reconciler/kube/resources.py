"""Which API path serves which kind: a small static table (no discovery round trips).

``ResourceKind`` names a resource (group, version, plural, scope) and builds its URL paths.
``kind_for(api_version, kind)`` finds the entry for an object's ``apiVersion``/``kind``; the table
covers what the reconciler reads and owns (Ingress, IngressClass, Service, Namespace, Deployment,
ServiceAccount, RBAC, ConfigMap, Secret, Lease, Event, admission policies, and the Gateway API
kinds at v1: GatewayClass, Gateway, ListenerSet and the Routes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from reconciler.model.errors import KubernetesError
from reconciler.model.gateway import GATEWAY_GROUP, ROUTE_KINDS

__all__ = [
    "CLUSTER_ROLE",
    "CLUSTER_ROLE_BINDING",
    "CONFIG_MAP",
    "DAEMON_SET",
    "DEPLOYMENT",
    "EVENT",
    "GATEWAY",
    "GATEWAY_API_KINDS",
    "GATEWAY_CLASS",
    "GATEWAY_SOURCES",
    "HORIZONTAL_POD_AUTOSCALER",
    "INGRESS",
    "INGRESS_CLASS",
    "KNOWN_KINDS",
    "LEASE",
    "LISTENER_SET",
    "NAMESPACE",
    "POD_DISRUPTION_BUDGET",
    "ROLE",
    "ROLE_BINDING",
    "ROUTE_RESOURCES",
    "SECRET",
    "SERVICE",
    "SERVICE_ACCOUNT",
    "VALIDATING_ADMISSION_POLICY",
    "VALIDATING_ADMISSION_POLICY_BINDING",
    "ResourceKind",
    "kind_for",
]


@dataclass(frozen=True, slots=True)
class ResourceKind:
    """One API resource: where it is served and whether it lives in a namespace."""

    group: str
    """API group, ``""`` for the core group."""
    version: str
    """API version within the group, e.g. ``"v1"``."""
    kind: str
    """The ``kind`` of its objects, e.g. ``"Ingress"``."""
    plural: str
    """The resource name in URLs, e.g. ``"ingresses"``."""
    namespaced: bool
    """True for namespaced resources, False for cluster-scoped ones."""

    @property
    def api_version(self) -> str:
        """``apiVersion`` of its objects: ``"v1"`` or ``"<group>/<version>"``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: str | None = None) -> str:
        """URL path of the collection, across all namespaces when ``namespace`` is None."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{base}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{base}/{self.plural}"

    def object_path(self, name: str, namespace: str | None = None, subresource: str = "") -> str:
        """URL path of one object (and optionally its ``subresource``, e.g. ``"status"``)."""
        if self.namespaced and not namespace:
            raise KubernetesError(f"{self.kind} {name!r} needs a namespace", status=None)
        path = f"{self.collection_path(namespace)}/{quote(name, safe='')}"
        return f"{path}/{subresource}" if subresource else path


INGRESS = ResourceKind("networking.k8s.io", "v1", "Ingress", "ingresses", namespaced=True)
INGRESS_CLASS = ResourceKind(
    "networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False
)
SERVICE = ResourceKind("", "v1", "Service", "services", namespaced=True)
NAMESPACE = ResourceKind("", "v1", "Namespace", "namespaces", namespaced=False)
SERVICE_ACCOUNT = ResourceKind("", "v1", "ServiceAccount", "serviceaccounts", namespaced=True)
CONFIG_MAP = ResourceKind("", "v1", "ConfigMap", "configmaps", namespaced=True)
SECRET = ResourceKind("", "v1", "Secret", "secrets", namespaced=True)
DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments", namespaced=True)
DAEMON_SET = ResourceKind("apps", "v1", "DaemonSet", "daemonsets", namespaced=True)
POD_DISRUPTION_BUDGET = ResourceKind(
    "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", namespaced=True
)
HORIZONTAL_POD_AUTOSCALER = ResourceKind(
    "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", namespaced=True
)
ROLE = ResourceKind("rbac.authorization.k8s.io", "v1", "Role", "roles", namespaced=True)
ROLE_BINDING = ResourceKind(
    "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", namespaced=True
)
CLUSTER_ROLE = ResourceKind(
    "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False
)
CLUSTER_ROLE_BINDING = ResourceKind(
    "rbac.authorization.k8s.io",
    "v1",
    "ClusterRoleBinding",
    "clusterrolebindings",
    namespaced=False,
)
LEASE = ResourceKind("coordination.k8s.io", "v1", "Lease", "leases", namespaced=True)
EVENT = ResourceKind("events.k8s.io", "v1", "Event", "events", namespaced=True)
VALIDATING_ADMISSION_POLICY = ResourceKind(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingAdmissionPolicy",
    "validatingadmissionpolicies",
    namespaced=False,
)
VALIDATING_ADMISSION_POLICY_BINDING = ResourceKind(
    "admissionregistration.k8s.io",
    "v1",
    "ValidatingAdmissionPolicyBinding",
    "validatingadmissionpolicybindings",
    namespaced=False,
)

GATEWAY_CLASS = ResourceKind(
    GATEWAY_GROUP, "v1", "GatewayClass", "gatewayclasses", namespaced=False
)
GATEWAY = ResourceKind(GATEWAY_GROUP, "v1", "Gateway", "gateways", namespaced=True)
LISTENER_SET = ResourceKind(GATEWAY_GROUP, "v1", "ListenerSet", "listenersets", namespaced=True)
ROUTE_RESOURCES: tuple[ResourceKind, ...] = tuple(
    ResourceKind(GATEWAY_GROUP, "v1", kind, f"{kind.lower()}s", namespaced=True)
    for kind in ROUTE_KINDS
)
"""The Route kinds read, at v1 (only those the cluster serves are listed: see discovery)."""
GATEWAY_SOURCES: tuple[ResourceKind, ...] = (GATEWAY, LISTENER_SET, *ROUTE_RESOURCES)
"""The Gateway API kinds a pass reads (the GatewayClasses only the fleet stage reads)."""
GATEWAY_API_KINDS: tuple[ResourceKind, ...] = (GATEWAY_CLASS, *GATEWAY_SOURCES)
"""Every Gateway API kind the reconciler reads or owns."""

KNOWN_KINDS: Mapping[tuple[str, str], ResourceKind] = {
    (k.api_version, k.kind): k
    for k in (
        INGRESS,
        INGRESS_CLASS,
        SERVICE,
        NAMESPACE,
        SERVICE_ACCOUNT,
        CONFIG_MAP,
        SECRET,
        DEPLOYMENT,
        DAEMON_SET,
        POD_DISRUPTION_BUDGET,
        HORIZONTAL_POD_AUTOSCALER,
        ROLE,
        ROLE_BINDING,
        CLUSTER_ROLE,
        CLUSTER_ROLE_BINDING,
        LEASE,
        EVENT,
        VALIDATING_ADMISSION_POLICY,
        VALIDATING_ADMISSION_POLICY_BINDING,
        *GATEWAY_API_KINDS,
    )
}
"""Every resource this package knows, by (apiVersion, kind)."""


def kind_for(obj: Mapping[str, Any]) -> ResourceKind:
    """The ResourceKind of an object by ``apiVersion`` and ``kind``; KubernetesError if unknown."""
    key = (str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    try:
        return KNOWN_KINDS[key]
    except KeyError:
        raise KubernetesError(
            f"unknown resource apiVersion={key[0]!r} kind={key[1]!r}; "
            "add it to reconciler.kube.resources",
            status=None,
        ) from None
