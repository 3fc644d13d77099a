"""Controller profiles: the ingress-nginx profile's args, container and RBAC, and the registry."""

from __future__ import annotations

import re

import pytest

from reconciler.fleets import profiles
from reconciler.fleets.profiles import (
    INGRESS_NGINX,
    PROFILES,
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
        "INGRESS_NGINX",
        "INGRESS_NGINX_IMAGE",
        "PROFILES",
        "ControllerContext",
        "PolicyRule",
        "Profile",
        "profile_named",
    }


def test_registry_holds_ingress_nginx_and_is_read_only() -> None:
    assert profile_named("ingress-nginx") is INGRESS_NGINX
    assert set(PROFILES) == {"ingress-nginx"}
    with pytest.raises(TypeError):
        PROFILES["other"] = INGRESS_NGINX  # type: ignore[index]


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown controller profile 'traefik'.*ingress-nginx"):
        profile_named("traefik")


def test_image_is_a_pinned_v1_14_release_of_registry_k8s_io() -> None:
    assert re.fullmatch(
        r"registry\.k8s\.io/ingress-nginx/controller:v1\.14\.\d+@sha256:[0-9a-f]{64}",
        INGRESS_NGINX.image,
    )


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
