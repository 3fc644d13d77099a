"""The provider contract: one suite of tests that every DNS provider must pass.

Subclass :class:`ProviderContract` in a ``test_*.py`` module, mark the subclass
``@pytest.mark.integration`` and give it a function-scoped fixture named ``harness`` that returns
an object with this interface (:class:`ProviderHarness`)::

    harness.zone                 # str: a normalised zone the provider writes in; at the start of
                                 #      each test it holds nothing but its SOA/NS (and whatever
                                 #      infrastructure records ``read`` leaves out)
    harness.provider()           # Provider: a NEW provider instance configured for the zone
    harness.seed(endpoints)      # write record sets out of band, the way external-dns (or a
                                 #      human) would: straight to the server, not through the
                                 #      provider under test; an endpoint's ttl None means 300
    harness.read()               # list[Endpoint]: the zone as the server holds it now, read out
                                 #      of band, without the apex SOA/NS and infrastructure
                                 #      records, each built with Endpoint.of (ttl filled in)

TXT targets are in presentation form (every character-string double-quoted), which is how
external-dns writes its ownership records.

The ownership cases drive the real registry and planner (``reconciler.dns.registry.TxtRegistry``,
``reconciler.dns.plan.calculate``) over the provider, so they prove that a zone external-dns manages
can be taken over without a single change, and that foreign records are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import pytest

from reconciler.dns.plan import ConflictReason, Plan, calculate
from reconciler.dns.provider import Provider
from reconciler.dns.registry import TxtRegistry
from reconciler.model.endpoint import Changes, Endpoint, Label, Update
from reconciler.model.errors import ProviderError

__all__ = [
    "ProviderContract",
    "ProviderHarness",
    "by_key",
    "data_of",
    "only_names",
    "owner_txt",
    "reconcile",
]

OWNER = "cluster-a"

EXTERNAL_DNS_TXT = (
    '"heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/shop/web"'
)
TXT_SAMPLES = (
    EXTERNAL_DNS_TXT,
    '"v=spf1 include:_spf.example.com ~all"',
    '"first string" "second string"',
    '"with \\"quotes\\" and a \\\\ backslash"',
)


class ProviderHarness(Protocol):
    """What a provider's test module supplies to the contract suite (see the module docstring)."""

    @property
    def zone(self) -> str:
        """A zone the provider writes in, empty (but for SOA/NS) when the test starts."""
        ...

    def provider(self) -> Provider:
        """A new provider instance for ``zone``."""
        ...

    def seed(self, endpoints: Sequence[Endpoint]) -> None:
        """Write record sets out of band (not through the provider)."""
        ...

    def read(self) -> list[Endpoint]:
        """The zone's record sets as the server holds them, read out of band."""
        ...


def by_key(endpoints: Iterable[Endpoint]) -> dict[tuple[str, str, str], Endpoint]:
    """Endpoints indexed by (name, type, set identifier), labels dropped."""
    return {e.key: e.with_labels({}) for e in endpoints}


def data_of(endpoints: Iterable[Endpoint]) -> dict[tuple[str, str, str], tuple[str, ...]]:
    """Targets by record key: what a record holds, TTL and labels aside."""
    return {e.key: e.targets for e in endpoints}


def only_names(endpoints: Iterable[Endpoint], names: Iterable[str]) -> list[Endpoint]:
    """The endpoints whose name is one of ``names``, sorted by key."""
    wanted = set(names)
    return sorted((e for e in endpoints if e.name in wanted), key=lambda e: e.key)


def owner_txt(owner: str, resource: str) -> str:
    """An ownership TXT value exactly as external-dns v0.22 writes it."""
    return f'"heritage=external-dns,external-dns/owner={owner},external-dns/resource={resource}"'


def reconcile(provider: Provider, desired: Sequence[Endpoint], *, owner_id: str = OWNER) -> Plan:
    """One DNS pass the way the controller runs it: registry read, plan, registry write."""
    registry = TxtRegistry(provider=provider, owner_id=owner_id)
    current = registry.records()
    plan = calculate(current=current, desired=provider.adjust_endpoints(desired), owner_id=owner_id)
    registry.apply(plan.changes)
    return plan


class ProviderContract:
    """Tests every provider must pass; subclasses provide the ``harness`` fixture."""

    # --- plain provider behaviour -------------------------------------------------------

    def test_zones_include_the_harness_zone(self, harness: ProviderHarness) -> None:
        assert harness.zone in harness.provider().zones()

    def test_empty_changes_write_nothing(self, harness: ProviderHarness) -> None:
        harness.provider().apply(Changes())
        assert harness.read() == []

    def test_create_each_record_type(self, harness: ProviderHarness) -> None:
        z = harness.zone
        wanted = [
            Endpoint.of(f"a.{z}", "A", ["192.0.2.1", "192.0.2.2"], ttl=60),
            Endpoint.of(f"aaaa.{z}", "AAAA", ["2001:db8::1"], ttl=120),
            Endpoint.of(f"cname.{z}", "CNAME", ["lb.elb.example.com"], ttl=300),
            Endpoint.of(f"txt.{z}", "TXT", [EXTERNAL_DNS_TXT], ttl=300),
        ]
        provider = harness.provider()
        provider.apply(Changes(create=tuple(wanted)))
        assert by_key(harness.read()) == by_key(wanted)
        names = [e.name for e in wanted]
        assert only_names(provider.records(), names) == sorted(wanted, key=lambda e: e.key)

    def test_records_sees_what_is_seeded_between_reads(self, harness: ProviderHarness) -> None:
        z = harness.zone
        provider = harness.provider()
        assert only_names(provider.records(), [f"www.{z}"]) == []
        seeded = Endpoint.of(f"www.{z}", "A", ["198.51.100.7"], ttl=300)
        harness.seed([seeded])
        assert only_names(provider.records(), [f"www.{z}"]) == [seeded]
        changed = Endpoint.of(f"www.{z}", "A", ["198.51.100.8"], ttl=300)
        harness.seed([changed])
        assert only_names(provider.records(), [f"www.{z}"]) == [changed]

    def test_update_targets_and_ttl(self, harness: ProviderHarness) -> None:
        z = harness.zone
        old = Endpoint.of(f"web.{z}", "A", ["192.0.2.10"], ttl=300)
        harness.seed([old])
        provider = harness.provider()
        (current,) = only_names(provider.records(), [old.name])
        new = Endpoint.of(f"web.{z}", "A", ["192.0.2.11", "192.0.2.12"], ttl=60)
        provider.apply(Changes(update=(Update(current, new),)))
        assert by_key(harness.read()) == by_key([new])
        assert only_names(provider.records(), [old.name]) == [new]

    def test_delete_leaves_other_records(self, harness: ProviderHarness) -> None:
        z = harness.zone
        gone = Endpoint.of(f"gone.{z}", "A", ["192.0.2.20"], ttl=300)
        kept = Endpoint.of(f"kept.{z}", "A", ["192.0.2.21"], ttl=300)
        kept_txt = Endpoint.of(f"gone.{z}", "TXT", ['"not ours"'], ttl=300)
        harness.seed([gone, kept, kept_txt])
        harness.provider().apply(Changes(delete=(gone,)))
        assert by_key(harness.read()) == by_key([kept, kept_txt])

    def test_type_change_cname_to_a(self, harness: ProviderHarness) -> None:
        z = harness.zone
        cname = Endpoint.of(f"svc.{z}", "CNAME", ["old-lb.example.com"], ttl=300)
        harness.seed([cname])
        a = Endpoint.of(f"svc.{z}", "A", ["203.0.113.5"], ttl=300)
        harness.provider().apply(Changes(create=(a,), delete=(cname,)))
        assert by_key(harness.read()) == by_key([a])

    @pytest.mark.parametrize("value", TXT_SAMPLES)
    def test_txt_round_trip_is_byte_exact(self, harness: ProviderHarness, value: str) -> None:
        z = harness.zone
        txt = Endpoint.of(f"txt.{z}", "TXT", [value], ttl=300)
        provider = harness.provider()
        provider.apply(Changes(create=(txt,)))
        (read_back,) = only_names(provider.records(), [txt.name])
        assert read_back.targets == (value,)
        assert [e.targets for e in harness.read()] == [(value,)]

    def test_seeded_txt_reads_back_in_presentation_form(self, harness: ProviderHarness) -> None:
        z = harness.zone
        txt = Endpoint.of(f"a-web.{z}", "TXT", [EXTERNAL_DNS_TXT], ttl=300)
        harness.seed([txt])
        (read_back,) = only_names(harness.provider().records(), [txt.name])
        assert read_back.targets == (EXTERNAL_DNS_TXT,)

    def test_delete_of_a_record_changed_out_of_band_fails(self, harness: ProviderHarness) -> None:
        z = harness.zone
        seen = Endpoint.of(f"race.{z}", "A", ["192.0.2.30"], ttl=300)
        harness.seed([seen])
        provider = harness.provider()
        (current,) = only_names(provider.records(), [seen.name])
        edited = Endpoint.of(f"race.{z}", "A", ["192.0.2.31"], ttl=300)
        harness.seed([edited])  # someone else edits the record after our read
        with pytest.raises(ProviderError):
            provider.apply(Changes(delete=(current,)))
        assert by_key(harness.read()) == by_key([edited])

    def test_adjust_endpoints_keeps_names_and_types(self, harness: ProviderHarness) -> None:
        z = harness.zone
        desired = [
            Endpoint.of(f"a.{z}", "A", ["192.0.2.1"]),
            Endpoint.of(f"t.{z}", "TXT", [EXTERNAL_DNS_TXT], ttl=30),
        ]
        adjusted = harness.provider().adjust_endpoints(desired)
        assert sorted((e.name, e.record_type) for e in adjusted) == sorted(
            (e.name, e.record_type) for e in desired
        )
        assert next(e for e in adjusted if e.record_type == "TXT").targets == (EXTERNAL_DNS_TXT,)

    # --- ownership through the registry and the planner -------------------------------------

    def test_registry_writes_ownership_and_a_second_pass_is_quiet(
        self, harness: ProviderHarness
    ) -> None:
        z = harness.zone
        desired = [
            Endpoint.of(
                f"web.{z}", "A", ["192.0.2.40"], labels={Label.RESOURCE: "ingress/shop/web"}
            ),
            Endpoint.of(
                f"api.{z}",
                "CNAME",
                ["lb.elb.example.com"],
                ttl=60,
                labels={Label.RESOURCE: "ingress/shop/api"},
            ),
        ]
        first = reconcile(harness.provider(), desired)
        assert len(first.changes.create) == 2
        stored = by_key(harness.read())
        assert stored[(f"web.{z}", "A", "")].targets == ("192.0.2.40",)
        assert stored[(f"api.{z}", "CNAME", "")].targets == ("lb.elb.example.com",)
        assert stored[(f"a-web.{z}", "TXT", "")].targets == (owner_txt(OWNER, "ingress/shop/web"),)
        assert stored[(f"cname-api.{z}", "TXT", "")].targets == (
            owner_txt(OWNER, "ingress/shop/api"),
        )
        labelled = by_key(TxtRegistry(provider=harness.provider(), owner_id=OWNER).records())
        assert set(labelled) >= {(f"web.{z}", "A", ""), (f"api.{z}", "CNAME", "")}
        second = reconcile(harness.provider(), desired)
        assert second.changes.is_empty()
        assert second.conflicts == ()

    @pytest.mark.parametrize("with_old_format", [False, True], ids=["new-format", "transition"])
    def test_takeover_of_an_external_dns_zone_changes_nothing(
        self, harness: ProviderHarness, with_old_format: bool
    ) -> None:
        z = harness.zone
        written_by_external_dns = [
            Endpoint.of(f"web.{z}", "A", ["192.0.2.50"], ttl=300),
            Endpoint.of(f"a-web.{z}", "TXT", [owner_txt(OWNER, "ingress/shop/web")], ttl=300),
            Endpoint.of(f"api.{z}", "CNAME", ["lb.elb.example.com"], ttl=300),
            Endpoint.of(f"cname-api.{z}", "TXT", [owner_txt(OWNER, "ingress/shop/api")], ttl=300),
        ]
        if with_old_format:  # external-dns before --txt-new-format-only wrote both names
            written_by_external_dns.append(
                Endpoint.of(f"web.{z}", "TXT", [owner_txt(OWNER, "ingress/shop/web")], ttl=300)
            )
        harness.seed(written_by_external_dns)
        before = by_key(harness.read())
        desired = [
            Endpoint.of(
                f"web.{z}", "A", ["192.0.2.50"], labels={Label.RESOURCE: "ingress/shop/web"}
            ),
            Endpoint.of(
                f"api.{z}",
                "CNAME",
                ["lb.elb.example.com"],
                labels={Label.RESOURCE: "ingress/shop/api"},
            ),
        ]
        plan = reconcile(harness.provider(), desired)
        assert plan.changes.is_empty()
        assert plan.conflicts == ()
        assert by_key(harness.read()) == before

    def test_foreign_and_other_owners_records_are_untouched(self, harness: ProviderHarness) -> None:
        z = harness.zone
        foreign = Endpoint.of(f"foreign.{z}", "A", ["192.0.2.60"], ttl=300)
        theirs = Endpoint.of(f"theirs.{z}", "A", ["192.0.2.61"], ttl=300)
        theirs_txt = Endpoint.of(
            f"a-theirs.{z}", "TXT", [owner_txt("cluster-b", "ingress/b/theirs")], ttl=300
        )
        mine = Endpoint.of(f"mine.{z}", "A", ["192.0.2.62"], ttl=300)
        mine_txt = Endpoint.of(
            f"a-mine.{z}", "TXT", [owner_txt(OWNER, "ingress/shop/mine")], ttl=300
        )
        unrelated_txt = Endpoint.of(f"{z}", "TXT", ['"google-site-verification=abc"'], ttl=300)
        harness.seed([foreign, theirs, theirs_txt, mine, mine_txt, unrelated_txt])

        def wanted(name: str, address: str, resource: str) -> Endpoint:
            return Endpoint.of(name, "A", [address], labels={Label.RESOURCE: resource})

        desired = [
            wanted(f"foreign.{z}", "203.0.113.1", "ingress/shop/foreign"),  # not ours
            wanted(f"theirs.{z}", "203.0.113.2", "ingress/shop/theirs"),  # another owner's
            wanted(f"new.{z}", "203.0.113.3", "ingress/shop/new"),
            # mine.{z} is no longer desired: ours, so it goes (policy sync)
        ]
        plan = reconcile(harness.provider(), desired)
        assert {(c.name, c.reason) for c in plan.conflicts} == {
            (f"foreign.{z}", ConflictReason.UNOWNED_RECORD),
            (f"theirs.{z}", ConflictReason.OWNED_BY_OTHER),
        }
        new = Endpoint.of(f"new.{z}", "A", ["203.0.113.3"])
        new_txt = Endpoint.of(f"a-new.{z}", "TXT", [owner_txt(OWNER, "ingress/shop/new")])
        assert data_of(harness.read()) == data_of(
            [foreign, theirs, theirs_txt, unrelated_txt, new, new_txt]
        )
