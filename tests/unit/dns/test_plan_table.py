"""Table-driven tests of the planner.

The first groups port the meaning of external-dns's ``plan/plan_test.go``, ``plan/policy_test.go``
and ``plan/conflict_test.go`` into our model: a record is ours only with our owner label, so the
"current" fixtures that external-dns treats as owned carry ``owner=me`` here. Where our rules are
deliberately stricter (a record that is not ours in the way, claims, policies and type changes)
the case says so in its id and the expectation is ours. The last groups are our own rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

import reconciler.dns.plan as plan_module
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import (
    DEFAULT_MANAGED_TYPES,
    Conflict,
    ConflictReason,
    DomainFilter,
    Plan,
    Policy,
    calculate,
)
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.txt_format import ownership_value
from reconciler.model.endpoint import Changes, Endpoint, InvalidNameError, Update
from reconciler.model.errors import ConfigError

ME = "me"
OTHER = "other"

R = ConflictReason


def ep(
    name: str,
    record_type: str,
    *targets: str,
    res: str | None = None,
    owner: str | None = None,
    ttl: int | None = None,
    set_id: str = "",
    ps: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Endpoint:
    """An endpoint at ``name``.example.com (``name`` may already be fully qualified)."""
    all_labels = dict(labels or {})
    if res is not None:
        all_labels["resource"] = res
    if owner is not None:
        all_labels["owner"] = owner
    fqdn = name if "." in name else f"{name}.example.com"
    return Endpoint.of(
        fqdn,
        record_type,
        targets,
        ttl=ttl,
        set_identifier=set_id,
        labels=all_labels,
        provider_specific=ps,
    )


def own(endpoint: Endpoint, owner: str = ME) -> Endpoint:
    """The endpoint as the registry returns it once ``owner`` owns it."""
    return endpoint.with_labels({**endpoint.labels, "owner": owner})


def unowned(endpoint: Endpoint) -> Endpoint:
    """The endpoint as the registry returns it when no ownership record names an owner."""
    return endpoint.with_labels({**endpoint.labels, "owner": ""})


def claim(name: str, record_type: str, owner: str, res: str | None = None) -> Endpoint:
    """An ownership claim without a record (current) or a resource without address (desired)."""
    return ep(name, record_type, res=res, owner=owner)


def desired_claim(name: str, record_type: str, res: str) -> Endpoint:
    """A live resource that lost its address: an endpoint without targets."""
    return ep(name, record_type, res=res)


# --- fixtures ported from external-dns's plan_test.go (targets made valid names/addresses) ---
FOO_V1_CNAME = ep("foo", "CNAME", "v1.lb.net", res="ingress/default/foo-v1")
FOO_V2_CNAME = ep("foo", "CNAME", "v2.lb.net", res="ingress/default/foo-v2")
FOO_V2_CNAME_DUPLICATE = ep("foo", "CNAME", "v2.lb.net", res="ingress/default/foo-v2-duplicate")
FOO_V2_CNAME_UPPERCASE = ep("foo", "CNAME", "V2.LB.NET.", res="ingress/default/foo-v2")
FOO_V2_CNAME_NO_LABEL = ep("foo", "CNAME", "v2.lb.net")
FOO_TXT = ep("foo", "TXT", "hello")
FOO_A5 = ep("foo", "A", "5.5.5.5", res="ingress/default/foo-5")
FOO_AAAA = ep("foo", "AAAA", "2001:DB8::1", res="ingress/default/foo-AAAA")
DS_A = ep("ds", "A", "1.1.1.1", res="ingress/default/ds")
DS_AAAA = ep("ds", "AAAA", "2001:db8::1", res="ingress/default/ds-AAAAA")
BAR_127_A = ep("bar", "A", "127.0.0.1", res="ingress/default/bar-127")
BAR_127_A_TTL = ep("bar", "A", "127.0.0.1", res="ingress/default/bar-127", ttl=300)
PROXIED = "external-dns.alpha.kubernetes.io/cloudflare-proxied"
BAR_127_A_PS_TRUE = ep(
    "bar", "A", "127.0.0.1", res="ingress/default/bar-127", ps={"alias": "false", PROXIED: "true"}
)
BAR_127_A_PS_FALSE = ep(
    "bar", "A", "127.0.0.1", res="ingress/default/bar-127", ps={PROXIED: "false", "alias": "false"}
)
BAR_127_A_PS_UNSET = ep(
    "bar", "A", "127.0.0.1", res="ingress/default/bar-127", ps={"alias": "false"}
)
BAR_192_A = ep("bar", "A", "192.168.0.1", res="ingress/default/bar-192")
LEGACY_BAR_192_A = ep("bar", "A", "192.168.0.1")
MULTIPLE_1 = ep("multiple", "A", "192.168.0.1", set_id="test-set-1")
MULTIPLE_2 = ep("multiple", "A", "192.168.0.2", set_id="test-set-1")
MULTIPLE_3 = ep("multiple", "A", "192.168.0.2", set_id="test-set-2")
FILTERED_1 = ep("foo.domain.tld", "A", "1.2.3.4")
FILTERED_2 = ep("bar.domain.tld", "A", "1.2.3.5")
FILTERED_3 = ep("baz.domain.tld", "A", "1.2.3.6")
FILTER_EXCLUDED = ep("foo.ex.domain.tld", "A", "1.1.1.1")
DOMAIN_FILTER = DomainFilter(include=("domain.tld",), exclude=("ex.domain.tld",))

APEX_RECORDS = (
    unowned(ep("example.com", "NS", "ns-1.awsdns.net", "ns-2.awsdns.org")),
    unowned(
        ep("example.com", "SOA", "ns-1.awsdns.net. admin.example.com. 1 7200 900 1209600 86400")
    ),
    unowned(ep("example.com", "MX", "10 mail.example.com")),
    unowned(ep("example.com", "TXT", '"v=spf1 include:_spf.example.net ~all"')),
)
APEX_A = ep("example.com", "A", "192.0.2.10", res="ingress/default/apex")
APEX_AAAA = ep("example.com", "AAAA", "2001:db8::10", res="ingress/default/apex")

ConflictRow = tuple[str, str, ConflictReason, str]


def conflict(endpoint: Endpoint, reason: ConflictReason) -> ConflictRow:
    """The parts of a Conflict a case pins (the detail is prose for people)."""
    return (endpoint.name, endpoint.record_type, reason, endpoint.labels.get("resource", ""))


@dataclass(frozen=True)
class Case:
    """One planner scenario and everything it must produce."""

    id: str
    current: tuple[Endpoint, ...] = ()
    desired: tuple[Endpoint, ...] = ()
    create: tuple[Endpoint, ...] = ()
    update: tuple[tuple[Endpoint, Endpoint], ...] = ()
    delete: tuple[Endpoint, ...] = ()
    conflicts: tuple[ConflictRow, ...] = ()
    policy: Policy = Policy.SYNC
    managed_types: frozenset[str] = DEFAULT_MANAGED_TYPES
    domain_filter: DomainFilter = field(default_factory=DomainFilter)


CASES = [
    # ---------------------------------------------------------------- plan_test.go
    Case(
        "edns/sync-first-round: smallest resource wins, loser reported",
        desired=(FOO_V1_CNAME, FOO_V2_CNAME, BAR_127_A),
        create=(own(FOO_V1_CNAME), own(BAR_127_A)),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "edns/sync-second-round",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_V2_CNAME, FOO_V1_CNAME, BAR_127_A),
        create=(own(BAR_127_A),),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "edns/sync-second-round-migration: our record without resource label",
        current=(own(FOO_V2_CNAME_NO_LABEL),),
        desired=(FOO_V2_CNAME, FOO_V1_CNAME, BAR_127_A),
        create=(own(BAR_127_A),),
        update=((own(FOO_V2_CNAME_NO_LABEL), own(FOO_V1_CNAME)),),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "ours/sync-second-round-migration: the record without owner is not ours",
        current=(unowned(FOO_V2_CNAME_NO_LABEL),),
        desired=(FOO_V2_CNAME, FOO_V1_CNAME, BAR_127_A),
        create=(own(BAR_127_A),),
        conflicts=(
            conflict(FOO_V1_CNAME, R.UNOWNED_RECORD),
            conflict(FOO_V2_CNAME, R.DUPLICATE),
        ),
    ),
    Case(
        "edns/sync-second-round-with-ttl-change",
        current=(own(BAR_127_A),),
        desired=(BAR_127_A_TTL,),
        update=((own(BAR_127_A), own(BAR_127_A_TTL)),),
    ),
    Case(
        "ours/ttl-unset-in-desired-keeps-current-ttl",
        current=(own(BAR_127_A_TTL),),
        desired=(BAR_127_A,),
    ),
    Case(
        "ours/update-without-desired-ttl-carries-current-ttl",
        current=(own(BAR_127_A_TTL),),
        desired=(ep("bar", "A", "10.0.0.1", res="ingress/default/bar-127"),),
        update=(
            (
                own(BAR_127_A_TTL),
                own(ep("bar", "A", "10.0.0.1", res="ingress/default/bar-127", ttl=300)),
            ),
        ),
    ),
    Case(
        "edns/sync-second-round-with-provider-specific-change",
        current=(own(BAR_127_A_PS_TRUE),),
        desired=(BAR_127_A_PS_FALSE,),
        update=((own(BAR_127_A_PS_TRUE), own(BAR_127_A_PS_FALSE)),),
    ),
    Case(
        "edns/sync-second-round-with-provider-specific-removal",
        current=(own(BAR_127_A_PS_FALSE),),
        desired=(BAR_127_A_PS_UNSET,),
        update=((own(BAR_127_A_PS_FALSE), own(BAR_127_A_PS_UNSET)),),
    ),
    Case(
        "edns/sync-second-round-with-provider-specific-addition",
        current=(own(BAR_127_A_PS_UNSET),),
        desired=(BAR_127_A_PS_TRUE,),
        update=((own(BAR_127_A_PS_UNSET), own(BAR_127_A_PS_TRUE)),),
    ),
    Case(
        "edns/sync-second-round-with-owner-inherited: new side has our owner, new resource",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_V2_CNAME,),
        update=((own(FOO_V1_CNAME), own(FOO_V2_CNAME)),),
    ),
    Case(
        "edns/idempotency",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_V1_CNAME, FOO_V2_CNAME),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "edns/record-type-change: CNAME to A is delete + create",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
        delete=(own(FOO_V1_CNAME),),
    ),
    Case(
        "edns/existing-cname-with-dual-stack-desired",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_A5, FOO_AAAA),
        create=(own(FOO_A5), own(FOO_AAAA)),
        delete=(own(FOO_V1_CNAME),),
    ),
    Case(
        "edns/existing-dual-stack-with-cname-desired",
        current=(own(FOO_A5), own(FOO_AAAA)),
        desired=(FOO_V2_CNAME,),
        create=(own(FOO_V2_CNAME),),
        delete=(own(FOO_A5), own(FOO_AAAA)),
    ),
    Case(
        "edns/existing-owner-not-matching-dual-stack-desired: refused, reported",
        current=(unowned(FOO_A5),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "edns/conflicting-current-non-conflicting-desired",
        current=(own(FOO_V1_CNAME), own(FOO_A5)),
        desired=(FOO_A5,),
        delete=(own(FOO_V1_CNAME),),
    ),
    Case(
        "edns/conflicting-current-no-desired",
        current=(own(FOO_V1_CNAME), own(FOO_A5)),
        delete=(own(FOO_V1_CNAME), own(FOO_A5)),
    ),
    Case(
        "edns/current-with-conflicting-desired: A/AAAA preferred over CNAME",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_V1_CNAME, FOO_A5, FOO_AAAA),
        create=(own(FOO_A5), own(FOO_AAAA)),
        delete=(own(FOO_V1_CNAME),),
        conflicts=(conflict(FOO_V1_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "edns/no-current-with-conflicting-desired",
        desired=(FOO_V1_CNAME, FOO_A5, FOO_AAAA),
        create=(own(FOO_A5), own(FOO_AAAA)),
        conflicts=(conflict(FOO_V1_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "edns/ignore-txt, stricter: an unowned TXT is in the way of a CNAME",
        current=(unowned(FOO_TXT),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "ours/our-unmanaged-txt-cannot-sit-beside-a-cname",
        current=(own(FOO_TXT),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-beside-our-unmanaged-txt-is-fine",
        current=(own(FOO_TXT),),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
    ),
    Case(
        "ours/a-beside-a-txt-not-ours-is-created: unmanaged types are not in the way",
        current=(unowned(FOO_TXT),),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
    ),
    Case(
        "edns/ignore-target-case",
        current=(own(FOO_V2_CNAME),),
        desired=(FOO_V2_CNAME_UPPERCASE,),
    ),
    Case(
        "edns/remove-endpoint",
        current=(own(FOO_V1_CNAME), own(BAR_192_A)),
        desired=(FOO_V1_CNAME,),
        delete=(own(BAR_192_A),),
    ),
    Case(
        "edns/remove-endpoint-with-upsert",
        current=(own(FOO_V1_CNAME), own(BAR_192_A)),
        desired=(FOO_V1_CNAME,),
        policy=Policy.UPSERT_ONLY,
    ),
    Case(
        "edns/multiple-records-same-name-different-set-identifier",
        current=(own(MULTIPLE_1),),
        desired=(MULTIPLE_2, MULTIPLE_3),
        create=(own(MULTIPLE_3),),
        update=((own(MULTIPLE_1), own(MULTIPLE_2)),),
    ),
    Case(
        "edns/set-identifier-update-creates-and-deletes",
        current=(own(MULTIPLE_2),),
        desired=(MULTIPLE_3,),
        create=(own(MULTIPLE_3),),
        delete=(own(MULTIPLE_2),),
    ),
    Case(
        "edns/domain-filters-initial",
        current=(own(FILTER_EXCLUDED),),
        desired=(FILTER_EXCLUDED, FILTERED_1, FILTERED_2, FILTERED_3),
        create=(own(FILTERED_1), own(FILTERED_2), own(FILTERED_3)),
        domain_filter=DOMAIN_FILTER,
    ),
    Case(
        "edns/domain-filters-update",
        current=(own(FILTER_EXCLUDED), own(FILTERED_1), own(FILTERED_2)),
        desired=(FILTER_EXCLUDED, FILTERED_1, FILTERED_2, FILTERED_3),
        create=(own(FILTERED_3),),
        domain_filter=DOMAIN_FILTER,
    ),
    Case(
        "ours/domain-filter-never-deletes-outside",
        current=(own(FILTER_EXCLUDED), own(ep("other.org", "A", "1.1.1.1"))),
        domain_filter=DOMAIN_FILTER,
    ),
    Case(
        "edns/aaaa-records",
        desired=(FOO_AAAA,),
        create=(own(FOO_AAAA),),
        managed_types=frozenset({"AAAA", "CNAME"}),
    ),
    Case(
        "ours/aaaa-not-managed-is-ignored",
        current=(own(DS_AAAA),),
        desired=(FOO_AAAA,),
        managed_types=frozenset({"A", "CNAME"}),
    ),
    Case(
        "edns/dual-stack-records",
        desired=(DS_A, DS_AAAA),
        create=(own(DS_A), own(DS_AAAA)),
    ),
    Case(
        "edns/dual-stack-records-delete",
        current=(own(DS_A), own(DS_AAAA)),
        delete=(own(DS_A), own(DS_AAAA)),
    ),
    Case(
        "edns/dual-stack-to-single-stack",
        current=(own(DS_A), own(DS_AAAA)),
        desired=(DS_A,),
        delete=(own(DS_AAAA),),
    ),
    # ---------------------------------------------------------------- policy_test.go
    Case(
        "edns/policy-sync",
        current=(own(BAR_127_A), own(FOO_V1_CNAME)),
        desired=(BAR_127_A_TTL, DS_A),
        create=(own(DS_A),),
        update=((own(BAR_127_A), own(BAR_127_A_TTL)),),
        delete=(own(FOO_V1_CNAME),),
    ),
    Case(
        "edns/policy-upsert-only: no delete",
        current=(own(BAR_127_A), own(FOO_V1_CNAME)),
        desired=(BAR_127_A_TTL, DS_A),
        create=(own(DS_A),),
        update=((own(BAR_127_A), own(BAR_127_A_TTL)),),
        policy=Policy.UPSERT_ONLY,
    ),
    Case(
        "edns/policy-create-only: only create",
        current=(own(BAR_127_A), own(FOO_V1_CNAME)),
        desired=(BAR_127_A_TTL, DS_A),
        create=(own(DS_A),),
        policy=Policy.CREATE_ONLY,
    ),
    # ---------------------------------------------------------------- conflict_test.go
    Case(
        "edns/resolver-create-picks-min",
        desired=(BAR_192_A, BAR_127_A),
        create=(own(BAR_127_A),),
        conflicts=(conflict(BAR_192_A, R.DUPLICATE),),
    ),
    Case(
        "edns/resolver-create-picks-min-cname",
        desired=(FOO_V2_CNAME, FOO_V1_CNAME),
        create=(own(FOO_V1_CNAME),),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "edns/resolver-update-picks-existing-resource",
        current=(own(BAR_127_A),),
        desired=(BAR_192_A, BAR_127_A),
        conflicts=(conflict(BAR_192_A, R.DUPLICATE),),
    ),
    Case(
        "edns/resolver-update-keeps-existing-resource-though-not-smallest",
        current=(own(BAR_192_A),),
        desired=(BAR_127_A, BAR_192_A),
        conflicts=(conflict(BAR_127_A, R.DUPLICATE),),
    ),
    Case(
        "edns/resolver-existing-resource-even-if-targets-are-same: no conflict",
        current=(own(FOO_V2_CNAME),),
        desired=(FOO_V2_CNAME, FOO_V2_CNAME_DUPLICATE),
    ),
    Case(
        "edns/resolver-picks-new-if-resource-was-deleted",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_A5, FOO_V2_CNAME),
        create=(own(FOO_A5),),
        delete=(own(FOO_V1_CNAME),),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "edns/resolver-picks-same-resource-with-updates",
        current=(own(FOO_V1_CNAME),),
        desired=(
            FOO_V2_CNAME,
            ep("foo", "CNAME", "v1.lb.net", res="ingress/default/foo-v1", ttl=1),
        ),
        update=(
            (
                own(FOO_V1_CNAME),
                own(ep("foo", "CNAME", "v1.lb.net", res="ingress/default/foo-v1", ttl=1)),
            ),
        ),
        conflicts=(conflict(FOO_V2_CNAME, R.DUPLICATE),),
    ),
    Case(
        "edns/resolver-legacy-record-without-resource-picks-min",
        current=(own(LEGACY_BAR_192_A),),
        desired=(BAR_127_A, BAR_192_A),
        update=((own(LEGACY_BAR_192_A), own(BAR_127_A)),),
        conflicts=(conflict(BAR_192_A, R.DUPLICATE),),
    ),
    Case(
        "ours/same-data-from-several-resources-is-no-conflict",
        desired=(ep("bar", "A", "127.0.0.1", res="ingress/z/b"), BAR_127_A),
        create=(own(BAR_127_A),),
    ),
    Case(
        "ours/every-loser-with-other-data-is-reported",
        desired=(BAR_127_A, BAR_192_A, ep("bar", "A", "10.9.9.9", res="ingress/default/bar-9")),
        create=(own(BAR_127_A),),
        conflicts=(
            conflict(BAR_192_A, R.DUPLICATE),
            conflict(ep("bar", "A", "10.9.9.9", res="ingress/default/bar-9"), R.DUPLICATE),
        ),
    ),
    # ---------------------------------------------------------------- ownership
    Case(
        "ours/record-of-other-owner-is-not-updated",
        current=(own(BAR_192_A, OTHER),),
        desired=(BAR_127_A,),
        conflicts=(conflict(BAR_127_A, R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/record-of-other-owner-with-same-data-is-still-reported",
        current=(own(BAR_127_A, OTHER),),
        desired=(BAR_127_A,),
        conflicts=(conflict(BAR_127_A, R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/every-resource-behind-a-refused-record-is-told",
        current=(own(BAR_192_A, OTHER),),
        desired=(BAR_127_A, ep("bar", "A", "127.0.0.1", res="ingress/z/b")),
        conflicts=(
            conflict(BAR_127_A, R.OWNED_BY_OTHER),
            conflict(ep("bar", "A", "127.0.0.1", res="ingress/z/b"), R.OWNED_BY_OTHER),
        ),
    ),
    Case(
        "ours/losers-are-reported-when-the-record-is-refused",
        current=(own(LEGACY_BAR_192_A, OTHER),),
        desired=(BAR_127_A, BAR_192_A),
        conflicts=(conflict(BAR_127_A, R.OWNED_BY_OTHER), conflict(BAR_192_A, R.DUPLICATE)),
    ),
    Case(
        "ours/record-of-other-owner-is-never-deleted",
        current=(own(BAR_127_A, OTHER), own(FOO_V1_CNAME, OTHER)),
    ),
    Case(
        "ours/unowned-record-is-never-deleted",
        current=(unowned(BAR_127_A), FOO_V2_CNAME_NO_LABEL),
    ),
    Case(
        "ours/unowned-record-in-the-way",
        current=(unowned(BAR_192_A),),
        desired=(BAR_127_A,),
        conflicts=(conflict(BAR_127_A, R.UNOWNED_RECORD),),
    ),
    Case(
        "ours/cname-refused-beside-a-of-other-owner",
        current=(own(FOO_A5, OTHER),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-refused-beside-cname-of-other-owner",
        current=(own(FOO_V1_CNAME, OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-created-beside-unmanaged-mx-not-ours",
        current=(unowned(ep("foo", "MX", "10 mail.example.com")),),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
    ),
    Case(
        "ours/new-type-refused-where-other-owner-holds-an-mx",
        current=(own(FOO_A5), own(ep("foo", "MX", "10 mail.example.com"), OTHER)),
        desired=(FOO_A5, FOO_AAAA),
        conflicts=(conflict(FOO_AAAA, R.TYPE_CLASH),),
    ),
    Case(
        "ours/new-type-created-where-an-mx-without-owner-is",
        current=(own(FOO_A5), unowned(ep("foo", "MX", "10 mail.example.com"))),
        desired=(FOO_A5, FOO_AAAA),
        create=(own(FOO_AAAA),),
    ),
    Case(
        "ours/apex-a-refused-where-another-owner-holds-the-spf-txt",
        current=(*APEX_RECORDS[:3], own(APEX_RECORDS[3], OTHER)),
        desired=(APEX_A,),
        conflicts=(conflict(APEX_A, R.TYPE_CLASH),),
    ),
    Case(
        "ours/new-type-refused-where-other-owner-holds-a-managed-type",
        current=(own(FOO_A5), own(FOO_AAAA, OTHER)),
        desired=(FOO_A5, ep("foo", "AAAA", "2001:db8::2", res="ingress/default/foo-5")),
        conflicts=(conflict(ep("foo", "AAAA", res="ingress/default/foo-5"), R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/a-refused-beside-aaaa-not-ours",
        current=(unowned(FOO_AAAA),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-refused-beside-a-foreign-a-at-the-same-name",
        current=(own(ep("foo", "A", "9.9.9.9", res="ingress/z/z"), OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/a-refused-beside-a-cname-without-owner",
        current=(unowned(FOO_V1_CNAME),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-refused-beside-an-unmanaged-cname-not-ours",
        current=(own(FOO_V1_CNAME, OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
        managed_types=frozenset({"A", "AAAA"}),
    ),
    Case(
        "ours/cname-refused-beside-a-foreign-txt",
        current=(own(FOO_TXT, OTHER),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "ours/cname-refused-beside-an-mx-not-ours",
        current=(unowned(ep("foo", "MX", "10 mail.example.com")),),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    # ---------------------------------------------------------------- apex and delegations
    Case(
        "ours/apex-a-created-beside-ns-soa-mx-and-spf-txt",
        current=APEX_RECORDS,
        desired=(APEX_A,),
        create=(own(APEX_A),),
    ),
    Case(
        "ours/apex-aaaa-and-a-created-beside-ns-soa-mx-and-spf-txt",
        current=APEX_RECORDS,
        desired=(APEX_A, APEX_AAAA),
        create=(own(APEX_A), own(APEX_AAAA)),
    ),
    Case(
        "ours/apex-cname-refused: a cname never sits beside the soa",
        current=APEX_RECORDS,
        desired=(ep("example.com", "CNAME", "lb.example.net", res="ingress/default/apex"),),
        conflicts=(
            conflict(
                ep("example.com", "CNAME", res="ingress/default/apex"),
                R.TYPE_CLASH,
            ),
        ),
    ),
    Case(
        "ours/apex-update-beside-ns-and-soa",
        current=(*APEX_RECORDS, own(APEX_A)),
        desired=(ep("example.com", "A", "192.0.2.20", res="ingress/default/apex"),),
        update=(
            (own(APEX_A), own(ep("example.com", "A", "192.0.2.20", res="ingress/default/apex"))),
        ),
    ),
    Case(
        "ours/a-refused-at-a-delegation: an ns without soa",
        current=(unowned(ep("sub", "NS", "ns1.dns.net", "ns2.dns.net")),),
        desired=(ep("sub", "A", "192.0.2.30", res="ingress/default/sub"),),
        conflicts=(conflict(ep("sub", "A", res="ingress/default/sub"), R.TYPE_CLASH),),
    ),
    Case(
        "ours/weighted-a-refused-at-a-plain-delegation",
        current=(unowned(ep("sub", "NS", "ns1.dns.net")),),
        desired=(ep("sub", "A", "192.0.2.30", set_id="w", res="ingress/default/sub"),),
        conflicts=(conflict(ep("sub", "A", set_id="w", res="ingress/default/sub"), R.TYPE_CLASH),),
    ),
    Case(
        "ours/delegation-blocks-only-its-own-name",
        current=(unowned(ep("sub", "NS", "ns1.dns.net")),),
        desired=(BAR_127_A,),
        create=(own(BAR_127_A),),
    ),
    Case(
        "ours/update-allowed-beside-records-not-ours",
        current=(own(FOO_A5), unowned(FOO_TXT)),
        desired=(ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"),),
        update=((own(FOO_A5), own(ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"))),),
    ),
    Case(
        "ours/set-identifiers-partition-a-name-between-owners",
        current=(own(ep("foo", "A", "1.1.1.1", set_id="a"), OTHER),),
        desired=(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y"),),
        create=(own(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y")),),
    ),
    Case(
        "ours/same-set-identifier-of-other-owner-is-refused",
        current=(own(ep("foo", "A", "1.1.1.1", set_id="a"), OTHER),),
        desired=(ep("foo", "A", "2.2.2.2", set_id="a", res="ingress/x/y"),),
        conflicts=(conflict(ep("foo", "A", set_id="a", res="ingress/x/y"), R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/plain-record-of-other-owner-refuses-a-weighted-create",
        current=(own(ep("foo", "A", "1.1.1.1"), OTHER),),
        desired=(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y"),),
        conflicts=(conflict(ep("foo", "A", set_id="b", res="ingress/x/y"), R.OWNED_BY_OTHER),),
    ),
    Case(
        "ours/weighted-record-without-owner-refuses-a-plain-create",
        current=(unowned(ep("foo", "A", "1.1.1.1", set_id="a")),),
        desired=(ep("foo", "A", "2.2.2.2", res="ingress/x/y"),),
        conflicts=(conflict(ep("foo", "A", res="ingress/x/y"), R.UNOWNED_RECORD),),
    ),
    Case(
        "ours/plain-mx-not-ours-lets-a-weighted-a-be-created",
        current=(unowned(ep("foo", "MX", "10 mail.example.com")),),
        desired=(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y"),),
        create=(own(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y")),),
    ),
    Case(
        "ours/plain-aaaa-not-ours-refuses-a-weighted-a",
        current=(unowned(FOO_AAAA),),
        desired=(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y"),),
        conflicts=(conflict(ep("foo", "A", set_id="b", res="ingress/x/y"), R.TYPE_CLASH),),
    ),
    Case(
        "ours/plain-mx-not-ours-refuses-a-weighted-cname",
        current=(unowned(ep("foo", "MX", "10 mail.example.com")),),
        desired=(ep("foo", "CNAME", "lb.example.net", set_id="b", res="ingress/x/y"),),
        conflicts=(conflict(ep("foo", "CNAME", set_id="b", res="ingress/x/y"), R.TYPE_CLASH),),
    ),
    Case(
        "ours/weighted-claim-of-other-owner-refuses-a-plain-create",
        current=(ep("foo", "A", set_id="a", owner=OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED),),
    ),
    Case(
        "ours/our-own-weighted-records-share-the-name",
        current=(own(ep("foo", "A", "1.1.1.1", set_id="a")),),
        desired=(
            ep("foo", "A", "1.1.1.1", set_id="a", res="ingress/x/y"),
            ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y"),
        ),
        create=(own(ep("foo", "A", "2.2.2.2", set_id="b", res="ingress/x/y")),),
    ),
    Case(
        "ours/create-and-update-carry-owner-and-other-labels",
        current=(own(BAR_127_A),),
        desired=(
            ep("bar", "A", "9.9.9.9", res="ingress/x/y", labels={"aws-sd-description": "d"}),
            ep("new", "A", "8.8.8.8", res="ingress/x/z", labels={"aws-sd-description": "e"}),
        ),
        create=(
            own(ep("new", "A", "8.8.8.8", res="ingress/x/z", labels={"aws-sd-description": "e"})),
        ),
        update=(
            (
                own(BAR_127_A),
                own(
                    ep("bar", "A", "9.9.9.9", res="ingress/x/y", labels={"aws-sd-description": "d"})
                ),
            ),
        ),
    ),
    Case(
        "ours/idn-names-compare-as-punycode",
        current=(own(ep("bücher.example.com", "A", "1.1.1.1", res="ingress/x/y")),),
        desired=(ep("XN--BCHER-KVA.example.com.", "A", "1.1.1.1", res="ingress/x/y"),),
    ),
    # ---------------------------------------------------------------- claims (records missing)
    Case(
        "ours/claim-of-other-owner-blocks-create",
        current=(claim("foo", "A", OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED),),
    ),
    Case(
        "ours/claim-without-owner-blocks-create",
        current=(claim("foo", "A", ""),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED),),
    ),
    Case(
        "ours/claim-of-other-owner-at-another-type-blocks-create",
        current=(claim("foo", "AAAA", OTHER),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED),),
    ),
    Case(
        "ours/our-claim-lets-the-missing-record-be-created",
        current=(claim("foo", "A", ME, res="ingress/default/foo-5"),),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
    ),
    Case(
        "ours/our-orphan-claim-is-deleted-others-never",
        current=(claim("foo", "A", ME), claim("bar", "A", OTHER), claim("baz", "A", "")),
        delete=(claim("foo", "A", ME),),
    ),
    Case(
        "ours/orphan-claims-are-kept-under-upsert-only",
        current=(claim("foo", "A", ME), claim("foo", "CNAME", ME)),
        policy=Policy.UPSERT_ONLY,
    ),
    Case(
        "ours/orphan-claims-are-kept-under-create-only",
        current=(claim("foo", "A", ME),),
        policy=Policy.CREATE_ONLY,
    ),
    Case(
        "ours/old-format-orphan-claim-pair-is-deleted",
        current=(claim("foo", "A", ME), claim("foo", "CNAME", ME)),
        delete=(claim("foo", "A", ME), claim("foo", "CNAME", ME)),
    ),
    Case(
        "ours/orphan-claim-of-another-type-beside-desired-data-is-deleted",
        current=(claim("foo", "AAAA", ME), claim("foo", "A", ME, res="ingress/default/foo-5")),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
        delete=(claim("foo", "AAAA", ME),),
    ),
    Case(
        "ours/desired-claim-keeps-our-orphan-claims",
        current=(claim("foo", "AAAA", ME),),
        desired=(desired_claim("foo", "A", "ingress/default/foo-5"),),
    ),
    Case(
        "ours/refused-a-keeps-our-cname-claim: one old-format txt may stand for both",
        current=(claim("foo", "A", ME), claim("foo", "CNAME", ME), unowned(FOO_AAAA)),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
    ),
    Case(
        "ours/created-a-lets-our-cname-claim-go",
        current=(claim("foo", "A", ME), claim("foo", "CNAME", ME)),
        desired=(FOO_A5,),
        create=(own(FOO_A5),),
        delete=(claim("foo", "CNAME", ME),),
    ),
    Case(
        "ours/refused-create-keeps-our-claim",
        current=(claim("foo", "A", ME), unowned(FOO_V1_CNAME)),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.TYPE_CLASH),),
    ),
    Case(
        "ours/orphan-claim-of-unmanaged-type-is-kept",
        current=(claim("foo", "AAAA", ME),),
        managed_types=frozenset({"A", "CNAME"}),
    ),
    Case(
        "ours/orphan-claim-outside-the-domain-filter-is-kept",
        current=(claim("foo.ex.domain.tld", "A", ME), claim("foo.domain.tld", "A", ME)),
        delete=(claim("foo.domain.tld", "A", ME),),
        domain_filter=DOMAIN_FILTER,
    ),
    Case(
        "ours/weighted-orphan-claim-is-deleted",
        current=(ep("foo", "A", set_id="a", owner=ME),),
        delete=(ep("foo", "A", set_id="a", owner=ME),),
    ),
    Case(
        "ours/desired-claim-keeps-our-records-at-its-name",
        current=(own(FOO_A5), own(FOO_AAAA)),
        desired=(desired_claim("foo", "A", "ingress/default/foo-5"),),
    ),
    Case(
        "ours/desired-claim-of-any-type-keeps-our-cname",
        current=(own(FOO_V1_CNAME),),
        desired=(desired_claim("foo", "A", "ingress/default/foo-v1"),),
    ),
    Case(
        "ours/desired-claim-creates-nothing",
        desired=(desired_claim("foo", "A", "ingress/default/foo-5"),),
    ),
    Case(
        "ours/desired-claim-keeps-only-its-own-name",
        current=(own(FOO_A5), own(BAR_127_A)),
        desired=(desired_claim("foo", "A", "ingress/default/foo-5"),),
        delete=(own(BAR_127_A),),
    ),
    Case(
        "ours/desired-claim-beside-desired-data",
        current=(own(FOO_A5),),
        desired=(desired_claim("foo", "A", "ingress/default/foo-5"), FOO_AAAA),
        create=(own(FOO_AAAA),),
    ),
    Case(
        "ours/desired-claim-and-data-at-one-key: data wins",
        current=(own(FOO_A5),),
        desired=(
            desired_claim("foo", "A", "ingress/default/a"),
            ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"),
        ),
        update=((own(FOO_A5), own(ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"))),),
    ),
    # ---------------------------------------------------------------- type changes
    Case(
        "ours/type-change-refused-keeps-the-old-record",
        current=(own(FOO_V1_CNAME), claim("foo", "A", OTHER)),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED),),
    ),
    Case(
        "ours/a-to-cname-refused-by-aaaa-of-other-owner-keeps-our-a",
        current=(own(FOO_A5), own(FOO_AAAA, OTHER)),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.TYPE_CLASH),),
    ),
    Case(
        "ours/a-claim-of-other-owner-anywhere-at-the-name-refuses-every-new-type",
        current=(own(FOO_V1_CNAME), claim("foo", "AAAA", OTHER)),
        desired=(FOO_A5, FOO_AAAA),
        conflicts=(conflict(FOO_A5, R.CLAIM_BLOCKED), conflict(FOO_AAAA, R.CLAIM_BLOCKED)),
    ),
    Case(
        "ours/upsert-only-refuses-a-type-change",
        current=(own(FOO_V1_CNAME),),
        desired=(FOO_A5,),
        conflicts=(conflict(FOO_A5, R.POLICY_BLOCKED),),
        policy=Policy.UPSERT_ONLY,
    ),
    Case(
        "ours/create-only-refuses-a-type-change",
        current=(own(FOO_A5), own(FOO_AAAA)),
        desired=(FOO_V2_CNAME,),
        conflicts=(conflict(FOO_V2_CNAME, R.POLICY_BLOCKED),),
        policy=Policy.CREATE_ONLY,
    ),
    Case(
        "ours/upsert-only-keeps-other-changes-at-the-name",
        current=(own(FOO_A5), own(FOO_V1_CNAME)),
        desired=(ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"), FOO_AAAA),
        update=((own(FOO_A5), own(ep("foo", "A", "6.6.6.6", res="ingress/default/foo-5"))),),
        conflicts=(conflict(FOO_AAAA, R.POLICY_BLOCKED),),
        policy=Policy.UPSERT_ONLY,
    ),
    Case(
        "ours/upsert-only-leaves-a-broken-name-alone",
        current=(own(FOO_V1_CNAME), own(FOO_A5)),
        desired=(FOO_A5,),
        policy=Policy.UPSERT_ONLY,
    ),
    # ---------------------------------------------------------------- managed types
    Case(
        "ours/our-unmanaged-record-is-never-deleted",
        current=(own(FOO_TXT), own(ep("foo", "MX", "10 mail.example.com"))),
    ),
    Case(
        "ours/managed-txt-is-planned",
        current=(own(FOO_TXT), own(BAR_127_A)),
        delete=(own(FOO_TXT),),
        managed_types=frozenset({"TXT"}),
    ),
    Case(
        "ours/desired-unmanaged-type-is-ignored",
        desired=(ep("foo", "MX", "10 mail.example.com", res="ingress/x/y"),),
    ),
]


def _expected_changes(case: Case) -> tuple[set[Endpoint], set[Update], set[Endpoint]]:
    return (
        set(case.create),
        {Update(old=old, new=new) for old, new in case.update},
        set(case.delete),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan(case: Case) -> None:
    result = calculate(
        current=case.current,
        desired=case.desired,
        owner_id=ME,
        policy=case.policy,
        managed_types=case.managed_types,
        domain_filter=case.domain_filter,
    )
    create, update, delete = _expected_changes(case)
    assert set(result.changes.create) == create
    assert set(result.changes.update) == update
    assert set(result.changes.delete) == delete
    assert len(result.changes) == len(create) + len(update) + len(delete)  # no duplicates
    got = [(c.name, c.record_type, c.reason, c.resource) for c in result.conflicts]
    assert sorted(got) == sorted(set(case.conflicts))


def test_every_reason_is_exercised_by_the_table() -> None:
    used = {row[2] for case in CASES for row in case.conflicts}
    # the registry's screening refuses these before the planner (tests/unit/dns/test_registry.py)
    screened = {ConflictReason.OWNERSHIP_UNENCODABLE, ConflictReason.RESERVED_NAME}
    assert used == set(ConflictReason) - screened


def test_conflict_names_what_is_in_the_way() -> None:
    result = calculate(current=(own(BAR_192_A, OTHER),), desired=(BAR_127_A,), owner_id=ME)
    assert result.conflicts == (
        Conflict(
            name="bar.example.com",
            record_type="A",
            reason=ConflictReason.OWNED_BY_OTHER,
            detail="A record has owner 'other'",
            resource="ingress/default/bar-127",
        ),
    )


def test_created_record_has_exactly_our_owner_and_the_desired_resource() -> None:
    result = calculate(current=(), desired=(BAR_127_A,), owner_id=ME)
    (created,) = result.changes.create
    assert dict(created.labels) == {"owner": ME, "resource": "ingress/default/bar-127"}


def test_empty_owner_id_is_refused() -> None:
    with pytest.raises(ConfigError, match="owner id"):
        calculate(current=(unowned(BAR_127_A),), desired=(BAR_192_A,), owner_id="")


def test_empty_inputs_plan_nothing() -> None:
    assert calculate(current=(), desired=(), owner_id=ME) == Plan(changes=Changes(), conflicts=())


@pytest.mark.parametrize(
    ("include", "exclude", "name", "matches"),
    [
        pytest.param((), (), "anything.example.org", True, id="no-filter-matches-all"),
        pytest.param(("",), (), "anything.example.org", True, id="empty-entry-ignored"),
        pytest.param(("google.com",), (), "google.com", True, id="the-domain-itself"),
        pytest.param(("google.com",), (), "exaring.google.com", True, id="a-subdomain"),
        pytest.param(("google.com",), (), "badgoogle.com", False, id="label-boundary"),
        pytest.param(("google.com",), (), "google.com.evil.org", False, id="suffix-only"),
        pytest.param(("Google.COM.",), (), "a.google.com", True, id="filter-case-and-dot"),
        pytest.param(("google.com",), (), "A.Google.Com.", True, id="name-case-and-dot"),
        pytest.param((".google.com",), (), "google.com", False, id="leading-dot-not-itself"),
        pytest.param((".google.com",), (), "a.google.com", True, id="leading-dot-subdomain"),
        pytest.param(("a.org", "b.org"), (), "x.b.org", True, id="any-include"),
        pytest.param(("a.org",), (), "x.c.org", False, id="not-included"),
        pytest.param(("domain.tld",), ("ex.domain.tld",), "foo.ex.domain.tld", False, id="exc"),
        pytest.param(("domain.tld",), ("ex.domain.tld",), "foo.domain.tld", True, id="not-exc"),
        pytest.param(("domain.tld",), ("ex.domain.tld",), "ex.domain.tld", False, id="exc-self"),
        pytest.param((), ("ex.org",), "a.ex.org", False, id="exclude-without-include"),
        pytest.param((), ("ex.org",), "a.example.org", True, id="exclude-label-boundary"),
        pytest.param(("bücher.de",), (), "shop.xn--bcher-kva.de", True, id="idn-filter"),
    ],
)
def test_domain_filter(
    include: tuple[str, ...], exclude: tuple[str, ...], name: str, *, matches: bool
) -> None:
    assert DomainFilter(include=include, exclude=exclude).matches(name) is matches


def test_domain_filters_equal_when_they_mean_the_same() -> None:
    assert DomainFilter(include=("B.org.", "a.org", "")) == DomainFilter(include=("a.org", "b.org"))
    assert hash(DomainFilter(include=("B.org.",))) == hash(DomainFilter(include=("b.org",)))


def test_public_surface() -> None:
    assert sorted(plan_module.__all__) == [
        "Conflict",
        "ConflictReason",
        "DEFAULT_MANAGED_TYPES",
        "DomainFilter",
        "Plan",
        "Policy",
        "calculate",
    ]
    assert {p.value for p in Policy} == {"sync", "upsert-only", "create-only"}
    assert frozenset({"A", "AAAA", "CNAME"}) == DEFAULT_MANAGED_TYPES


def test_two_entries_at_one_key_the_one_not_ours_counts() -> None:
    """A registry should not return two entries for one key; if it does, we touch less."""
    for current in (
        (own(BAR_192_A), own(BAR_192_A, OTHER)),
        (own(BAR_192_A, OTHER), own(BAR_192_A)),
    ):
        result = calculate(current=current, desired=(BAR_127_A,), owner_id=ME)
        assert result.changes.is_empty()
        assert [c.reason for c in result.conflicts] == [ConflictReason.OWNED_BY_OTHER]
    claims = (claim("foo", "A", ME), claim("foo", "A", OTHER))
    result = calculate(current=claims, desired=(FOO_A5,), owner_id=ME)
    assert result.changes.is_empty()
    assert [c.reason for c in result.conflicts] == [ConflictReason.CLAIM_BLOCKED]


def test_domain_filter_entry_that_is_no_name_is_refused() -> None:
    with pytest.raises(InvalidNameError):
        DomainFilter(include=("a..b",))


# ---------------------------------------------------------------- with the real registry


def _zone_with(*records: Endpoint) -> tuple[InMemoryProvider, TxtRegistry]:
    provider = InMemoryProvider(name="mem", zones=("example.com",), records=records)
    return provider, TxtRegistry(provider=provider, owner_id=ME)


def _txt(name: str, owner: str, resource: str = "") -> Endpoint:
    return Endpoint.of(name, "TXT", (ownership_value(owner, resource),))


def _pass(registry: TxtRegistry, desired: tuple[Endpoint, ...], policy: Policy) -> Plan:
    result = calculate(current=registry.records(), desired=desired, owner_id=ME, policy=policy)
    if not result.changes.is_empty():
        registry.apply(result.changes)
    return result


def test_orphan_claim_delete_removes_only_our_ownership_txt_through_the_registry() -> None:
    kept = (
        _txt("a-bar.example.com", OTHER),  # another owner's claim: never touched
        Endpoint.of("foo.example.com", "MX", ("10 mail.example.com",)),
        Endpoint.of("foo.example.com", "TXT", ('"v=spf1 -all"',)),
    )
    provider, registry = _zone_with(_txt("a-foo.example.com", ME, "ingress/x/gone"), *kept)
    first = _pass(registry, (), Policy.SYNC)
    assert [(e.name, e.record_type, e.targets) for e in first.changes.delete] == [
        ("foo.example.com", "A", ())
    ]
    assert set(provider.records()) == set(kept)
    assert _pass(registry, (), Policy.SYNC).changes.is_empty()


def test_orphan_claim_is_kept_without_sync_through_the_registry() -> None:
    orphan = _txt("a-foo.example.com", ME, "ingress/x/gone")
    provider, registry = _zone_with(orphan)
    for policy in (Policy.UPSERT_ONLY, Policy.CREATE_ONLY):
        assert _pass(registry, (), policy).changes.is_empty()
    assert list(provider.records()) == [orphan]


def test_refused_a_keeps_our_old_format_txt_through_the_registry() -> None:
    """One old-format TXT reads as an A and a CNAME claim; the CNAME's delete would remove it."""
    old_format = _txt("foo.example.com", ME, "ingress/default/foo-5")
    aaaa = Endpoint.of("foo.example.com", "AAAA", ("2001:db8::1",))
    provider, registry = _zone_with(old_format, aaaa)
    result = _pass(registry, (FOO_A5,), Policy.SYNC)
    assert result.changes.is_empty()
    assert [c.reason for c in result.conflicts] == [ConflictReason.TYPE_CLASH]
    assert set(provider.records()) == {old_format, aaaa}


def test_create_under_another_owners_old_format_txt_is_refused_not_failed() -> None:
    """An old-format TXT owns every type at its name: the MX there reads as the other owner's,
    and the planner refuses the A rather than the registry refusing the whole batch."""
    mx = Endpoint.of("foo.example.com", "MX", ("10 mail.example.com",))
    old_format = _txt("foo.example.com", OTHER, "ingress/o/foo")
    provider, registry = _zone_with(old_format, mx)
    wanted = (FOO_A5, BAR_127_A)
    result = _pass(registry, wanted, Policy.SYNC)
    assert [(c.name, c.reason) for c in result.conflicts] == [
        ("foo.example.com", ConflictReason.TYPE_CLASH)
    ]
    assert {(e.name, e.record_type) for e in provider.records()} == {
        ("foo.example.com", "TXT"),
        ("foo.example.com", "MX"),
        ("bar.example.com", "A"),
        ("a-bar.example.com", "TXT"),
    }


def test_apex_a_is_written_beside_mx_and_spf_txt_through_the_registry() -> None:
    mx = Endpoint.of("example.com", "MX", ("10 mail.example.com",))
    spf = Endpoint.of("example.com", "TXT", ('"v=spf1 -all"',))
    provider, registry = _zone_with(mx, spf)
    apex = Endpoint.of("example.com", "A", ("192.0.2.10",), labels={"resource": "ingress/a/b"})
    first = _pass(registry, (apex,), Policy.SYNC)
    assert first.conflicts == ()
    assert {(e.name, e.record_type) for e in provider.records()} == {
        ("example.com", "MX"),
        ("example.com", "TXT"),
        ("example.com", "A"),
        ("a-_apex.example.com", "TXT"),
    }
    assert _pass(registry, (apex,), Policy.SYNC).changes.is_empty()


def test_a_delegation_is_named_in_the_conflict() -> None:
    result = calculate(
        current=(unowned(ep("sub", "NS", "ns1.dns.net")),),
        desired=(ep("sub", "A", "192.0.2.30", res="ingress/default/sub"),),
        owner_id=ME,
    )
    assert [c.detail for c in result.conflicts] == [
        "name holds a NS record (a delegation) with no ownership record"
    ]


@pytest.mark.parametrize(
    ("replacement", "txt_names", "claims"),
    [
        pytest.param("", ("a-*.example.com",), {("*.example.com", "A")}, id="wildcard"),
        pytest.param("any", ("a-any.example.com",), {("*.example.com", "A")}, id="replaced-*"),
        pytest.param("", ("a-_apex.example.com",), {("example.com", "A")}, id="apex"),
        pytest.param(
            "",
            ("cname-x.example.com", "aaaa-x.example.com"),
            {("x.example.com", "CNAME"), ("x.example.com", "AAAA")},
            id="two-types",
        ),
    ],
)
def test_orphan_claims_leave_no_txt_behind_through_the_registry(
    replacement: str, txt_names: tuple[str, ...], claims: set[tuple[str, str]]
) -> None:
    provider = InMemoryProvider(
        name="mem", zones=("example.com",), records=[_txt(n, ME, "ingress/x/y") for n in txt_names]
    )
    registry = TxtRegistry(provider=provider, owner_id=ME, wildcard_replacement=replacement)
    first = _pass(registry, (), Policy.SYNC)
    assert {(e.name, e.record_type) for e in first.changes.delete} == claims
    assert list(provider.records()) == []
