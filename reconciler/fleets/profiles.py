"""Controller profiles: what a fleet's ingress controller runs (image, args, RBAC, container).

A fleet names a profile (``profile: traefik``); the profile turns the fleet's facts (a
``ControllerContext``: class, controller class, election id, namespace, options) into the
controller's container, its volumes, its configuration and its RBAC rules. ``PROFILES`` is the
registry: adding a controller means adding one ``Profile`` value there, nothing else in the fleet
code changes.

Everything here is pure data and pure functions (no I/O, no clock).

Every profile serves exactly its fleet's IngressClass (its ``spec.controller`` is
``ingress-reconciler.io/<fleet>``), never an Ingress without a class, and never writes Ingress
status: the reconciler publishes status itself (two writers flap), so no controller gets the
``ingresses/status`` permission.

- ``traefik`` (the default): Traefik v3.7 with its ingress-nginx-compatible Ingress provider
  (``providers.kubernetesIngressNGINX``), which reads ``nginx.ingress.kubernetes.io/*``
  annotations. It keeps no leader election and needs only reads.
- ``ingress-nginx``: the kubernetes/ingress-nginx controller, pinned to its final release
  (v1.15.1). The project was retired upstream in March 2026 and gets no more fixes; the profile
  stays for clusters that run it, and :data:`INGRESS_NGINX` carries the warning the reconciler
  logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from reconciler.fleets.options import ControllerOptions, Feature
from reconciler.model.cluster import JsonObject
from reconciler.model.errors import ConfigError

__all__ = [
    "CONTROLLER_CLASS_PREFIX",
    "DEFAULT_PROFILE",
    "INGRESS_NGINX",
    "INGRESS_NGINX_IMAGE",
    "PROFILES",
    "TRAEFIK",
    "TRAEFIK_IMAGE",
    "ControllerContext",
    "PolicyRule",
    "Profile",
    "profile_named",
]

CONTROLLER_CLASS_PREFIX = "ingress-reconciler.io"
"""Domain of every fleet's ``spec.controller`` (``ingress-reconciler.io/<fleet>``)."""

INGRESS_NGINX_IMAGE = (
    "registry.k8s.io/ingress-nginx/controller:v1.15.1"
    "@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1"
)
"""The ingress-nginx controller image (tag and digest of controller-v1.15.1, its final release)."""

TRAEFIK_IMAGE = "docker.io/library/traefik:v3.7.13"
"""The Traefik image (the official image's v3.7.13 tag)."""


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
    config_name: str = ""
    """Name of the fleet's ConfigMap (in ``namespace``), when the profile has configuration."""
    options: ControllerOptions = field(default_factory=ControllerOptions)
    """The fleet's controller-wide options."""
    gateway_class_selector: str = ""
    """The label selector of the fleet's GatewayClass, when the controller serves the fleet's
    Gateway (Gateway API) too; empty when it does not."""
    service_name: str = ""
    """The fleet's load-balancer Service (in ``namespace``), whose address a Gateway shows."""


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


def _no_config(_: ControllerContext) -> dict[str, str]:
    return {}


def _no_volumes(_: ControllerContext) -> list[JsonObject]:
    return []


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
    features: frozenset[Feature] = frozenset(Feature)
    """The fleet options the profile can honour (others fail at config load)."""
    config: Callable[[ControllerContext], dict[str, str]] = _no_config
    """The data of the fleet's ConfigMap (none when empty)."""
    volumes: Callable[[ControllerContext], list[JsonObject]] = _no_volumes
    """The pod's volumes (mounted by the container)."""
    pod_security_context: JsonObject = field(default_factory=dict)
    """The pod's ``securityContext``."""
    retired: str = ""
    """Why the controller should not be chosen any more (logged and shown); empty when
    maintained."""
    gateway_rules: tuple[PolicyRule, ...] = ()
    """More ClusterRole rules when the fleet serves a Gateway."""
    gateway_controller: str = ""
    """The GatewayClass ``spec.controllerName`` the controller serves; empty: no Gateway API."""
    gateway_ports: tuple[int, int] = (0, 0)
    """The (HTTP, HTTPS) listener ports of a fleet Gateway: the controller's own ports."""

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
    opts = ctx.options
    args = [
        "/nginx-ingress-controller",
        f"--election-id={ctx.election_id}",
        f"--controller-class={ctx.controller_class}",
        f"--ingress-class={ctx.ingress_class_name}",
        "--update-status=false",
        "--watch-ingress-without-class=false",
    ]
    if ctx.config_name and _nginx_config(ctx):
        args.append(f"--configmap={ctx.namespace}/{ctx.config_name}")
    if opts.default_certificate:
        args.append(f"--default-ssl-certificate={ctx.namespace}/{opts.default_certificate}")
    if opts.ssl_passthrough:
        args.append("--enable-ssl-passthrough")
    if opts.default_backend:
        args.append(f"--default-backend-service={opts.default_backend}")
    return tuple(args)


def _nginx_config(ctx: ControllerContext) -> dict[str, str]:
    """The controller ConfigMap's keys (ingress-nginx's names)."""
    opts = ctx.options
    data = {"allow-snippet-annotations": str(opts.allow_snippet_annotations).lower()}
    for key, seconds in (
        ("proxy-connect-timeout", opts.proxy_connect_timeout),
        ("proxy-read-timeout", opts.proxy_read_timeout),
        ("proxy-send-timeout", opts.proxy_send_timeout),
    ):
        if seconds is not None:
            data[key] = str(seconds)
    if opts.proxy_body_size is not None:
        data["proxy-body-size"] = str(opts.proxy_body_size)
    if opts.custom_http_errors:
        data["custom-http-errors"] = ",".join(str(c) for c in opts.custom_http_errors)
    return data


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
    config=_nginx_config,
    retired=(
        "ingress-nginx was retired upstream in March 2026: v1.15.1 is its final release and "
        "its security fixes have stopped; move the fleet to the traefik profile (same "
        "IngressClass, no Ingress edits; see docs/fleets.md)"
    ),
)
"""The ingress-nginx controller (kubernetes/ingress-nginx), retired upstream; one Deployment per
fleet."""

# --- traefik ------------------------------------------------------------------------------------

TRAEFIK_WEB_PORT = 8000
TRAEFIK_WEBSECURE_PORT = 8443
TRAEFIK_ADMIN_PORT = 8080
TRAEFIK_DYNAMIC_DIR = "/etc/traefik/dynamic"
"""Mount path of the fleet ConfigMap (the file provider's dynamic configuration)."""
TRAEFIK_CERT_DIR = "/etc/traefik/default-certificate"
"""Mount path of the fleet's default certificate Secret (``tls.crt``, ``tls.key``)."""

# What providers.kubernetesIngressNGINX watches (pkg/provider/kubernetes/ingress-nginx/client.go):
# informers (list + watch) on Ingresses, Services, EndpointSlices, Secrets and ConfigMaps in the
# watched namespaces, and on IngressClasses cluster-wide. It writes nothing: status only with
# publishService/publishStatusAddress, which this profile never sets.
_TRAEFIK_CLUSTER_RULES = (
    PolicyRule((_NETWORKING,), ("ingresses", "ingressclasses"), ("list", "watch")),
    PolicyRule((_CORE,), ("services", "secrets", "configmaps"), ("list", "watch")),
    PolicyRule(("discovery.k8s.io",), ("endpointslices",), ("list", "watch")),
)


# What providers.kubernetesGateway reads and writes (Traefik's kubernetes-gateway-rbac.yml): it
# reads the Gateway API kinds, Namespaces, Services, EndpointSlices, Secrets and ConfigMaps, and
# writes the status of the GatewayClasses, Gateways and Routes it serves.
_GATEWAY_API = "gateway.networking.k8s.io"
_TRAEFIK_GATEWAY_RULES = (
    PolicyRule((_CORE,), ("namespaces",), ("list", "watch")),
    PolicyRule((_CORE,), ("services", "secrets", "configmaps"), _READ),
    PolicyRule(
        (_GATEWAY_API,),
        (
            "gatewayclasses",
            "gateways",
            "httproutes",
            "grpcroutes",
            "tlsroutes",
            "referencegrants",
            "backendtlspolicies",
        ),
        _READ,
    ),
    PolicyRule(
        (_GATEWAY_API,),
        (
            "gatewayclasses/status",
            "gateways/status",
            "httproutes/status",
            "grpcroutes/status",
            "tlsroutes/status",
            "backendtlspolicies/status",
        ),
        ("update",),
    ),
)


def _traefik_namespace_rules(_: ControllerContext) -> tuple[PolicyRule, ...]:
    return ()  # no leader election, no writes


def _traefik_dynamic(ctx: ControllerContext) -> dict[str, str]:
    """The file provider's dynamic configuration: the fleet's default certificate."""
    if not ctx.options.default_certificate:
        return {}
    return {
        "dynamic.yaml": (
            "tls:\n"
            "  stores:\n"
            "    default:\n"
            "      defaultCertificate:\n"
            f"        certFile: {TRAEFIK_CERT_DIR}/tls.crt\n"
            f"        keyFile: {TRAEFIK_CERT_DIR}/tls.key\n"
        )
    }


def _traefik_args(ctx: ControllerContext) -> tuple[str, ...]:
    opts = ctx.options
    nginx = "--providers.kubernetesingressnginx"
    args = [
        f"--entrypoints.web.address=:{TRAEFIK_WEB_PORT}/tcp",
        f"--entrypoints.websecure.address=:{TRAEFIK_WEBSECURE_PORT}/tcp",
        "--entrypoints.websecure.http.tls=true",
        f"--entrypoints.traefik.address=:{TRAEFIK_ADMIN_PORT}/tcp",
        "--ping=true",
        "--ping.entrypoint=traefik",
        "--metrics.prometheus=true",
        "--metrics.prometheus.entrypoint=traefik",
        "--global.checknewversion=false",
        "--global.sendanonymoususage=false",
        "--log.level=INFO",
        f"{nginx}=true",
        f"{nginx}.ingressclass={ctx.ingress_class_name}",
        f"{nginx}.controllerclass={ctx.controller_class}",
        f"{nginx}.watchingresswithoutclass=false",
        f"{nginx}.httpentrypoint=web",
        f"{nginx}.httpsentrypoint=websecure",
        f"{nginx}.allowsnippetannotations={str(opts.allow_snippet_annotations).lower()}",
    ]
    if opts.default_backend:
        args.append(f"{nginx}.defaultbackendservice={opts.default_backend}")
    if opts.custom_http_errors:
        codes = ",".join(str(c) for c in opts.custom_http_errors)
        args.append(f"{nginx}.customhttperrors={codes}")
    for flag, seconds in (
        ("proxyconnecttimeout", opts.proxy_connect_timeout),
        ("proxyreadtimeout", opts.proxy_read_timeout),
        ("proxysendtimeout", opts.proxy_send_timeout),
    ):
        if seconds is not None:
            args.append(f"{nginx}.{flag}={seconds}")
    if opts.proxy_body_size is not None:
        args.append(f"{nginx}.proxybodysize={opts.proxy_body_size}")
    if opts.default_certificate:  # the dynamic configuration names it
        args.append(f"--providers.file.filename={TRAEFIK_DYNAMIC_DIR}/dynamic.yaml")
    if ctx.gateway_class_selector:
        gateway = "--providers.kubernetesgateway"
        args += [
            f"{gateway}=true",
            # only the fleet's own GatewayClass, not another fleet's
            f"{gateway}.labelselector={ctx.gateway_class_selector}",
            f"{gateway}.statusaddress.service.name={ctx.service_name}",
            f"{gateway}.statusaddress.service.namespace={ctx.namespace}",
        ]
    return tuple(args)


def _traefik_volumes(ctx: ControllerContext) -> list[JsonObject]:
    if not ctx.options.default_certificate:
        return []
    return [
        {"name": "dynamic", "configMap": {"name": ctx.config_name}},
        {"name": "default-certificate", "secret": {"secretName": ctx.options.default_certificate}},
    ]


def _traefik_probe(failure_threshold: int) -> JsonObject:
    return {
        "httpGet": {"path": "/ping", "port": "admin", "scheme": "HTTP"},
        "initialDelaySeconds": 2,
        "periodSeconds": 10,
        "timeoutSeconds": 2,
        "successThreshold": 1,
        "failureThreshold": failure_threshold,
    }


def _traefik_container(ctx: ControllerContext, image: str) -> JsonObject:
    container: JsonObject = {
        "name": "controller",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": list(_traefik_args(ctx)),
        "ports": [
            {"name": "http", "containerPort": TRAEFIK_WEB_PORT, "protocol": "TCP"},
            {"name": "https", "containerPort": TRAEFIK_WEBSECURE_PORT, "protocol": "TCP"},
            {"name": "admin", "containerPort": TRAEFIK_ADMIN_PORT, "protocol": "TCP"},
        ],
        "livenessProbe": _traefik_probe(3),
        "readinessProbe": _traefik_probe(1),
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    if ctx.options.default_certificate:
        container["volumeMounts"] = [
            {"name": "dynamic", "mountPath": TRAEFIK_DYNAMIC_DIR, "readOnly": True},
            {"name": "default-certificate", "mountPath": TRAEFIK_CERT_DIR, "readOnly": True},
        ]
    return container


TRAEFIK = Profile(
    name="traefik",
    image=TRAEFIK_IMAGE,
    cluster_rules=_TRAEFIK_CLUSTER_RULES,
    gateway_rules=_TRAEFIK_GATEWAY_RULES,
    gateway_controller="traefik.io/gateway-controller",
    gateway_ports=(TRAEFIK_WEB_PORT, TRAEFIK_WEBSECURE_PORT),
    namespace_rules=_traefik_namespace_rules,
    args=_traefik_args,
    container=_traefik_container,
    termination_grace_period_seconds=60,
    config=_traefik_dynamic,
    volumes=_traefik_volumes,
)
"""Traefik v3.7 with its ingress-nginx-compatible Ingress provider; the default profile."""

DEFAULT_PROFILE = TRAEFIK.name
"""The profile of a fleet that names none."""

PROFILES: Mapping[str, Profile] = MappingProxyType(
    {TRAEFIK.name: TRAEFIK, INGRESS_NGINX.name: INGRESS_NGINX}
)
"""Every known profile by name (read-only)."""


def profile_named(name: str) -> Profile:
    """The profile called ``name``; ConfigError listing the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ConfigError(f"unknown controller profile {name!r}; known profiles: {known}") from None
