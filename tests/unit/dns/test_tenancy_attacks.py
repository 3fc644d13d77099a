"""The tenancy attack corpus, run against the reconciler alone (no admission policy).

One world of four tenants (``platform`` owns ``example.test``; ``shop`` and ``team`` own domains
nested inside it; ``vendor`` owns ``vendor.test`` and its own fleet) and their legitimate
Ingresses. Each attack is one more Ingress; it goes through the real source
(``endpoints_from_ingress``) and ``decide``, per Ingress, exactly as the controller runs them. Every
attack must be refused with the expected reason, and every legitimate owner's allowed endpoints
must be exactly what they are without the attack.

``tests/integration/test_admission_policy.py`` runs the same corpus on a real kube-apiserver:
with the ValidatingAdmissionPolicy installed (every attack rejected at admission) and without it
(attacks stored, then refused by the reconciler).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.dns.ingress_source import endpoints_from_ingress
from reconciler.dns.tenancy import (
    Fleet,
    Namespace,
    Refusal,
    RefusalReason,
    TenancyConfig,
    Tenant,
)
from reconciler.dns.txt_format import AffixNameMapper, reserved_name_patterns
from reconciler.model.endpoint import Endpoint, Label, normalize_name
from reconciler.model.ingress import Visibility, ingress_class_of
from tests.fixtures.tenancy import decide_each

TEAM_LABEL = "tenancy.example.test/tenant"
PUBLIC_LB = "public-lb.elb.example.net"
PRIVATE_LB = "10.0.0.10"
PARTNER_LB = "partner-lb.elb.example.net"
HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
TARGET = "external-dns.alpha.kubernetes.io/target"
LEGACY = "kubernetes.io/ingress.class"
SHOP_PRIVATE_TARGET = "10.9.9.9"
"""A private address shop may point at (in its private view only)."""

FLEETS = (
    Fleet.of(
        "public",
        "public",
        "public",
        [PUBLIC_LB],
        namespace="ing-public",
        gateway="public",
        gateway_class="public",
    ),
    Fleet.of(
        "private",
        "private",
        "private",
        [PRIVATE_LB],
        namespace="ing-private",
        gateway="private-gw",
        gateway_class="private-gw",
    ),
    Fleet.of("partner", "partner", "public", [PARTNER_LB], namespace="ing-partner"),
)


def make_config(prefix: str = "") -> TenancyConfig:
    """The corpus's tenants; ``prefix`` goes before every namespace name and label value."""
    return TenancyConfig(
        reserved_names=reserved_name_patterns(AffixNameMapper.of(), ["A", "AAAA", "CNAME"]),
        tenants=(
            Tenant.of(
                "platform",
                namespaces=[prefix + "platform"],
                domains=["example.test"],
                fleets=["public", "private"],
            ),
            Tenant.of(
                "shop",
                namespaces=[prefix + "shop", prefix + "shop-staging"],
                domains=["shop.example.test"],
                fleets=["public", "private"],
                targets=["cdn.example.net", SHOP_PRIVATE_TARGET],
            ),
            Tenant.of(
                "team",
                namespace_selector={TEAM_LABEL: prefix + "team"},
                domains=["team.example.test"],
                fleets=["private"],
            ),
            Tenant.of(
                "vendor",
                namespaces=[prefix + "vendor", prefix + "double"],
                domains=["vendor.test"],
                fleets=["partner"],
            ),
        ),
    )


NAMESPACE_LABELS: dict[str, dict[str, str]] = {
    "platform": {},
    "shop": {},
    "shop-staging": {},
    "team-a": {TEAM_LABEL: "team"},
    "vendor": {},
    "rogue": {},
    "double": {TEAM_LABEL: "team"},  # listed by vendor and labelled for team: ambiguous
}
"""Logical namespace → labels; a label value ``team`` gets the prefix like namespace names."""


def make_namespaces(prefix: str = "") -> dict[str, Namespace]:
    """The corpus's namespaces by real name (``prefix`` + logical name)."""
    return {
        prefix + logical: Namespace.of(
            prefix + logical,
            {
                "kubernetes.io/metadata.name": prefix + logical,
                **{k: prefix + v for k, v in labels.items()},
            },
        )
        for logical, labels in NAMESPACE_LABELS.items()
    }


@dataclass(frozen=True)
class Case:
    """One Ingress of the corpus: a legitimate owner's, or an attack."""

    id: str
    namespace: str
    """Logical namespace (see NAMESPACE_LABELS)."""
    class_name: str | None = None
    hosts: tuple[str, ...] = ()
    tls_hosts: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    reason: RefusalReason | None = None
    """The refusal expected (attacks only)."""
    attacked: tuple[str, ...] = ()
    """Hosts the attack tries to publish (normalised); none may be published by it."""
    invalid_in_api: bool = False
    """The apiserver's own Ingress validation already rejects it (HTTP 422), policy or not."""
    admission_reason: RefusalReason | None = None
    """The admission policy's reason when it differs from the reconciler's (CEL cannot map
    Unicode look-alikes the way IDNA does, so it refuses any name that is not plain ASCII)."""

    def ingress(self, prefix: str = "") -> dict[str, Any]:
        """The Ingress as the API would return it (without status)."""
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
                for host in self.hosts
            ]
        }
        if not self.hosts:
            # The API wants rules or a default backend; annotation-only hosts need the latter.
            spec["defaultBackend"] = {"service": {"name": "web", "port": {"number": 80}}}
        if self.class_name is not None:
            spec["ingressClassName"] = self.class_name
        if self.tls_hosts:
            spec["tls"] = [{"hosts": list(self.tls_hosts), "secretName": "tls"}]
        metadata: dict[str, Any] = {
            "name": self.id.replace("_", "-"),
            "namespace": prefix + self.namespace,
        }
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": metadata,
            "spec": spec,
        }


OWNERS: tuple[Case, ...] = (
    Case("portal", "platform", "public", hosts=("portal.example.test",)),
    Case(
        "web",
        "shop",
        "public",
        hosts=("www.shop.example.test",),
        tls_hosts=("www.shop.example.test",),
    ),
    # A second Ingress of the same tenant shares the host (another path): allowed.
    Case("web-api", "shop-staging", "public", hosts=("www.shop.example.test",)),
    Case(
        "static",
        "shop",
        "public",
        hosts=("static.shop.example.test",),
        annotations={TARGET: "cdn.example.net"},
    ),
    Case("app", "team-a", "private", hosts=("app.team.example.test",)),
    Case("api", "vendor", "partner", hosts=("api.vendor.test",)),
)
"""The legitimate owners: every one of them is allowed, before and after any attack."""

WWW = "www.shop.example.test"
CONFLICT = RefusalReason.HOSTNAME_CONFLICT
NOT_ALLOWED = RefusalReason.HOSTNAME_NOT_ALLOWED
WIDE = RefusalReason.WILDCARD_TOO_WIDE
FLEET = RefusalReason.FLEET_NOT_ALLOWED
TARGET_REASON = RefusalReason.TARGET_NOT_ALLOWED
NO_TENANT = RefusalReason.NAMESPACE_NOT_IN_TENANT

ATTACKS: tuple[Case, ...] = (
    Case(
        "cross-tenant-host",
        "team-a",
        "private",
        hosts=(WWW,),
        reason=CONFLICT,
        attacked=(WWW,),
    ),
    Case(
        "case-variant-host",
        "team-a",
        "private",
        annotations={HOSTNAME: "WWW.Shop.Example.Test"},
        reason=CONFLICT,
        attacked=(WWW,),
    ),
    Case(
        "trailing-dot-host",
        "team-a",
        "private",
        annotations={HOSTNAME: "www.shop.example.test."},
        reason=CONFLICT,
        attacked=(WWW,),
    ),
    Case(
        # Cyrillic "о" in "shop": a different name (punycode), not shop's; it lies in platform's.
        "idn-lookalike-of-other-tenant",
        "team-a",
        "private",
        annotations={HOSTNAME: "www.shоp.example.test"},
        reason=CONFLICT,
        attacked=(normalize_name("www.shоp.example.test"), WWW),
    ),
    Case(
        # Cyrillic "а" in "example": outside every tenant's domains, even for shop itself.
        "idn-lookalike-outside-domains",
        "shop",
        "public",
        annotations={HOSTNAME: "www.shop.exаmple.test"},
        reason=NOT_ALLOWED,
        attacked=(normalize_name("www.shop.exаmple.test"), WWW),
    ),
    Case(
        # U+3002, U+FF0E, U+FF61: full stops IDNA maps to "."; from the parent tenant, the name
        # is the nested tenant's (the reconciler maps it; admission refuses non-ASCII outright).
        "ideographic-full-stop-into-nested-tenant",
        "platform",
        "public",
        annotations={HOSTNAME: "www\u3002shop.example.test"},
        reason=CONFLICT,
        admission_reason=NOT_ALLOWED,
        attacked=(WWW,),
    ),
    Case(
        "fullwidth-full-stop-into-nested-tenant",
        "platform",
        "public",
        annotations={HOSTNAME: "www\uff0eshop.example.test"},
        reason=CONFLICT,
        admission_reason=NOT_ALLOWED,
        attacked=(WWW,),
    ),
    Case(
        "halfwidth-full-stop-into-nested-tenant",
        "platform",
        "public",
        annotations={HOSTNAME: "www\uff61shop.example.test"},
        reason=CONFLICT,
        admission_reason=NOT_ALLOWED,
        attacked=(WWW,),
    ),
    Case(
        # a record at a-<host> could delete or squat the ownership TXT of <host>
        "ownership-name-of-other-record",
        "shop",
        "public",
        hosts=("a-www.shop.example.test",),
        reason=RefusalReason.RESERVED_NAME,
        attacked=("a-www.shop.example.test",),
    ),
    Case(
        "ownership-name-via-annotation",
        "platform",
        "public",
        annotations={HOSTNAME: "cname-portal.example.test"},
        reason=RefusalReason.RESERVED_NAME,
        attacked=("cname-portal.example.test",),
    ),
    Case(
        "other-tenant-apex",
        "team-a",
        "private",
        hosts=("shop.example.test",),
        reason=CONFLICT,
        attacked=("shop.example.test",),
    ),
    Case(
        # "xteam.example.test" ends with the string "team.example.test" but is platform's.
        "suffix-without-dot",
        "team-a",
        "private",
        hosts=("xteam.example.test",),
        reason=CONFLICT,
        attacked=("xteam.example.test",),
    ),
    Case(
        "parent-domain",
        "shop",
        "public",
        hosts=("example.test",),
        reason=CONFLICT,
        attacked=("example.test",),
    ),
    Case(
        # platform owns example.test, but team's more specific domain wins inside it.
        "outer-tenant-into-nested-domain",
        "platform",
        "public",
        hosts=("app.team.example.test",),
        reason=CONFLICT,
        attacked=("app.team.example.test",),
    ),
    Case(
        "host-in-nobodys-domain",
        "shop",
        "public",
        hosts=("www.elsewhere.test",),
        reason=NOT_ALLOWED,
        attacked=("www.elsewhere.test",),
    ),
    Case(
        "wildcard-wider-than-domain",
        "team-a",
        "private",
        hosts=("*.example.test",),
        reason=WIDE,
        attacked=("*.example.test",),
    ),
    Case(
        "wildcard-inside-other-tenant",
        "team-a",
        "private",
        hosts=("*.shop.example.test",),
        reason=WIDE,
        attacked=("*.shop.example.test",),
    ),
    Case(
        # Even the owner of example.test may not cover shop's and team's domains with a wildcard.
        "wildcard-covering-nested-tenants",
        "platform",
        "public",
        hosts=("*.example.test",),
        reason=WIDE,
        attacked=("*.example.test",),
    ),
    Case(
        "legacy-class-annotation-disagrees",
        "team-a",
        "private",
        hosts=("app2.team.example.test",),
        annotations={LEGACY: "public"},
        reason=FLEET,
        attacked=("app2.team.example.test",),
        invalid_in_api=True,
    ),
    Case(
        "legacy-class-annotation-forbidden-fleet",
        "team-a",
        None,
        hosts=("app3.team.example.test",),
        annotations={LEGACY: "public"},
        reason=FLEET,
        attacked=("app3.team.example.test",),
    ),
    Case(
        # team has only private fleets: nothing of it may reach public zones.
        "private-tenant-public-fleet",
        "team-a",
        "public",
        hosts=("pub.team.example.test",),
        reason=FLEET,
        attacked=("pub.team.example.test",),
    ),
    Case(
        "other-tenants-fleet",
        "shop",
        "partner",
        hosts=("pay.shop.example.test",),
        reason=FLEET,
        attacked=("pay.shop.example.test",),
    ),
    Case(
        "unknown-class",
        "shop",
        "nginx",
        hosts=("x.shop.example.test",),
        reason=FLEET,
        attacked=("x.shop.example.test",),
    ),
    Case(
        "no-class",
        "shop",
        None,
        hosts=("y.shop.example.test",),
        reason=FLEET,
        attacked=("y.shop.example.test",),
    ),
    Case(
        "target-other-tenants-lb",
        "shop",
        "public",
        hosts=("pay.shop.example.test",),
        annotations={TARGET: PARTNER_LB},
        reason=TARGET_REASON,
        attacked=("pay.shop.example.test",),
    ),
    Case(
        # A private-only tenant pointing a name at the public load balancer.
        "private-tenant-target-public-lb",
        "team-a",
        "private",
        hosts=("pub2.team.example.test",),
        annotations={TARGET: PUBLIC_LB},
        reason=TARGET_REASON,
        attacked=("pub2.team.example.test",),
    ),
    Case(
        "target-other-tenants-name",
        "team-a",
        "private",
        hosts=("alias.team.example.test",),
        annotations={TARGET: WWW},
        reason=TARGET_REASON,
        attacked=("alias.team.example.test",),
    ),
    Case(
        "target-via-non-alpha-annotation",
        "team-a",
        "private",
        hosts=("pub3.team.example.test",),
        annotations={"external-dns.kubernetes.io/target": PUBLIC_LB},
        reason=TARGET_REASON,
        attacked=("pub3.team.example.test",),
    ),
    Case(
        "hostname-via-non-alpha-annotation",
        "team-a",
        "private",
        annotations={"external-dns.kubernetes.io/hostname": "portal.example.test"},
        reason=CONFLICT,
        attacked=("portal.example.test",),
    ),
    Case(
        "tls-host-of-other-tenant",
        "team-a",
        "private",
        hosts=("ok.team.example.test",),
        tls_hosts=("portal.example.test",),
        reason=CONFLICT,
        attacked=("portal.example.test",),
    ),
    Case(
        "unassigned-namespace",
        "rogue",
        "public",
        hosts=("rogue.elsewhere.test",),
        reason=NO_TENANT,
        attacked=("rogue.elsewhere.test",),
    ),
    Case(
        "unassigned-namespace-takes-owner-host",
        "rogue",
        "public",
        hosts=(WWW,),
        reason=NO_TENANT,
        attacked=(WWW,),
    ),
    Case(
        "namespace-in-two-tenants",
        "double",
        "partner",
        hosts=("api2.vendor.test",),
        reason=NO_TENANT,
        attacked=("api2.vendor.test",),
    ),
)
"""Every way one namespace might publish a name or use a fleet it may not."""


def with_status(ingress: Mapping[str, Any], fleets: Sequence[Fleet] = FLEETS) -> dict[str, Any]:
    """The Ingress with the status the fleet stage would publish: its class's load balancer.

    Attacks get it too (worst case: the status is there even for a class they may not use).
    """
    class_name = ingress_class_of(ingress)
    fleet = next((f for f in fleets if f.class_name == class_name), None)
    addresses = fleet.addresses if fleet else ()
    entries = [{"ip": a} if a.replace(".", "").isdigit() else {"hostname": a} for a in addresses]
    return {**ingress, "status": {"loadBalancer": {"ingress": entries}}}


Published = dict[Visibility, tuple[Endpoint, ...]]


def reconcile(
    ingresses: Iterable[Mapping[str, Any]],
    *,
    config: TenancyConfig,
    namespaces: Mapping[str, Namespace],
) -> tuple[Published, tuple[Refusal, ...]]:
    """Source then tenancy, as one controller pass runs them."""
    items = [(ing, endpoints_from_ingress(ing).endpoints) for ing in ingresses]
    return decide_each(config, fleets=FLEETS, namespaces=namespaces, ingresses=items)


def by_host(published: Published) -> dict[str, set[tuple[Visibility, Endpoint]]]:
    """Published endpoints grouped by host, with their view."""
    hosts: dict[str, set[tuple[Visibility, Endpoint]]] = {}
    for view, endpoints in published.items():
        for endpoint in endpoints:
            hosts.setdefault(endpoint.name, set()).add((view, endpoint))
    return hosts


def resource_of_case(case: Case, prefix: str = "") -> str:
    """The ``resource`` label the case's endpoints carry."""
    return f"ingress/{prefix}{case.namespace}/{case.id}"


def check_attack_refused(
    case: Case, published: Published, refusals: Sequence[Refusal], prefix: str = ""
) -> None:
    """The attack's expected refusal is there and none of its attacked hosts is published by it."""
    resource = resource_of_case(case, prefix)
    mine = [r for r in refusals if r.resource == resource]
    assert any(r.reason == case.reason for r in mine), (case.id, mine)
    for refusal in mine:
        if refusal.reason == case.reason and refusal.host:
            assert refusal.host in case.attacked, (case.id, refusal)
    for endpoints in published.values():
        for endpoint in endpoints:
            if endpoint.labels.get(Label.RESOURCE) == resource:
                assert endpoint.name not in case.attacked, (case.id, endpoint)


def check_owners_unchanged(baseline: Published, published: Published, case: Case) -> None:
    """Every host the owners publish is published exactly as before the attack."""
    before = by_host(baseline)
    after = by_host(published)
    for host, endpoints in before.items():
        assert after.get(host) == endpoints, (case.id, host)
    for host in case.attacked:
        assert after.get(host, set()) == before.get(host, set()), (case.id, host)


CONFIG = make_config()
NAMESPACES = make_namespaces()


@pytest.fixture(scope="module")
def baseline() -> Published:
    """What the legitimate owners publish, with no attacker around."""
    published, refusals = reconcile(
        [with_status(c.ingress()) for c in OWNERS], config=CONFIG, namespaces=NAMESPACES
    )
    assert refusals == ()
    return published


def test_corpus_is_large_enough_and_named_uniquely() -> None:
    ids = [c.id for c in ATTACKS]
    assert len(ids) >= 20
    assert len(set(ids)) == len(ids)
    assert all(c.reason is not None and c.attacked for c in ATTACKS)


def test_owners_publish_everything_they_own(baseline: Published) -> None:
    hosts = by_host(baseline)
    assert set(hosts) == {
        "portal.example.test",
        WWW,
        "static.shop.example.test",
        "app.team.example.test",
        "api.vendor.test",
    }
    # Two Ingresses of one tenant share www: both resources' endpoints are published.
    www_resources = {e.labels[Label.RESOURCE] for _, e in hosts[WWW]}
    assert www_resources == {"ingress/shop/web", "ingress/shop-staging/web-api"}
    # The private-only tenant lands in the private view, with the private load balancer.
    assert hosts["app.team.example.test"] == {
        (
            Visibility.PRIVATE,
            Endpoint.of(
                "app.team.example.test",
                "A",
                [PRIVATE_LB],
                labels={"resource": "ingress/team-a/app"},
            ),
        )
    }
    assert {v for v, _ in hosts["portal.example.test"]} == {Visibility.PUBLIC}
    assert {e.targets for _, e in hosts["static.shop.example.test"]} == {("cdn.example.net",)}


@pytest.mark.parametrize("case", ATTACKS, ids=[c.id for c in ATTACKS])
def test_attack_is_refused_and_owners_unchanged(case: Case, baseline: Published) -> None:
    ingresses = [with_status(c.ingress()) for c in OWNERS]
    ingresses.append(with_status(case.ingress()))
    published, refusals = reconcile(ingresses, config=CONFIG, namespaces=NAMESPACES)
    check_attack_refused(case, published, refusals)
    check_owners_unchanged(baseline, published, case)
    # Nobody but the attacker is refused.
    assert {r.resource for r in refusals} == {resource_of_case(case)}


def test_all_attacks_at_once_change_nothing_for_owners(baseline: Published) -> None:
    ingresses = [with_status(c.ingress()) for c in (*ATTACKS, *OWNERS)]
    published, refusals = reconcile(ingresses, config=CONFIG, namespaces=NAMESPACES)
    for case in ATTACKS:
        check_attack_refused(case, published, refusals)
    owner_resources = {resource_of_case(c) for c in OWNERS}
    kept = {
        view: tuple(e for e in eps if e.labels.get(Label.RESOURCE) in owner_resources)
        for view, eps in published.items()
    }
    assert kept == baseline
    # Only the legitimate part of the TLS attack (its own host) is published besides the owners.
    extra = {
        e.name
        for eps in published.values()
        for e in eps
        if e.labels.get(Label.RESOURCE) not in owner_resources
    }
    assert extra == {"ok.team.example.test"}


def test_attack_order_does_not_matter(baseline: Published) -> None:
    ingresses = [with_status(c.ingress()) for c in (*ATTACKS, *OWNERS)]
    forward = reconcile(ingresses, config=CONFIG, namespaces=NAMESPACES)
    backward = reconcile(list(reversed(ingresses)), config=CONFIG, namespaces=NAMESPACES)
    assert forward == backward
