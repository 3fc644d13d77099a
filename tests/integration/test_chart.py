"""The Helm chart with real helm (v3 and v4) and a real kube-apiserver.

- ``helm lint --strict`` and ``helm template`` with helm 3 and helm 4, on the minimal values (the
  defaults plus the one value a user must set, ``ownerId``) and on a full example; assertions on
  the rendered objects; the rendered configuration is loaded with
  ``reconciler.app.settings.load_settings`` (the reconciler's own validation, not a copy of its
  rules).
- Impossible combinations fail at render time with a message saying what to change.
- ``helm install`` into the test apiserver: the objects exist; NOTES tell owner id, fleets, checks.
- RBAC proof: after ``helm install``, one full pass (fleets → Ingress status → DNS into BIND) runs
  as the chart's ServiceAccount (a real token from the TokenRequest API) and succeeds; the same
  identity is refused Secrets (anywhere), writes outside fleet namespaces, and escalation to a
  ClusterRole that is not a fleet's.
"""

from __future__ import annotations

import copy
import io
import os
import secrets
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from e2e.servers.gateway_api import GatewayApiMissingError, install_gateway_api
from e2e.servers.moto import MotoServer
from reconciler.app import cli
from reconciler.app.settings import Rfc2136Settings, Settings, load_settings
from tests.fixtures.moto import aws_client_kwargs
from tests.integration.test_elbv2 import make_network

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "ingress-reconciler"
BIN = Path.home() / ".cache" / "ingress-reconciler" / "bin"
HELMS = {"helm3": ("HELM", "helm3"), "helm4": ("HELM4", "helm4")}
SECRETS_DIR = "/etc/ingress-reconciler/secrets"

MINIMAL: dict[str, Any] = {"ownerId": "cluster-a"}
FULL: dict[str, Any] = {
    "ownerId": "cluster-a",
    "policy": "sync",
    "clusterName": "cluster-a",
    "txtPrefix": "own-",
    "domainFilter": {"include": ["example.com"]},
    "aws": {"region": "eu-west-1", "credentialsSecret": "aws-keys"},
    "providers": [
        {"name": "route53-public", "type": "route53", "zoneType": "public"},
        {
            "name": "bind-private",
            "type": "rfc2136",
            "view": "private",
            "host": "10.0.0.53",
            "zones": ["internal.example.com"],
            "tsig": {"keyName": "ddns-key", "secretRef": {"name": "tsig", "key": "secret"}},
        },
    ],
    "fleets": [
        {
            "name": "public",
            "ingressClassName": "public",
            "visibility": "public",
            "namespace": "ingress-public",
            "replicas": 2,
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "https", "port": 443, "targetPort": "https"},
            ],
            "loadBalancer": {"mode": "elbv2", "targetType": "ip"},
            "dnsProviders": ["route53-public"],
            "gateway": {"gatewayClassName": "public-gateways"},
        },
        {
            "name": "private",
            "ingressClassName": "private",
            "visibility": "private",
            "default": True,
            "namespace": "ingress-private",
            "dnsProviders": ["bind-private"],
        },
    ],
    "tenants": [
        {
            "name": "team-a",
            "namespaces": ["a"],
            "domains": ["a.example.com"],
            "fleets": ["public", "private"],
        }
    ],
    "tenancy": {"unassigned": "deny"},
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}},
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
}


# --- helm --------------------------------------------------------------------------------------


def helm_binary(which: str) -> str:
    """helm 3 ($HELM) or helm 4 ($HELM4), else the project's cache; fail loudly when missing."""
    variable, name = HELMS[which]
    candidate = os.environ.get(variable) or str(BIN / name)
    if not Path(candidate).is_file():
        pytest.fail(
            f"{which} is missing at {candidate}: run scripts/install.d/20-helm (helm v3.19.0 and "
            f"v4.1.4 into {BIN}) or set ${variable}",
            pytrace=False,
        )
    return candidate


@pytest.fixture(params=sorted(HELMS))
def helm(request: pytest.FixtureRequest) -> str:
    """Each helm major version in turn."""
    return helm_binary(str(request.param))


def run_helm(
    helm: str, *args: str, kubeconfig: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run helm with a private home (no user repositories or plugins leak in)."""
    home = ROOT / ".pytest_cache" / "helm-home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [helm, *args], capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def values_file(tmp_path: Path, values: Mapping[str, Any]) -> Path:
    path = tmp_path / f"values-{secrets.token_hex(3)}.yaml"
    path.write_text(yaml.safe_dump(dict(values)))
    return path


def render(helm: str, tmp_path: Path, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``helm template`` of the chart; the documents (fails the test when helm fails)."""
    result = run_helm(
        helm, "template", "r", str(CHART), "-n", "ir", "-f", str(values_file(tmp_path, values))
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(helm: str, tmp_path: Path, values: Mapping[str, Any]) -> str:
    """``helm template`` that must fail; its error output."""
    result = run_helm(
        helm, "template", "r", str(CHART), "-n", "ir", "-f", str(values_file(tmp_path, values))
    )
    assert result.returncode != 0, "rendering should have failed"
    return result.stderr


def one(
    docs: Sequence[dict[str, Any]], kind: str, name: str, namespace: str = ""
) -> dict[str, Any]:
    found = [
        d
        for d in docs
        if d["kind"] == kind
        and d["metadata"]["name"] == name
        and d["metadata"].get("namespace", "") == namespace
    ]
    assert len(found) == 1, f"{kind} {namespace}/{name}: {len(found)} rendered"
    return found[0]


def kinds(docs: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted(
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs
    )


def rendered_settings(docs: Sequence[dict[str, Any]], tmp_path: Path, **env: str) -> Settings:
    """The ConfigMap's config.yaml, loaded by the reconciler's own settings loader."""
    config = one(docs, "ConfigMap", "r-ingress-reconciler", "ir")["data"]["config.yaml"]
    path = tmp_path / "config.yaml"
    path.write_text(config)
    return load_settings(path, env)


def rules_of(docs: Sequence[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, namespace, rule) of every (Cluster)Role rule rendered."""
    return [
        (d["kind"], d["metadata"].get("namespace", ""), rule)
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
        for rule in d.get("rules", [])
    ]


# --- lint and template -------------------------------------------------------------------------


@pytest.mark.parametrize("values", [MINIMAL, FULL], ids=["minimal", "full"])
def test_lint_strict(helm: str, tmp_path: Path, values: dict[str, Any]) -> None:
    result = run_helm(
        helm, "lint", "--strict", str(CHART), "-f", str(values_file(tmp_path, values))
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_lint_reports_a_missing_owner_id(helm: str) -> None:
    # helm lint reports a template's `fail` without failing (helm's choice); install and template
    # do fail (test_impossible_values_fail_at_render_time).
    result = run_helm(helm, "lint", "--strict", str(CHART))
    assert "ownerId: set an owner id unique to this cluster" in result.stdout + result.stderr


def test_minimal_render(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, MINIMAL)
    assert kinds(docs) == [
        ("ClusterRole", "", "r-ingress-reconciler"),
        ("ClusterRoleBinding", "", "r-ingress-reconciler"),
        ("ConfigMap", "ir", "r-ingress-reconciler"),
        ("Deployment", "ir", "r-ingress-reconciler"),
        ("PodDisruptionBudget", "ir", "r-ingress-reconciler"),
        ("Role", "ir", "r-ingress-reconciler-leader-election"),
        ("RoleBinding", "ir", "r-ingress-reconciler-leader-election"),
        ("Service", "ir", "r-ingress-reconciler-metrics"),
        ("ServiceAccount", "ir", "r-ingress-reconciler"),
    ]
    deployment = one(docs, "Deployment", "r-ingress-reconciler", "ir")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "r-ingress-reconciler"
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/ingress-reconciler/ingress-reconciler:0.1.0"
    assert container["args"] == ["--log-level", "info"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/ingress-reconciler/config.yaml"]["subPath"] == "config.yaml"
    assert "/tmp" in mounts  # the root filesystem is read-only
    assert SECRETS_DIR not in mounts  # nothing referenced, nothing mounted
    annotations = spec["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/config"]) == 64
    assert len(annotations["checksum/secrets"]) == 64
    pdb = one(docs, "PodDisruptionBudget", "r-ingress-reconciler", "ir")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]
    metrics = one(docs, "Service", "r-ingress-reconciler-metrics", "ir")
    assert metrics["spec"]["ports"][0]["targetPort"] == "http"
    assert metrics["spec"]["selector"] == spec["selector"]["matchLabels"]

    settings = rendered_settings(docs, tmp_path)
    assert settings.owner_id == "cluster-a"
    assert settings.policy == "sync"
    assert settings.providers == ()
    assert settings.fleet_specs() == ()


def test_minimal_rbac_reads_and_writes_only_what_a_dns_pass_needs(
    helm: str, tmp_path: Path
) -> None:
    docs = render(helm, tmp_path, MINIMAL)
    cluster = {
        (g, r): set(rule["verbs"])
        for kind, _, rule in rules_of(docs)
        if kind == "ClusterRole"
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert cluster == {
        ("networking.k8s.io", "ingresses"): {"get", "list", "watch"},
        ("networking.k8s.io", "ingressclasses"): {"get", "list", "watch"},
        ("networking.k8s.io", "ingresses/status"): {"get", "patch", "update"},
        ("", "services"): {"get", "list", "watch"},
        ("", "namespaces"): {"get", "list", "watch"},
        ("events.k8s.io", "events"): {"create", "patch", "update"},
        **{
            ("gateway.networking.k8s.io", kind): {"get", "list", "watch"}
            for kind in (
                "gateways",
                "listenersets",
                "httproutes",
                "grpcroutes",
                "tlsroutes",
                "tcproutes",
                "udproutes",
            )
        },
    }
    quiet = render(helm, tmp_path, {**MINIMAL, "gatewayRoutes": False})
    assert not [r for _, _, r in rules_of(quiet) if "gateway.networking.k8s.io" in r["apiGroups"]]
    lease = one(docs, "Role", "r-ingress-reconciler-leader-election", "ir")
    assert lease["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["ingress-reconciler"],
            "verbs": ["get", "update", "patch"],
        },
    ]


@pytest.mark.parametrize("values", [MINIMAL, FULL], ids=["minimal", "full"])
def test_no_rule_grants_secrets_or_wildcards(
    helm: str, tmp_path: Path, values: dict[str, Any]
) -> None:
    for kind, namespace, rule in rules_of(render(helm, tmp_path, values)):
        assert "secrets" not in rule["resources"], (kind, namespace, rule)
        assert "*" not in rule["resources"] + rule["verbs"] + rule["apiGroups"], rule


def test_full_render(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, FULL)
    names = kinds(docs)
    for expected in [
        ("Namespace", "", "ingress-private"),
        ("Namespace", "", "ingress-public"),
        ("Role", "ingress-private", "r-ingress-reconciler-fleet"),
        ("Role", "ingress-public", "r-ingress-reconciler-fleet"),
        ("RoleBinding", "ingress-public", "r-ingress-reconciler-fleet"),
        ("ServiceMonitor", "ir", "r-ingress-reconciler"),
        ("ValidatingAdmissionPolicy", "", "r-tenancy"),
        ("ValidatingAdmissionPolicyBinding", "", "r-tenancy"),
        ("ConfigMap", "ir", "r-tenancy"),
    ]:
        assert expected in names

    # Valid for the reconciler itself, with the secret file where the pod mounts it.
    settings = rendered_settings(docs, tmp_path)
    specs = {s.name: s for s in settings.fleet_specs()}
    assert specs["public"].lb_mode == "elbv2"
    assert specs["private"].is_default is True
    assert specs["private"].dns_providers == ("bind-private",)
    assert settings.tenancy_config().tenants[0].name == "team-a"
    bind = next(p for p in settings.providers if p.name == "bind-private")
    assert isinstance(bind, Rfc2136Settings)
    assert bind.tsig is not None
    assert str(bind.tsig.secret_file) == f"{SECRETS_DIR}/tsig/secret"
    config_text = one(docs, "ConfigMap", "r-ingress-reconciler", "ir")["data"]["config.yaml"]
    assert "secretRef" not in config_text
    assert "credentialsSecret" not in config_text
    assert "admissionPolicy" not in config_text

    pod = one(docs, "Deployment", "r-ingress-reconciler", "ir")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["secrets"] == {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["secrets"]["projected"]["sources"] == [
        {"secret": {"name": "tsig", "items": [{"key": "secret", "path": "tsig/secret"}]}}
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
        "name": "aws-keys",
        "key": "aws_access_key_id",
    }
    sa = one(docs, "ServiceAccount", "r-ingress-reconciler", "ir")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
    monitor = one(docs, "ServiceMonitor", "r-ingress-reconciler", "ir")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"

    # Helm's namespaces, not the reconciler's (it never labels or deletes one it did not make).
    labels = one(docs, "Namespace", "ingress-public")["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    assert labels["app.kubernetes.io/component"] == "fleet-namespace"
    assert "ingress-reconciler.io/owner" not in labels


def test_full_rbac_writes_only_named_fleet_objects(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, FULL)
    cluster_role = one(docs, "ClusterRole", "r-ingress-reconciler")
    writes = [
        rule
        for rule in cluster_role["rules"]
        if set(rule["verbs"]) & {"create", "patch", "update", "delete", "escalate", "bind"}
    ]
    unnamed = [r for r in writes if "resourceNames" not in r]
    status_rule = {
        "apiGroups": ["networking.k8s.io"],
        "resources": ["ingresses/status"],
        "verbs": ["get", "patch", "update"],
    }
    events_rule = {
        "apiGroups": ["events.k8s.io"],
        "resources": ["events"],
        "verbs": ["create", "patch", "update"],
    }
    assert unnamed == [status_rule, events_rule]
    named = {
        r["resources"][0]: (r["resourceNames"], set(r["verbs"])) for r in writes if r not in unnamed
    }
    assert named == {
        "ingressclasses": (["private", "public"], {"create", "patch", "update", "delete"}),
        "clusterroles": (
            ["ingress-reconciler-private", "ingress-reconciler-public"],
            {"create", "patch", "update", "delete", "escalate", "bind"},
        ),
        "clusterrolebindings": (
            ["ingress-reconciler-private", "ingress-reconciler-public"],
            {"create", "patch", "update", "delete"},
        ),
        "gatewayclasses": (["public-gateways"], {"create", "patch", "update", "delete"}),
    }
    # elbv2 mode: the fleet Service's status is written by the reconciler (no cloud controller).
    role = one(docs, "Role", "r-ingress-reconciler-fleet", "ingress-public")
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {
        "serviceaccounts",
        "services",
        "services/status",
        "configmaps",
        "deployments",
        "daemonsets",
        "poddisruptionbudgets",
        "horizontalpodautoscalers",
        "roles",
        "rolebindings",
        "gateways",
    }


def test_retired_fleets_keep_their_delete_rights(helm: str, tmp_path: Path) -> None:
    values = copy.deepcopy(FULL)
    values["rbac"] = {
        "retiredFleets": [{"name": "old", "ingressClassName": "old", "namespace": "ingress-old"}]
    }
    docs = render(helm, tmp_path, values)
    assert ("Role", "ingress-old", "r-ingress-reconciler-fleet") in kinds(docs)
    assert ("Namespace", "", "ingress-old") in kinds(docs)  # kept until the fleet leaves the list
    cluster_role = one(docs, "ClusterRole", "r-ingress-reconciler")
    names = {
        r["resources"][0]: r["resourceNames"] for r in cluster_role["rules"] if "resourceNames" in r
    }
    assert "old" in names["ingressclasses"]
    assert "ingress-reconciler-old" in names["clusterroles"]


def test_leader_election_off_with_one_replica(helm: str, tmp_path: Path) -> None:
    docs = render(
        helm, tmp_path, {**MINIMAL, "replicaCount": 1, "leaderElection": {"enabled": False}}
    )
    names = [n for _, _, n in kinds(docs)]
    assert "r-ingress-reconciler-leader-election" not in names
    assert ("PodDisruptionBudget", "ir", "r-ingress-reconciler") not in kinds(docs)
    assert rendered_settings(docs, tmp_path).leader_election.enabled is False


def test_config_checksum_rolls_pods_only_when_the_config_changes(helm: str, tmp_path: Path) -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = one(render(helm, tmp_path, values), "Deployment", "r-ingress-reconciler", "ir")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    base = checksum(MINIMAL)
    assert checksum({**MINIMAL, "interval": 30}) != base
    assert checksum({**MINIMAL, "resources": {"requests": {"cpu": "1"}}}) == base


FAILURES = [
    pytest.param({}, "ownerId: set an owner id unique to this cluster", id="no-owner"),
    pytest.param(
        {"ownerId": "default"}, "ownerId: 'default' is refused with policy sync", id="default-sync"
    ),
    pytest.param(
        {**MINIMAL, "leaderElection": {"enabled": False}},
        "replicaCount: more than one replica needs leaderElection.enabled=true",
        id="replicas-without-election",
    ),
    pytest.param(
        {**FULL, "fleets": [{**FULL["fleets"][1], "dnsProviders": ["nope"]}], "tenants": []},
        'fleets[private].dnsProviders: no provider is called "nope"; add it under providers',
        id="unknown-provider",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [{**FULL["fleets"][1], "dnsProviders": ["route53-public"]}],
            "tenants": [],
        },
        'fleets[private].dnsProviders: provider "route53-public" has view public but the fleet '
        "is private; a private fleet may only write to private providers (split horizon)",
        id="view-mismatch",
    ),
    pytest.param(
        {**FULL, "tenants": [{"name": "t", "fleets": ["nope"]}]},
        'tenants[t].fleets: no fleet is called "nope"',
        id="tenant-unknown-fleet",
    ),
    pytest.param(
        {**FULL, "tenants": [{"name": "t", "fleets": []}]},
        "tenants[t].fleets: list the fleets this tenant may use",
        id="tenant-without-fleets",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [FULL["fleets"][0], {**FULL["fleets"][1], "ingressClassName": "public"}],
        },
        'fleets[private].ingressClassName: class "public" is already the class of fleet "public"',
        id="shared-class",
    ),
    pytest.param(
        {**FULL, "clusterName": ""},
        'clusterName: fleet "public" uses loadBalancer.mode elbv2, which needs clusterName',
        id="elbv2-without-cluster-name",
    ),
    pytest.param(
        {**MINIMAL, "providers": [{"name": "b", "type": "rfc2136", "host": "h", "zones": ["z"]}]},
        "missing property 'view'",  # values.schema.json: rfc2136 entries need a view
        id="rfc2136-without-view",
    ),
    pytest.param(
        {**MINIMAL, "providers": [{"name": "b", "type": "route53"}]},
        "providers[b].view: set view: public or view: private",  # zoneType any implies none
        id="route53-without-view",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [
                {**FULL["fleets"][0], "controller": {"customHttpErrors": [503]}},
                FULL["fleets"][1],
            ],
        },
        "fleets[public].controller.customHttpErrors: error pages come from the default backend; "
        "set fleets[public].defaultBackend too",
        id="error-pages-without-default-backend",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [
                {
                    **FULL["fleets"][0],
                    "kind": "DaemonSet",
                    "autoscaling": {"minReplicas": 1, "maxReplicas": 3},
                },
                FULL["fleets"][1],
            ],
        },
        "fleets[public].autoscaling: a DaemonSet runs one pod per node and cannot be autoscaled",
        id="autoscaled-daemonset",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [{**FULL["fleets"][0], "autoscaling": {"minReplicas": 5, "maxReplicas": 3}}],
        },
        "fleets[public].autoscaling: need 1 <= minReplicas (5) <= maxReplicas (3)",
        id="autoscaling-min-above-max",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [
                {
                    **FULL["fleets"][0],
                    "podDisruptionBudget": {"minAvailable": 1, "maxUnavailable": 1},
                },
                FULL["fleets"][1],
            ],
        },
        "fleets[public].podDisruptionBudget: set minAvailable or maxUnavailable, not both",
        id="budget-both",
    ),
    pytest.param(
        {
            **FULL,
            "fleets": [{**FULL["fleets"][0], "defaultBackend": "fallback"}, FULL["fleets"][1]],
        },
        'fleets[public].defaultBackend: "fallback" must be <namespace>/<service>',
        id="default-backend-without-namespace",
    ),
    pytest.param(
        {**FULL, "fleets": [{**FULL["fleets"][0], "kind": "StatefulSet"}, FULL["fleets"][1]]},
        "value must be one of 'Deployment', 'DaemonSet'",
        id="workload-kind-unknown",
    ),
    pytest.param(
        {**FULL, "fleets": [{**FULL["fleets"][0], "profile": "haproxy"}, FULL["fleets"][1]]},
        "value must be one of 'traefik', 'ingress-nginx'",
        id="profile-unknown",
    ),
    pytest.param(
        {**MINIMAL, "ownerID": "typo"},
        "additional properties 'ownerID' not allowed",
        id="unknown-key",
    ),
    pytest.param(
        {**MINIMAL, "policy": "delete-everything"},
        "at '/policy': value must be one of 'sync', 'upsert-only', 'create-only'",
        id="bad-policy",
    ),
]


@pytest.mark.parametrize(("values", "message"), FAILURES)
def test_impossible_values_fail_at_render_time(
    helm: str, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    assert message in render_error(helm, tmp_path, values)


# --- helm install into the real apiserver --------------------------------------------------------


@dataclass(frozen=True)
class Install:
    """One release installed for a test, with names unique to it (the apiserver is shared)."""

    release: str
    namespace: str
    fleet: str
    fleet_namespace: str
    owner: str

    @property
    def fullname(self) -> str:
        return f"{self.release}-ingress-reconciler"

    @property
    def ingress_class(self) -> str:
        return f"{self.fleet}-class"


def make_install() -> Install:
    run = secrets.token_hex(3)
    return Install(
        release=f"ir{run}",
        namespace=f"irc-{run}",
        fleet=f"f{run}",
        fleet_namespace=f"irf-{run}",
        owner=f"owner-{run}",
    )


def install_values(
    inst: Install, bind: BindServer | None = None, *, tenants: bool = True
) -> dict[str, Any]:
    providers: list[dict[str, Any]] = []
    if bind is not None:
        providers.append(
            {
                "name": "bind",
                "type": "rfc2136",
                "view": "private",
                "host": bind.host,
                "port": bind.port,
                "zones": list(bind.zones),
                "tsig": {"keyName": bind.key_name, "secretRef": {"name": "tsig", "key": "secret"}},
            }
        )
    tenant = {
        "name": "team",
        "namespaces": ["nowhere"],
        "domains": ["example.test"],
        "fleets": [inst.fleet],
    }
    return {
        "ownerId": inst.owner,
        "providers": providers,
        "fleets": [
            {
                "name": inst.fleet,
                "ingressClassName": inst.ingress_class,
                "visibility": "private",
                "namespace": inst.fleet_namespace,
                "replicas": 1,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
                "dnsProviders": ["bind"] if bind is not None else [],
            }
        ],
        "tenants": [tenant] if tenants else [],
        # the policy applies only to namespaces with this label: other tests share the apiserver
        "tenancy": {"admissionPolicy": {"namespaceSelector": {f"chart-test/{inst.release}": "on"}}},
    }


def cleanup(api: ApiServer, inst: Install) -> None:
    """Remove what the release and the reconciler made (no namespace controller runs here)."""
    for path in (
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/ingress-reconciler-{inst.fleet}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ingress-reconciler-{inst.fleet}",
        f"/apis/networking.k8s.io/v1/ingressclasses/{inst.ingress_class}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{inst.fullname}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{inst.fullname}",
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/{inst.release}-tenancy",
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{inst.release}-tenancy",
    ):
        api.request("DELETE", path)
    for namespace in (inst.fleet_namespace, inst.namespace):
        status, _ = api.request("GET", f"/api/v1/namespaces/{namespace}")
        if status == 200:
            api.delete_namespace(namespace)


@pytest.fixture
def inst(apiserver: ApiServer) -> Iterator[Install]:
    """Unique names for one install, everything removed afterwards."""
    install = make_install()
    try:
        yield install
    finally:
        cleanup(apiserver, install)


def helm_install(
    helm: str, api: ApiServer, inst: Install, values: Mapping[str, Any], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    result = run_helm(
        helm,
        "install",
        inst.release,
        str(CHART),
        "-n",
        inst.namespace,
        "--create-namespace",
        "-f",
        str(values_file(tmp_path, values)),
        kubeconfig=api.kubeconfig,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_notes_warn_about_fleets_on_the_retired_ingress_nginx_profile(
    helm: str, apiserver: ApiServer, tmp_path: Path
) -> None:
    nginx = {**FULL["fleets"][0], "profile": "ingress-nginx"}
    full = {**FULL, "metrics": {}}  # no ServiceMonitor: the test apiserver has no such CRD
    values = values_file(tmp_path, {**full, "fleets": [nginx, FULL["fleets"][1]]})
    result = run_helm(
        helm, "install", "r", str(CHART), "-n", "ir", "--dry-run=client", "-f", str(values),
        kubeconfig=apiserver.kubeconfig,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"WARNING: fleet {nginx['name']} runs the ingress-nginx profile." in notes
    assert "retired upstream" in notes
    assert notes.count("WARNING: fleet") == 1  # the traefik fleet is not warned about
    plain = run_helm(
        helm, "install", "r", str(CHART), "-n", "ir", "--dry-run=client",
        "-f", str(values_file(tmp_path, full)), kubeconfig=apiserver.kubeconfig,
    )  # fmt: skip
    assert "WARNING: fleet" not in plain.stdout


def test_helm_install_creates_the_objects(
    helm: str, apiserver: ApiServer, inst: Install, tmp_path: Path
) -> None:
    result = helm_install(helm, apiserver, inst, install_values(inst), tmp_path)
    notes = result.stdout
    assert f"Owner id: {inst.owner}" in notes
    assert "Policy:   sync" in notes
    assert f"{inst.fleet}: class {inst.ingress_class}, private" in notes
    assert "No DNS provider is configured" in notes

    ns, name = inst.namespace, inst.fullname
    for path in (
        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        f"/api/v1/namespaces/{ns}/configmaps/{name}",
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}",
        f"/api/v1/namespaces/{ns}/services/{name}-metrics",
        f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{name}",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}-leader-election",
        f"/api/v1/namespaces/{inst.fleet_namespace}",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{inst.fleet_namespace}/roles/{name}-fleet",
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{inst.fleet_namespace}/rolebindings/{name}-fleet",
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/{inst.release}-tenancy",
        f"/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings/{inst.release}-tenancy",
    ):
        status, body = apiserver.request("GET", path)
        assert status == 200, (path, body)

    uninstall = run_helm(helm, "uninstall", inst.release, "-n", ns, kubeconfig=apiserver.kubeconfig)
    assert uninstall.returncode == 0, uninstall.stderr
    status, _ = apiserver.request("GET", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}")
    assert status == 404
    assert_deleted(apiserver, f"/api/v1/namespaces/{inst.fleet_namespace}")


def test_a_changed_secret_rolls_the_pods_on_upgrade(
    helm: str, apiserver: ApiServer, inst: Install, tmp_path: Path
) -> None:
    apiserver.create_namespace(inst.namespace)
    secret_path = f"/api/v1/namespaces/{inst.namespace}/secrets"
    apiserver.must(
        "POST",
        secret_path,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "tsig"},
         "stringData": {"secret": "c2VjcmV0LW9uZQ=="}},
    )  # fmt: skip
    provider = {
        "name": "dns",
        "type": "rfc2136",
        "view": "private",
        "host": "127.0.0.1",
        "zones": ["example.test"],
        "tsig": {"keyName": "k", "secretRef": {"name": "tsig", "key": "secret"}},
    }
    values = {**MINIMAL, "ownerId": inst.owner, "providers": [provider]}

    def annotations() -> dict[str, str]:
        deployment = apiserver.must(
            "GET", f"/apis/apps/v1/namespaces/{inst.namespace}/deployments/{inst.fullname}"
        )
        return dict(deployment["spec"]["template"]["metadata"]["annotations"])

    def upgrade() -> None:
        result = run_helm(
            helm, "upgrade", inst.release, str(CHART), "-n", inst.namespace,
            "-f", str(values_file(tmp_path, values)), kubeconfig=apiserver.kubeconfig,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

    helm_install(helm, apiserver, inst, values, tmp_path)
    first = annotations()
    upgrade()
    assert annotations() == first  # nothing changed, nothing rolls
    apiserver.must(
        "PATCH",
        f"{secret_path}/tsig",
        {"stringData": {"secret": "c2VjcmV0LXR3bw=="}},
        content_type="application/merge-patch+json",
    )
    upgrade()
    second = annotations()
    assert second["checksum/secrets"] != first["checksum/secrets"]
    assert second["checksum/config"] == first["checksum/config"]
    run_helm(helm, "uninstall", inst.release, "-n", inst.namespace, kubeconfig=apiserver.kubeconfig)


# --- RBAC proof: full passes as the chart's ServiceAccount ---------------------------------------


@dataclass(frozen=True)
class Fleet:
    """One fleet of the RBAC proof."""

    name: str
    namespace: str
    mode: str
    profile: str = "traefik"
    gateway: bool = False

    @property
    def ingress_class(self) -> str:
        return f"{self.name}-class"

    @property
    def workload(self) -> str:
        """The fleet's Service/Deployment name (reconciler.fleets.spec.workload_name)."""
        return f"ingress-{self.name}"

    @property
    def host(self) -> str:
        return f"www-{self.name}.example.test"

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ingressClassName": self.ingress_class,
            "visibility": "private",
            "namespace": self.namespace,
            "replicas": 1,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            "loadBalancer": {"mode": self.mode, "targetType": "ip"},
            "dnsProviders": ["bind"],
            "profile": self.profile,
            **({"gateway": {}} if self.gateway else {}),
        }

    def retired(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ingressClassName": self.ingress_class,
            "namespace": self.namespace,
            **({"gateway": {}} if self.gateway else {}),
        }


def cluster_objects(fleet: Fleet) -> list[str]:
    gateway = (
        [f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{fleet.ingress_class}"]
        if fleet.gateway
        else []
    )
    return [
        *gateway,
        f"/apis/networking.k8s.io/v1/ingressclasses/{fleet.ingress_class}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterroles/ingress-reconciler-{fleet.name}",
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ingress-reconciler-{fleet.name}",
    ]


def namespaced_objects(fleet: Fleet) -> list[str]:
    ns, name = fleet.namespace, fleet.workload
    nginx = (
        [
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}",
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{name}",
            f"/api/v1/namespaces/{ns}/configmaps/{name}",
        ]
        if fleet.profile == "ingress-nginx"
        else []
    )
    gateway = (
        [f"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways/{fleet.name}"]
        if fleet.gateway
        else []
    )
    return [
        *nginx,
        *gateway,
        f"/api/v1/namespaces/{ns}/serviceaccounts/{name}",
        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        f"/api/v1/namespaces/{ns}/services/{name}",
    ]


def assert_deleted(api: ApiServer, path: str) -> None:
    """The object is gone, or terminating (no namespace controller empties namespaces here)."""
    status, body = api.request("GET", path)
    assert status == 404 or body["metadata"].get("deletionTimestamp"), body


@dataclass(frozen=True)
class Aws:
    """The emulator with its clients, and dummy credentials in the process environment."""

    server: MotoServer
    ec2: EC2Client
    elbv2: ElasticLoadBalancingv2Client


@pytest.fixture
def aws(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The wiped moto server; boto3 clients the reconciler builds find dummy keys in os.environ."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")  # dummy value for the emulator
    kwargs = aws_client_kwargs(moto)
    return Aws(moto, boto3.client("ec2", **kwargs), boto3.client("elbv2", **kwargs))


def test_full_passes_as_the_chart_service_account(
    apiserver: ApiServer, bind: BindServer, aws: Aws, inst: Install, tmp_path: Path
) -> None:
    """`ingress-reconciler once` (the product's own composition) as the chart's ServiceAccount:
    a service-annotations fleet and an elbv2 fleet with a Gateway converge (objects, NLB, Service
    and Ingress status, DNS); what the identity must not do is refused; retired fleets are
    removed."""
    helm = helm_binary("helm3")
    cluster = f"cluster-{inst.release}"
    make_network(aws.ec2, cluster=cluster)
    # one fleet per profile: the chart's RBAC lets the reconciler write what each one needs
    annotated = Fleet(inst.fleet, inst.fleet_namespace, "service-annotations", "ingress-nginx")
    nlb = Fleet(f"n{inst.fleet}", f"{inst.fleet_namespace}-n", "elbv2", gateway=True)
    # the Gateway API CRDs are there: the identity reads the kinds and writes the fleet's Gateway
    try:
        install_gateway_api(apiserver)
    except GatewayApiMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    fleets = (annotated, nlb)

    apiserver.create_namespace(inst.namespace)
    apiserver.must(
        "POST",
        f"/api/v1/namespaces/{inst.namespace}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tsig"},
            "stringData": {"secret": bind.secret},
        },
    )
    values = {
        **install_values(inst, bind, tenants=False),
        "clusterName": cluster,
        "aws": {"region": "us-east-1", "endpointUrl": aws.server.endpoint_url},
        "fleets": [f.values() for f in fleets],
    }
    helm_install(helm, apiserver, inst, values, tmp_path)

    # The installed Deployment hashed the real Secret (lookup), unlike an offline template.
    installed = apiserver.must(
        "GET", f"/apis/apps/v1/namespaces/{inst.namespace}/deployments/{inst.fullname}"
    )
    offline = one(render(helm, tmp_path, values), "Deployment", "r-ingress-reconciler", "ir")
    key = "checksum/secrets"
    assert (
        installed["spec"]["template"]["metadata"]["annotations"][key]
        != offline["spec"]["template"]["metadata"]["annotations"][key]
    )

    # The configuration the pod reads; the TSIG secret file is where the pod mounts the Secret.
    config_file = tmp_path / "config.yaml"

    def fetch_config() -> None:
        config = apiserver.must(
            "GET", f"/api/v1/namespaces/{inst.namespace}/configmaps/{inst.fullname}"
        )
        config_file.write_text(config["data"]["config.yaml"])

    fetch_config()
    mounted = yaml.safe_load(config_file.read_text())["providers"][0]["tsig"]["secretFile"]
    assert mounted == f"{SECRETS_DIR}/tsig/secret"
    env = {"INGRESS_RECONCILER_PROVIDERS__0__TSIG__SECRET_FILE": str(bind.secret_file)}
    sa_kubeconfig = apiserver.service_account_kubeconfig(inst.namespace, inst.fullname)

    def once() -> None:
        out, err = io.StringIO(), io.StringIO()
        argv = ["once", "--config", str(config_file), "--kubeconfig", str(sa_kubeconfig)]
        code = cli.main([*argv, "--output", "json"], env=env, stdout=out, stderr=err)
        assert code == cli.EXIT_OK, err.getvalue() + out.getvalue()

    app_ns = f"{inst.namespace}-app"
    apiserver.create_namespace(app_ns)
    for fleet in fleets:
        apiserver.must(
            "POST",
            f"/apis/networking.k8s.io/v1/namespaces/{app_ns}/ingresses",
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": fleet.name},
                "spec": {"ingressClassName": fleet.ingress_class, "rules": [{"host": fleet.host}]},
            },
        )

    # Pass 1 applies the fleet objects.
    once()
    for fleet in fleets:
        for path in cluster_objects(fleet) + namespaced_objects(fleet):
            status, body = apiserver.request("GET", path)
            assert status == 200, (path, body)
    # The cloud's load-balancer controller (none runs here) fills the annotated fleet's address.
    apiserver.must(
        "PATCH",
        f"/api/v1/namespaces/{annotated.namespace}/services/{annotated.workload}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
        content_type="application/merge-patch+json",
    )
    # Each pass sees the cluster as listed at its start: the NLB, then the Service status, then
    # the Ingress status, then DNS take a pass each at most.
    for _ in range(4):
        once()
    (lb,) = aws.elbv2.describe_load_balancers()["LoadBalancers"]
    assert lb["Scheme"] == "internal"
    service = apiserver.must("GET", f"/api/v1/namespaces/{nlb.namespace}/services/{nlb.workload}")
    assert service["status"]["loadBalancer"]["ingress"] == [{"hostname": lb["DNSName"]}]
    assert "ingress-reconciler.io/load-balancer" in service["metadata"]["finalizers"]
    for fleet, address in ((annotated, {"ip": "192.0.2.10"}), (nlb, {"hostname": lb["DNSName"]})):
        ingress = apiserver.must(
            "GET", f"/apis/networking.k8s.io/v1/namespaces/{app_ns}/ingresses/{fleet.name}"
        )
        assert ingress["status"]["loadBalancer"]["ingress"] == [address]
    assert bind.query(annotated.host, "A") == ("192.0.2.10",)
    assert bind.query(nlb.host, "CNAME") == (lb["DNSName"] + ".",)
    owner_txt = [r for r in bind.transfer("example.test") if r.rdtype == "TXT"]
    assert sum(f"external-dns/owner={inst.owner}" in str(r) for r in owner_txt) >= 2

    # What the same identity must not do (a real ServiceAccount token, not impersonation).
    token = apiserver.service_account_token(inst.namespace, inst.fullname)
    apply = "application/apply-patch+yaml"
    refused = {
        "secrets elsewhere": ("GET", f"/api/v1/namespaces/{app_ns}/secrets", None, ""),
        "secrets in its own namespace": (
            "GET", f"/api/v1/namespaces/{inst.namespace}/secrets/tsig", None, "",
        ),
        "a Deployment outside fleet namespaces": (
            "PATCH", f"/apis/apps/v1/namespaces/{app_ns}/deployments/x?fieldManager=t",
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}, apply,
        ),
        "escalating through a ClusterRole that is not a fleet's": (
            "PATCH", "/apis/rbac.authorization.k8s.io/v1/clusterroles/evil?fieldManager=t",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "evil"},
                "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
            },
            apply,
        ),
        "binding itself to cluster-admin": (
            "PATCH",
            f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ingress-reconciler-{nlb.name}"
            "?fieldManager=t&force=true",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"ingress-reconciler-{nlb.name}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "cluster-admin",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": inst.fullname, "namespace": inst.namespace}
                ],
            },
            apply,
        ),
        "deleting a namespace": ("DELETE", f"/api/v1/namespaces/{app_ns}", None, ""),
        "labelling a fleet namespace": (
            "PATCH", f"/api/v1/namespaces/{nlb.namespace}?fieldManager=t",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": nlb.namespace}}, apply,
        ),
        "a Lease outside its namespace": (
            "POST", f"/apis/coordination.k8s.io/v1/namespaces/{app_ns}/leases",
            {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}},
            "",
        ),
    }  # fmt: skip
    for what, (method, path, body, content_type) in refused.items():
        status, answer = apiserver.request(
            method, path, body, token=token, content_type=content_type or "application/json"
        )
        assert status == 403, f"{what}: HTTP {status} {answer}, expected 403"
    # ... while its own Lease is allowed (leader election is on by default).
    status, answer = apiserver.request(
        "POST",
        f"/apis/coordination.k8s.io/v1/namespaces/{inst.namespace}/leases",
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "x"}},
        token=token,
    )
    assert status == 201, answer

    # Both fleets are removed from the values and listed under rbac.retiredFleets for one
    # upgrade: the same identity deletes every object of theirs and releases the NLB.
    retired = {**values, "fleets": [], "rbac": {"retiredFleets": [f.retired() for f in fleets]}}
    upgrade = run_helm(
        helm,
        "upgrade",
        inst.release,
        str(CHART),
        "-n",
        inst.namespace,
        "-f",
        str(values_file(tmp_path, retired)),
        kubeconfig=apiserver.kubeconfig,
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    fetch_config()
    assert load_settings(config_file, env).fleet_specs() == ()
    # the Service (finalizer released with the NLB), the rest, then nothing is left
    for _ in range(3):
        once()
    assert aws.elbv2.describe_load_balancers()["LoadBalancers"] == []
    for fleet in fleets:
        for path in cluster_objects(fleet) + namespaced_objects(fleet):
            status, body = apiserver.request("GET", path)
            assert status == 404, (path, body)
        # The namespace is Helm's: the reconciler leaves it alone.
        namespace = apiserver.must("GET", f"/api/v1/namespaces/{fleet.namespace}")
        assert "deletionTimestamp" not in namespace["metadata"]

    # The next upgrade without the retired fleets deletes their (empty) namespaces.
    final = run_helm(
        helm,
        "upgrade",
        inst.release,
        str(CHART),
        "-n",
        inst.namespace,
        "-f",
        str(values_file(tmp_path, {**values, "fleets": []})),
        kubeconfig=apiserver.kubeconfig,
    )
    assert final.returncode == 0, final.stdout + final.stderr
    for fleet in fleets:
        assert_deleted(apiserver, f"/api/v1/namespaces/{fleet.namespace}")
