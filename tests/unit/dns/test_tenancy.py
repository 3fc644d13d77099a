"""Tenancy rules, configuration checks and the admission policy renderer (pure, no server)."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler.dns import tenancy
from reconciler.dns.admission_policy import admission_parameters, render_admission_policy
from reconciler.dns.tenancy import (
    DEFAULT_PUBLIC_EXCLUDED_NETS,
    DENY,
    Decision,
    Fleet,
    Namespace,
    RefusalReason,
    TenancyConfig,
    Tenant,
    decide,
    domain_precedence,
    owner_of,
    tenant_of,
    validate_tenancy,
)
from reconciler.model.endpoint import Endpoint, normalize_name
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import Visibility
from tests.doubles import undocumented
from tests.fixtures.tenancy import decide_each

PUBLIC_LB = "lb-public.elb.example.net"
PRIVATE_LB = "10.1.0.1"
FLEETS = (
    Fleet.of(
        "public",
        "public",
        "public",
        [PUBLIC_LB],
        namespace="ingress-public",
        gateway="public",
        gateway_class="public-gw",
    ),
    Fleet.of("private", "private", "private", [PRIVATE_LB], namespace="ingress-private"),
)

ALPHA = Tenant.of(
    "alpha", namespaces=["a1", "a2"], domains=["alpha.example.test"], fleets=["public", "private"]
)
BETA = Tenant.of(
    "beta",
    namespace_selector={"team": "beta"},
    domains=["beta.alpha.example.test", "Beta.Example.Test."],
    fleets=["private"],
    targets=["cdn.example.net", "192.0.2.7"],
)
CONFIG = TenancyConfig(tenants=(ALPHA, BETA))


def ingress(
    namespace: str,
    name: str = "web",
    *,
    class_name: str | None = "public",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": spec}


def endpoint(host: str, target: str = PUBLIC_LB, rtype: str = "CNAME") -> Endpoint:
    return Endpoint.of(host, rtype, [target], labels={"resource": "ingress/a1/web"})


def run(
    namespace: Namespace,
    ing: dict[str, Any],
    *endpoints: Endpoint,
    config: TenancyConfig = CONFIG,
) -> Decision:
    return decide(config, fleets=FLEETS, namespace=namespace, ingress=ing, endpoints=endpoints)


A1 = Namespace.of("a1")
BETA_NS = Namespace.of("b-dev", {"team": "beta", "env": "dev"})


# --- configuration ---------------------------------------------------------------------------


def test_tenant_of_normalises_domains_and_targets() -> None:
    assert BETA.domains == ("beta.alpha.example.test", "beta.example.test")
    assert BETA.targets == ("192.0.2.7", "cdn.example.net")
    idn = Tenant.of("idn", namespaces=["x"], domains=["Bücher.Example.Test."])
    assert idn.domains == ("xn--bcher-kva.example.test",)


def test_valid_config_passes_and_reports_precedence() -> None:
    validate_tenancy(CONFIG, FLEETS)
    assert domain_precedence(CONFIG) == (
        tenancy.DomainPrecedence("alpha", "alpha.example.test", "beta", "beta.alpha.example.test"),
    )


def test_same_domain_in_two_tenants_is_an_error_naming_both_and_the_domain() -> None:
    other = Tenant.of("gamma", namespaces=["g"], domains=["ALPHA.example.test."])
    with pytest.raises(ConfigError) as err:
        validate_tenancy(TenancyConfig(tenants=(ALPHA, other)))
    message = str(err.value)
    assert "'alpha'" in message
    assert "'gamma'" in message
    assert "'alpha.example.test'" in message
    assert "more specific" in message


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        pytest.param(TenancyConfig(tenants=(ALPHA, ALPHA)), "used twice", id="duplicate-name"),
        pytest.param(
            TenancyConfig(tenants=(Tenant.of("Bad_Name", namespaces=["x"]),)),
            "DNS label",
            id="name-not-a-label",
        ),
        pytest.param(
            TenancyConfig(tenants=(Tenant.of("empty", domains=["e.test"]),)),
            "namespaces or namespaceSelector",
            id="no-namespaces",
        ),
        pytest.param(
            TenancyConfig(tenants=(ALPHA, Tenant.of("other", namespaces=["a2"]))),
            "namespace 'a2'",
            id="namespace-in-two-tenants",
        ),
        pytest.param(
            TenancyConfig(tenants=(ALPHA,), unassigned="nobody"),
            "tenancy.unassigned",
            id="unknown-unassigned-tenant",
        ),
        pytest.param(
            TenancyConfig(tenants=(Tenant.of("x", namespaces=["x"], fleets=["gold"]),)),
            "no fleet is called 'gold'",
            id="unknown-fleet",
        ),
    ],
)
def test_invalid_config(config: TenancyConfig, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        validate_tenancy(config, FLEETS)


def test_fleets_sharing_a_class_are_an_error() -> None:
    twins = (*FLEETS, Fleet.of("twin", "public", "private"))
    with pytest.raises(ConfigError, match="share the class 'public'"):
        validate_tenancy(CONFIG, twins)


@pytest.mark.parametrize("domain", ["*.example.test", "bad..name", ""])
def test_invalid_domains_are_config_errors(domain: str) -> None:
    with pytest.raises(ConfigError, match=r"tenants\[t\]\.domains"):
        Tenant.of("t", namespaces=["t"], domains=[domain])


def test_bad_fleet_visibility_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'public' or 'private'"):
        Fleet.of("f", "f", "internal")


# --- namespaces and owners -------------------------------------------------------------------


def test_tenant_of_by_name_selector_none_and_ambiguous() -> None:
    assert tenant_of(CONFIG, A1) == (ALPHA, "")
    assert tenant_of(CONFIG, BETA_NS) == (BETA, "")
    none, why = tenant_of(CONFIG, Namespace.of("rogue"))
    assert none is None
    assert "no tenant" in why
    both, why = tenant_of(CONFIG, Namespace.of("a1", {"team": "beta"}))
    assert both is None
    assert "several tenants (alpha, beta)" in why


def test_partial_selector_match_is_not_membership() -> None:
    assert tenant_of(CONFIG, Namespace.of("x", {"team": "beta-x"}))[0] is None


def test_unassigned_namespaces_can_follow_a_named_tenant() -> None:
    config = TenancyConfig(tenants=(ALPHA, BETA), unassigned="beta")
    validate_tenancy(config)
    assert tenant_of(config, Namespace.of("rogue"))[0] == BETA
    assert CONFIG.unassigned == DENY


def test_owner_is_the_most_specific_domain() -> None:
    assert owner_of(CONFIG, "www.alpha.example.test") == (ALPHA, "alpha.example.test")
    assert owner_of(CONFIG, "x.beta.alpha.example.test") == (BETA, "beta.alpha.example.test")
    assert owner_of(CONFIG, "beta.alpha.example.test") == (BETA, "beta.alpha.example.test")
    assert owner_of(CONFIG, "xbeta.alpha.example.test") == (ALPHA, "alpha.example.test")
    assert owner_of(CONFIG, "example.test") is None


# --- decisions -------------------------------------------------------------------------------


def test_allowed_endpoints_come_back_unchanged_with_the_fleet_view() -> None:
    eps = (endpoint("www.alpha.example.test"), endpoint("alpha.example.test"))
    decision = run(A1, ingress("a1"), *eps)
    assert decision.refusals == ()
    assert set(decision.allowed) == set(eps)
    assert decision.visibility is Visibility.PUBLIC
    assert decision.tenant == "alpha"
    assert decision.resource == "ingress/a1/web"


@pytest.mark.parametrize(
    ("host", "reason", "fragment"),
    [
        ("www.other.test", RefusalReason.HOSTNAME_NOT_ALLOWED, "not under any domain"),
        ("x.beta.alpha.example.test", RefusalReason.HOSTNAME_CONFLICT, "tenant 'beta'"),
        ("beta.example.test", RefusalReason.HOSTNAME_CONFLICT, "tenant 'beta'"),
        ("*.example.test", RefusalReason.WILDCARD_TOO_WIDE, "covers domain"),
        ("*.test", RefusalReason.WILDCARD_TOO_WIDE, "covers domain"),
        ("*.other.test", RefusalReason.WILDCARD_TOO_WIDE, "wider than"),
        ("*.alpha.example.test", RefusalReason.WILDCARD_TOO_WIDE, "covers domain"),
        ("*.beta.example.test", RefusalReason.WILDCARD_TOO_WIDE, "wider than"),
        ("*.*.alpha.example.test", RefusalReason.WILDCARD_TOO_WIDE, "more than one"),
        ("a.*.alpha.example.test", RefusalReason.HOSTNAME_NOT_ALLOWED, "not a valid host"),
    ],
)
def test_host_refusals(host: str, reason: RefusalReason, fragment: str) -> None:
    good = endpoint("ok.alpha.example.test")
    bad = Endpoint(host, "CNAME", (PUBLIC_LB,))  # raw: the source may hand over any name
    decision = run(A1, ingress("a1"), good, bad)
    assert decision.allowed == (good,)
    (refusal,) = decision.refusals
    assert refusal.host == host
    assert refusal.reason is reason
    assert fragment in refusal.message
    assert refusal.resource == "ingress/a1/web"


def test_wildcard_inside_own_domain_is_allowed() -> None:
    eps = endpoint("*.beta.alpha.example.test", PRIVATE_LB, "A")
    decision = run(BETA_NS, ingress("b-dev", class_name="private"), eps)
    assert decision.allowed == (eps,)


@pytest.mark.parametrize(
    ("class_name", "annotations", "fragment"),
    [
        ("public", None, "class 'public' is not a fleet tenant 'beta' may use"),
        ("gold", None, "class 'gold'"),
        (None, None, "not set"),
        (None, {"kubernetes.io/ingress.class": "public"}, "class 'public'"),
        ("private", {"kubernetes.io/ingress.class": "public"}, "disagrees"),
    ],
)
def test_fleet_refusals_refuse_the_whole_ingress(
    class_name: str | None, annotations: dict[str, str] | None, fragment: str
) -> None:
    ing = ingress("b-dev", class_name=class_name, annotations=annotations)
    decision = run(BETA_NS, ing, endpoint("x.beta.example.test", PRIVATE_LB, "A"))
    assert decision.allowed == ()
    assert decision.visibility is None
    (refusal,) = decision.refusals
    assert refusal.reason is RefusalReason.FLEET_NOT_ALLOWED
    assert refusal.host == ""
    assert fragment in refusal.message


def test_legacy_annotation_naming_an_allowed_fleet_works_alone_and_when_equal() -> None:
    ep = endpoint("x.beta.example.test", PRIVATE_LB, "A")
    legacy = {"kubernetes.io/ingress.class": "private"}
    for class_name in (None, "private"):
        decision = run(BETA_NS, ingress("b-dev", class_name=class_name, annotations=legacy), ep)
        assert decision.allowed == (ep,)
        assert decision.visibility is Visibility.PRIVATE


def test_namespace_outside_every_tenant_publishes_nothing() -> None:
    decision = run(Namespace.of("rogue"), ingress("rogue"), endpoint("www.other.test"))
    assert decision.allowed == ()
    assert decision.tenant == ""
    assert [r.reason for r in decision.refusals] == [RefusalReason.NAMESPACE_NOT_IN_TENANT]


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        (PRIVATE_LB, True),  # the tenant's own fleet
        ("cdn.example.net", True),  # allowed target
        ("edge.cdn.example.net", True),  # below an allowed target name
        ("192.0.2.7", True),  # allowed IP
        ("www.beta.example.test", True),  # a name of its own
        (PUBLIC_LB, False),  # a fleet the tenant may not use
        ("www.alpha.example.test", False),  # another tenant's name
        ("192.0.2.8", False),  # any other address
        ("evil.example.net", False),
    ],
)
def test_targets(target: str, allowed: bool) -> None:
    rtype = "A" if target[0].isdigit() else "CNAME"
    ep = Endpoint.of("x.beta.example.test", rtype, [target])
    decision = run(BETA_NS, ingress("b-dev", class_name="private"), ep)
    assert (decision.allowed == (ep,)) is allowed
    if not allowed:
        (refusal,) = decision.refusals
        assert refusal.reason is RefusalReason.TARGET_NOT_ALLOWED
        assert target in refusal.message


def test_claim_endpoints_without_targets_pass_the_target_check() -> None:
    claim = Endpoint.of("x.beta.example.test", "A", [])
    decision = run(BETA_NS, ingress("b-dev", class_name="private"), claim)
    assert decision.allowed == (claim,)


def test_private_only_tenant_never_reaches_the_public_view() -> None:
    public_fleet_ingress = ingress("b-dev", class_name="public")
    decision = run(BETA_NS, public_fleet_ingress, endpoint("x.beta.example.test"))
    assert decision.visibility is None
    private = run(BETA_NS, ingress("b-dev", class_name="private"), endpoint("x.beta.example.test"))
    assert private.visibility is None  # public LB as target: refused
    assert [r.reason for r in private.refusals] == [RefusalReason.TARGET_NOT_ALLOWED]


def test_decide_does_not_mutate_its_inputs() -> None:
    ing = ingress("a1", annotations={"kubernetes.io/ingress.class": "public"})
    before = copy.deepcopy(ing)
    run(A1, ing, endpoint("www.alpha.example.test"), endpoint("www.other.test"))
    assert ing == before


def test_refusal_as_dict_is_json_ready() -> None:
    decision = run(A1, ingress("a1"), endpoint("www.other.test"))
    assert decision.refusals[0].as_dict() == {
        "resource": "ingress/a1/web",
        "host": "www.other.test",
        "reason": "HostnameNotAllowed",
        "message": "host 'www.other.test' is not under any domain of tenant 'alpha'",
    }


def test_decide_all_groups_by_view_and_keeps_sharing_within_a_tenant() -> None:
    a1 = ingress("a1", "one")
    a2 = ingress("a2", "two", class_name="private")
    b = ingress("b-dev", "three", class_name="private")
    shared = "www.alpha.example.test"
    views, refusals = decide_each(
        CONFIG,
        fleets=FLEETS,
        namespaces={"b-dev": BETA_NS},
        ingresses=[
            (a1, [Endpoint.of(shared, "CNAME", [PUBLIC_LB])]),
            (a2, [Endpoint.of(shared, "A", [PRIVATE_LB])]),
            (b, [Endpoint.of(shared, "A", [PRIVATE_LB])]),  # across tenants: never
        ],
    )
    assert [e.name for e in views[Visibility.PUBLIC]] == [shared]
    assert [e.name for e in views[Visibility.PRIVATE]] == [shared]
    assert [(r.resource, r.reason) for r in refusals] == [
        ("ingress/b-dev/three", RefusalReason.HOSTNAME_CONFLICT)
    ]


def test_public_surface_is_pinned() -> None:
    assert sorted(tenancy.__all__) == sorted(
        [
            "DENY",
            "DEFAULT_PUBLIC_EXCLUDED_NETS",
            "HOSTNAME_ANNOTATIONS",
            "TARGET_ANNOTATIONS",
            "Decision",
            "DomainPrecedence",
            "Fleet",
            "Namespace",
            "Refusal",
            "RefusalReason",
            "TenancyConfig",
            "Tenant",
            "decide",
            "decide_route",
            "domain_precedence",
            "guard_view",
            "normalize_address",
            "owner_of",
            "tenant_of",
            "validate_tenancy",
        ]
    )
    assert undocumented(tenancy) == []


# --- properties ------------------------------------------------------------------------------

LABELS = st.sampled_from(["www", "api", "x", "beta", "alpha", "example", "test", "*", "ẞ", "b"])
HOSTS = st.lists(LABELS, min_size=1, max_size=5).map(".".join)
NAMESPACES = st.sampled_from([A1, BETA_NS, Namespace.of("a2"), Namespace.of("rogue")])
CLASSES = st.sampled_from(["public", "private", None])


@given(st.lists(st.tuples(NAMESPACES, CLASSES, HOSTS), max_size=8), st.randoms())
def test_published_hosts_belong_to_their_tenant_whatever_the_order(
    items: list[tuple[Namespace, str | None, str]], rnd: Any
) -> None:
    entries = []
    for index, (namespace, class_name, host) in enumerate(items):
        try:
            name = normalize_name(host)
        except ValueError:
            continue
        target = PUBLIC_LB if class_name == "public" else PRIVATE_LB
        ep = Endpoint.of(name, "A" if target[0].isdigit() else "CNAME", [target])
        entries.append((ingress(namespace.name, f"i{index}", class_name=class_name), [ep]))
    namespaces = {"b-dev": BETA_NS}
    views, refusals = decide_each(CONFIG, fleets=FLEETS, namespaces=namespaces, ingresses=entries)
    shuffled = list(entries)
    rnd.shuffle(shuffled)
    assert decide_each(CONFIG, fleets=FLEETS, namespaces=namespaces, ingresses=shuffled) == (
        views,
        refusals,
    )
    for ing, eps in entries:
        ns = namespaces.get(
            ing["metadata"]["namespace"], Namespace.of(ing["metadata"]["namespace"])
        )
        tenant, _ = tenant_of(CONFIG, ns)
        for ep in eps:
            published = any(ep in v for v in views.values())
            if published:
                assert tenant is not None
                owner = owner_of(CONFIG, ep.name.removeprefix("*."))
                assert owner is not None
                assert owner[0] == tenant


# --- admission policy ------------------------------------------------------------------------


def test_rendered_objects() -> None:
    params, policy, binding, gateway_policy, gateway_binding = render_admission_policy(
        CONFIG, FLEETS, namespace="ir", validation_actions=("Warn", "Audit")
    )
    assert params["kind"] == "ConfigMap"
    assert params["metadata"]["namespace"] == "ir"
    assert policy["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert policy["spec"]["paramKind"] == {"apiVersion": "v1", "kind": "ConfigMap"}
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": ["networking.k8s.io"],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["ingresses", "ingresses/status"],
        }
    ]
    messages = " ".join(v["messageExpression"] for v in policy["spec"]["validations"])
    for reason in RefusalReason:
        assert f"{reason}: " in messages
    assert binding["spec"] == {
        "policyName": "ingress-reconciler-tenancy",
        "validationActions": ["Warn", "Audit"],
        "paramRef": {
            "name": "ingress-reconciler-tenancy",
            "namespace": "ir",
            "parameterNotFoundAction": "Deny",
        },
    }
    # the Gateway API policy: its objects (not their status), the same parameters
    assert gateway_policy["metadata"]["name"] == "ingress-reconciler-tenancy-gateway-api"
    (gateway_rule,) = gateway_policy["spec"]["matchConstraints"]["resourceRules"]
    assert gateway_rule["apiGroups"] == ["gateway.networking.k8s.io"]
    assert "httproutes" in gateway_rule["resources"]
    assert not [r for r in gateway_rule["resources"] if "/" in r]
    gateway_messages = " ".join(
        v["messageExpression"] for v in gateway_policy["spec"]["validations"]
    )
    for rule in ("NamespaceNotInTenant", "FleetNotAllowed", "HostnameConflict"):
        assert f"{rule}: " in gateway_messages
    assert gateway_binding["spec"]["policyName"] == "ingress-reconciler-tenancy-gateway-api"
    assert gateway_binding["spec"]["paramRef"] == binding["spec"]["paramRef"]


def test_binding_namespace_selector() -> None:
    _, _, binding, _, gateway_binding = render_admission_policy(
        CONFIG, FLEETS, namespace="ir", namespace_selector={"tenancy": "on"}
    )
    for each in (binding, gateway_binding):
        assert each["spec"]["matchResources"] == {
            "namespaceSelector": {"matchLabels": {"tenancy": "on"}}
        }


def test_admission_parameters() -> None:
    assert admission_parameters(CONFIG, FLEETS) == {
        "tenants": "alpha,beta",
        "unassigned": "deny",
        "domains": "alpha.example.test,beta.alpha.example.test,beta.example.test",
        "reserved": "",
        "publicClasses": "public",
        "publicExcludedNets": ",".join(DEFAULT_PUBLIC_EXCLUDED_NETS),
        "fleetNamespaces": "ingress-private,ingress-public",
        "fleetGateways": "ingress-public/public",
        "fleetGatewayClasses": "public-gw",
        "tenant.alpha.namespaces": "a1,a2",
        "tenant.alpha.selector": "",
        "tenant.alpha.domains": "alpha.example.test",
        "tenant.alpha.excluded": "beta.alpha.example.test",
        "tenant.alpha.classes": "private,public",
        "tenant.alpha.targets": "",
        "tenant.alpha.gateways": "ingress-public/public",
        "tenant.alpha.gatewayClasses": "public-gw",
        "tenant.beta.namespaces": "",
        "tenant.beta.selector": "team=beta",
        "tenant.beta.domains": "beta.alpha.example.test,beta.example.test",
        "tenant.beta.excluded": "",
        "tenant.beta.classes": "private",
        "tenant.beta.targets": "192.0.2.7,cdn.example.net",
        "tenant.beta.gateways": "",
        "tenant.beta.gatewayClasses": "",
    }


def test_renderer_refuses_an_invalid_config() -> None:
    with pytest.raises(ConfigError):
        render_admission_policy(TenancyConfig(tenants=(ALPHA, ALPHA)), FLEETS, namespace="ir")


def test_helm_template_carries_the_current_cel() -> None:
    """The CEL pasted into the chart template is what the renderer produces (no helm needed)."""
    template = (
        Path(__file__).resolve().parents[3]
        / "charts"
        / "ingress-reconciler"
        / "templates"
        / "tenancy-policy.yaml"
    )
    text = template.read_text()
    _, policy, _, gateway_policy, _ = render_admission_policy(CONFIG, FLEETS, namespace="ir")
    blocks = text.split("# ---- generated from reconciler/dns/admission_policy.py")[1:]
    assert len(blocks) == 2
    for block, rendered in zip(blocks, (policy, gateway_policy), strict=True):
        body = block[: block.index("# ---- end of generated part ----")]
        generated = textwrap.dedent(body.split("\n", 1)[1])
        assert yaml.safe_load(generated) == {
            "variables": rendered["spec"]["variables"],
            "validations": rendered["spec"]["validations"],
        }, "regenerate the CEL blocks of the chart's tenancy-policy.yaml from the renderer"
