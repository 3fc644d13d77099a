"""Controller profiles: the ingress-nginx profile's args, container and RBAC, and the registry."""

from __future__ import annotations

import re

import pytest

from reconciler.fleets import profiles
from reconciler.fleets.options import ControllerOptions, Feature
from reconciler.fleets.profiles import (
    DEFAULT_PROFILE,
    INGRESS_NGINX,
    PROFILES,
    TRAEFIK,
    ControllerContext,
    PolicyRule,
    profile_named,
)
from reconciler.model.errors import ConfigError

CTX = ControllerContext(
    fleet="public",
    ingress_class_name="public",
    controller_class="ingress-reconciler.io/public",
    election_id="ingress-reconciler-public",
    namespace="ingress-public",
)


def test_exported_surface() -> None:
    assert set(profiles.__all__) == {
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
    }


def test_registry_holds_both_profiles_traefik_first_and_is_read_only() -> None:
    assert profile_named("ingress-nginx") is INGRESS_NGINX
    assert profile_named("traefik") is TRAEFIK
    assert set(PROFILES) == {"ingress-nginx", "traefik"}
    assert DEFAULT_PROFILE == "traefik"
    with pytest.raises(TypeError):
        PROFILES["other"] = INGRESS_NGINX  # type: ignore[index]


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown controller profile 'haproxy'.*ingress-nginx, traefik"
    ):
        profile_named("haproxy")


def test_ingress_nginx_is_pinned_to_its_final_release_and_says_it_is_retired() -> None:
    assert re.fullmatch(
        r"registry\.k8s\.io/ingress-nginx/controller:v1\.15\.1@sha256:[0-9a-f]{64}",
        INGRESS_NGINX.image,
    )
    assert "retired" in INGRESS_NGINX.retired
    assert "traefik" in INGRESS_NGINX.retired
    assert TRAEFIK.retired == ""
    assert TRAEFIK.image.endswith(":v3.7.13")


def test_controller_class_is_unique_per_fleet() -> None:
    assert INGRESS_NGINX.controller_class("public") == "ingress-reconciler.io/public"
    assert INGRESS_NGINX.controller_class("private") != INGRESS_NGINX.controller_class("public")


def test_args_bind_the_controller_to_its_own_class_and_leave_status_to_us() -> None:
    args = INGRESS_NGINX.args(CTX)
    assert args[0] == "/nginx-ingress-controller"
    assert set(args[1:]) == {
        "--election-id=ingress-reconciler-public",
        "--controller-class=ingress-reconciler.io/public",
        "--ingress-class=public",
        "--update-status=false",
        "--watch-ingress-without-class=false",
    }
    assert not any(a.startswith("--publish-service") for a in args)


def test_container_runs_the_args_with_probes_ports_and_a_locked_down_security_context() -> None:
    container = INGRESS_NGINX.container(CTX, "example.test/nginx:1")
    assert container["image"] == "example.test/nginx:1"
    assert container["args"] == list(INGRESS_NGINX.args(CTX))
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": 80,
        "https": 443,
        "metrics": 10254,
    }
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": 10254, "scheme": "HTTP"}
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def _grants(rules: tuple[PolicyRule, ...], group: str, resource: str, verb: str) -> bool:
    return any(group in r.api_groups and resource in r.resources and verb in r.verbs for r in rules)


@pytest.mark.parametrize(
    ("group", "resource", "verb"),
    [
        ("", "services", "watch"),
        ("", "secrets", "list"),
        ("", "endpoints", "watch"),
        ("", "nodes", "get"),
        ("", "events", "create"),
        ("networking.k8s.io", "ingresses", "watch"),
        ("networking.k8s.io", "ingressclasses", "list"),
        ("discovery.k8s.io", "endpointslices", "watch"),
        ("coordination.k8s.io", "leases", "watch"),
    ],
)
def test_cluster_rules_cover_what_the_controller_watches(
    group: str, resource: str, verb: str
) -> None:
    assert _grants(INGRESS_NGINX.cluster_rules, group, resource, verb)


def test_no_rule_lets_the_controller_write_ingress_status_or_secrets() -> None:
    rules = (*INGRESS_NGINX.cluster_rules, *INGRESS_NGINX.namespace_rules(CTX))
    assert not any("ingresses/status" in r.resources for r in rules)
    for verb in ("create", "update", "patch", "delete"):
        assert not _grants(rules, "", "secrets", verb)
        assert not _grants(rules, "networking.k8s.io", "ingresses", verb)


def test_namespace_rules_limit_lease_updates_to_the_fleets_election_id() -> None:
    rules = INGRESS_NGINX.namespace_rules(CTX)
    updates = [r for r in rules if "leases" in r.resources and "update" in r.verbs]
    assert [r.resource_names for r in updates] == [("ingress-reconciler-public",)]
    assert _grants(rules, "coordination.k8s.io", "leases", "create")


def test_policy_rule_json() -> None:
    assert PolicyRule(("",), ("pods",), ("get",)).as_json() == {
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": ["get"],
    }
    assert PolicyRule(("a",), ("leases",), ("update",), ("x",)).as_json()["resourceNames"] == ["x"]


# --- traefik -------------------------------------------------------------------------------------

NGINX_PROVIDER = "--providers.kubernetesingressnginx"


def _flags(args: tuple[str, ...]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in args)


def test_traefik_serves_only_its_class_with_no_status_writes_and_no_classless_ingress() -> None:
    flags = _flags(TRAEFIK.args(CTX))
    assert flags[NGINX_PROVIDER] == "true"
    assert flags[f"{NGINX_PROVIDER}.ingressclass"] == "public"
    assert flags[f"{NGINX_PROVIDER}.controllerclass"] == "ingress-reconciler.io/public"
    assert flags[f"{NGINX_PROVIDER}.watchingresswithoutclass"] == "false"
    assert flags[f"{NGINX_PROVIDER}.allowsnippetannotations"] == "false"
    # status is written only with publishService / publishStatusAddress: never set
    assert not any("publish" in flag for flag in flags)
    # the provider is GA since v3.7.2: no experimental flag
    assert not any(flag.startswith("--experimental") for flag in flags)
    assert flags["--entrypoints.web.address"] == ":8000/tcp"
    assert flags["--entrypoints.websecure.address"] == ":8443/tcp"
    assert flags["--entrypoints.websecure.http.tls"] == "true"


def test_traefik_rbac_is_reads_of_what_its_provider_watches_and_nothing_else() -> None:
    rules = TRAEFIK.cluster_rules
    watched = {
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
        ("", "services"),
        ("", "secrets"),
        ("", "configmaps"),
        ("discovery.k8s.io", "endpointslices"),
    }
    granted = {(g, r) for rule in rules for g in rule.api_groups for r in rule.resources}
    assert granted == watched
    assert {v for rule in rules for v in rule.verbs} == {"list", "watch"}
    assert TRAEFIK.namespace_rules(CTX) == ()


def test_traefik_container_is_unprivileged_with_named_ports_and_ping_probes() -> None:
    container = TRAEFIK.container(CTX, "example.test/traefik:3")
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": 8000,
        "https": 8443,
        "admin": 8080,
    }
    assert container["readinessProbe"]["httpGet"]["path"] == "/ping"
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert "volumeMounts" not in container


def _ctx(**options: object) -> ControllerContext:
    return ControllerContext(
        fleet="public",
        ingress_class_name="public",
        controller_class="ingress-reconciler.io/public",
        election_id="ingress-reconciler-public",
        namespace="ingress-public",
        config_name="ingress-public",
        options=ControllerOptions.of(key="fleets[public]", **options),  # type: ignore[arg-type]
    )


def test_fleet_options_become_traefik_flags_and_a_default_certificate_file() -> None:
    ctx = _ctx(
        default_certificate="wildcard",
        default_backend="apps/fallback",
        custom_http_errors=(503, 404),
        proxy_connect_timeout=3,
        proxy_read_timeout=30,
        proxy_send_timeout=31,
        proxy_body_size="8m",
    )
    flags = _flags(TRAEFIK.args(ctx))
    assert flags[f"{NGINX_PROVIDER}.defaultbackendservice"] == "apps/fallback"
    assert flags[f"{NGINX_PROVIDER}.customhttperrors"] == "404,503"
    assert flags[f"{NGINX_PROVIDER}.proxyconnecttimeout"] == "3"
    assert flags[f"{NGINX_PROVIDER}.proxyreadtimeout"] == "30"
    assert flags[f"{NGINX_PROVIDER}.proxysendtimeout"] == "31"
    assert flags[f"{NGINX_PROVIDER}.proxybodysize"] == str(8 * 1024 * 1024)
    assert flags["--providers.file.filename"] == "/etc/traefik/dynamic/dynamic.yaml"
    dynamic = TRAEFIK.config(ctx)["dynamic.yaml"]
    assert "certFile: /etc/traefik/default-certificate/tls.crt" in dynamic
    assert "keyFile: /etc/traefik/default-certificate/tls.key" in dynamic
    volumes = {v["name"]: v for v in TRAEFIK.volumes(ctx)}
    assert volumes["default-certificate"]["secret"] == {"secretName": "wildcard"}
    assert volumes["dynamic"]["configMap"] == {"name": "ingress-public"}
    mounts = {m["name"]: m["mountPath"] for m in TRAEFIK.container(ctx, "x")["volumeMounts"]}
    assert mounts == {
        "dynamic": "/etc/traefik/dynamic",
        "default-certificate": "/etc/traefik/default-certificate",
    }


def test_fleet_options_become_ingress_nginx_flags_and_configmap_keys() -> None:
    ctx = _ctx(
        default_certificate="wildcard",
        ssl_passthrough=True,
        default_backend="apps/fallback",
        custom_http_errors=(404,),
        proxy_read_timeout=30,
        proxy_body_size="1k",
    )
    args = INGRESS_NGINX.args(ctx)
    assert "--default-ssl-certificate=ingress-public/wildcard" in args
    assert "--enable-ssl-passthrough" in args
    assert "--default-backend-service=apps/fallback" in args
    assert "--configmap=ingress-public/ingress-public" in args
    assert INGRESS_NGINX.config(ctx) == {
        "allow-snippet-annotations": "false",
        "proxy-read-timeout": "30",
        "proxy-body-size": "1024",
        "custom-http-errors": "404",
    }


def test_both_profiles_can_do_every_fleet_option() -> None:
    assert frozenset(Feature) == TRAEFIK.features == INGRESS_NGINX.features
