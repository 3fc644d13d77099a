"""Controller profiles: what a fleet's ingress controller runs (image, args, RBAC, container).

A fleet names a profile (``profile: ingress-nginx``); the profile turns the fleet's facts (a
``ControllerContext``: class, controller class, election id, namespace) into the controller's
container and its RBAC rules. ``PROFILES`` is the registry: adding a second controller means adding
one ``Profile`` value there, nothing else in the fleet code changes.

Everything here is pure data and pure functions (no I/O, no clock).

The ``ingress-nginx`` profile follows the upstream chart (``charts/ingress-nginx``) with the
settings this project needs:

- ``--controller-class=ingress-reconciler.io/<fleet>`` and ``--ingress-class=<class>``: each
  fleet's controller serves exactly its own IngressClass;
- ``--election-id=ingress-reconciler-<fleet>``: one leader-election Lease per fleet, so two fleets
  in one namespace never share a leader;
- ``--update-status=false``: the reconciler publishes Ingress status itself (two writers flap), so
  the controller also gets no ``ingresses/status`` permission;
- ``--watch-ingress-without-class=false``: an Ingress without class is never picked up silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reconciler.model.cluster import JsonObject
from reconciler.model.errors import ConfigError

__all__ = [
    "CONTROLLER_CLASS_PREFIX",
    "INGRESS_NGINX",
    "INGRESS_NGINX_IMAGE",
    "PROFILES",
    "ControllerContext",
    "PolicyRule",
    "Profile",
    "profile_named",
]

CONTROLLER_CLASS_PREFIX = "ingress-reconciler.io"
"""Domain of every fleet's ``spec.controller`` (``ingress-reconciler.io/<fleet>``)."""

INGRESS_NGINX_IMAGE = (
    "registry.k8s.io/ingress-nginx/controller:v1.14.4"
    "@sha256:f8c7959ed0cc0c1dd6060f291fc50ccaf27a5497d182bbb6bc4ffed943616f23"
)
"""The ingress-nginx controller image (tag and digest of the controller-v1.14.4 release)."""


@dataclass(frozen=True, slots=True)
class ControllerContext:
    """What a profile needs to know of the fleet it runs for."""

    fleet: str
    """The fleet's name."""
    ingress_class_name: str
    """The IngressClass the controller serves."""
    controller_class: str
    """The IngressClass ``spec.controller`` value the controller matches."""
    election_id: str
    """Name of the controller's leader-election Lease (in ``namespace``)."""
    namespace: str
    """The namespace the controller runs in."""


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One RBAC rule (``rules[]`` of a Role or ClusterRole)."""

    api_groups: tuple[str, ...]
    """``apiGroups`` (``""`` is the core group)."""
    resources: tuple[str, ...]
    """``resources``."""
    verbs: tuple[str, ...]
    """``verbs``."""
    resource_names: tuple[str, ...] = ()
    """``resourceNames``; empty for every object."""

    def as_json(self) -> JsonObject:
        """The rule as the API's JSON."""
        rule: JsonObject = {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule


@dataclass(frozen=True, slots=True)
class Profile:
    """One ingress controller implementation a fleet can run."""

    name: str
    """The name fleets use in ``profile:``."""
    image: str
    """The default container image (a fleet's ``image`` overrides it)."""
    cluster_rules: tuple[PolicyRule, ...]
    """The ClusterRole rules the controller needs (cluster-wide reads)."""
    namespace_rules: Callable[[ControllerContext], tuple[PolicyRule, ...]]
    """The Role rules in the controller's own namespace (leader election, ...)."""
    args: Callable[[ControllerContext], tuple[str, ...]]
    """The container's ``args``."""
    container: Callable[[ControllerContext, str], JsonObject]
    """The controller container for (context, image), args included."""
    termination_grace_period_seconds: int
    """How long a pod may drain connections when stopped."""

    def controller_class(self, fleet: str) -> str:
        """The unique IngressClass ``spec.controller`` of ``fleet``'s controller."""
        return f"{CONTROLLER_CLASS_PREFIX}/{fleet}"


# --- ingress-nginx -----------------------------------------------------------------------------

_CORE = ""
_NETWORKING = "networking.k8s.io"
_READ = ("get", "list", "watch")

_NGINX_CLUSTER_RULES = (
    PolicyRule(
        (_CORE,),
        ("configmaps", "endpoints", "nodes", "pods", "secrets", "namespaces"),
        ("list", "watch"),
    ),
    PolicyRule(("coordination.k8s.io",), ("leases",), ("list", "watch")),
    PolicyRule((_CORE,), ("nodes",), ("get",)),
    PolicyRule((_CORE,), ("services",), _READ),
    PolicyRule((_NETWORKING,), ("ingresses",), _READ),
    PolicyRule((_CORE,), ("events",), ("create", "patch")),
    PolicyRule((_NETWORKING,), ("ingressclasses",), _READ),
    PolicyRule(("discovery.k8s.io",), ("endpointslices",), ("list", "watch", "get")),
)


def _nginx_namespace_rules(ctx: ControllerContext) -> tuple[PolicyRule, ...]:
    return (
        PolicyRule((_CORE,), ("namespaces",), ("get",)),
        PolicyRule((_CORE,), ("configmaps", "pods", "secrets", "endpoints"), _READ),
        PolicyRule((_CORE,), ("services",), _READ),
        PolicyRule((_NETWORKING,), ("ingresses",), _READ),
        PolicyRule((_NETWORKING,), ("ingressclasses",), _READ),
        PolicyRule(("coordination.k8s.io",), ("leases",), ("get", "update"), (ctx.election_id,)),
        PolicyRule(("coordination.k8s.io",), ("leases",), ("create",)),
        PolicyRule((_CORE,), ("events",), ("create", "patch")),
        PolicyRule(("discovery.k8s.io",), ("endpointslices",), ("list", "watch", "get")),
    )


def _nginx_args(ctx: ControllerContext) -> tuple[str, ...]:
    return (
        "/nginx-ingress-controller",
        f"--election-id={ctx.election_id}",
        f"--controller-class={ctx.controller_class}",
        f"--ingress-class={ctx.ingress_class_name}",
        "--update-status=false",
        "--watch-ingress-without-class=false",
    )


_NGINX_HEALTH_PORT = 10254


def _nginx_probe(failure_threshold: int) -> JsonObject:
    return {
        "httpGet": {"path": "/healthz", "port": _NGINX_HEALTH_PORT, "scheme": "HTTP"},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
        "timeoutSeconds": 1,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


def _nginx_container(ctx: ControllerContext, image: str) -> JsonObject:
    return {
        "name": "controller",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(_nginx_args(ctx)),
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "LD_PRELOAD", "value": "/usr/local/lib/libmimalloc.so"},
        ],
        "ports": [
            {"name": "http", "containerPort": 80, "protocol": "TCP"},
            {"name": "https", "containerPort": 443, "protocol": "TCP"},
            {"name": "metrics", "containerPort": _NGINX_HEALTH_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": _nginx_probe(5),
        "readinessProbe": _nginx_probe(3),
        "lifecycle": {"preStop": {"exec": {"command": ["/wait-shutdown"]}}},
        "resources": {"requests": {"cpu": "100m", "memory": "90Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 101,
            "runAsGroup": 82,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": False,
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


INGRESS_NGINX = Profile(
    name="ingress-nginx",
    image=INGRESS_NGINX_IMAGE,
    cluster_rules=_NGINX_CLUSTER_RULES,
    namespace_rules=_nginx_namespace_rules,
    args=_nginx_args,
    container=_nginx_container,
    termination_grace_period_seconds=300,
)
"""The ingress-nginx controller (kubernetes/ingress-nginx), one Deployment per fleet."""

PROFILES: Mapping[str, Profile] = MappingProxyType({INGRESS_NGINX.name: INGRESS_NGINX})
"""Every known profile by name (read-only)."""


def profile_named(name: str) -> Profile:
    """The profile called ``name``; ConfigError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(f"unknown controller profile {name!r}; known profiles: {known}") from None
