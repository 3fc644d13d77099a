"""The TXT registry: external-dns v0.22's exact names and values, reading, writing, takeover."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reconciler.dns.registry as registry_module
from reconciler.dns import txt_format
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import ConflictReason, Plan, calculate
from reconciler.dns.registry import OwnershipError, TxtRegistry
from reconciler.dns.txt_format import (
    AffixNameMapper,
    ownership_txt_name,
    ownership_value,
    parse_ownership,
    serialize_labels,
)
from reconciler.model.endpoint import Changes, Endpoint, FrozenMap, Update
from reconciler.model.errors import ConfigError, ProviderError

ZONE = "example.test"
ME = "cluster-a"
THEM = "cluster-b"
WEB = "ingress/shop/web"


def value(owner: str = ME, resource: str = WEB) -> str:
    return ownership_value(owner, resource)


def a(name: str, target: str = "192.0.2.10", *, sid: str = "", ttl: int | None = None) -> Endpoint:
    return Endpoint.of(name, "A", [target], set_identifier=sid, ttl=ttl)


def aaaa(name: str, target: str = "2001:db8::10") -> Endpoint:
    return Endpoint.of(name, "AAAA", [target])


def cname(name: str, target: str = "lb-1.elb.example.net") -> Endpoint:
    return Endpoint.of(name, "CNAME", [target])


def alias(name: str, target: str = "lb-1.elb.example.net") -> Endpoint:
    """A Route53 ALIAS: an A record whose target is a name."""
    return Endpoint(
        name=name,
        record_type="A",
        targets=(target,),
        provider_specific=FrozenMap({"alias": "true"}),
    )


def txt(name: str, *values: str, sid: str = "") -> Endpoint:
    return Endpoint.of(name, "TXT", values, set_identifier=sid)


def setup(
    *records: Endpoint,
    zones: tuple[str, ...] = (ZONE,),
    txt_prefix: str = "",
    wildcard_replacement: str = "",
) -> tuple[InMemoryProvider, TxtRegistry]:
    mem = InMemoryProvider(name="memory", zones=zones, records=records)
    reg = TxtRegistry(
        provider=mem,
        owner_id=ME,
        txt_prefix=txt_prefix,
        wildcard_replacement=wildcard_replacement,
    )
    return mem, reg


def by_key(records: tuple[Endpoint, ...]) -> dict[tuple[str, str], Endpoint]:
    return {(r.name, r.record_type): r for r in records if not r.set_identifier}


# -- the value -----------------------------------------------------------------------------


def test_value_is_byte_exact() -> None:
    assert (
        ownership_value("cluster-a", "ingress/shop/web")
        == '"heritage=external-dns,external-dns/owner=cluster-a,'
        'external-dns/resource=ingress/shop/web"'
    )
    assert ownership_value("cluster-a") == '"heritage=external-dns,external-dns/owner=cluster-a"'
    # heritage first, then the other keys sorted, each under external-dns/
    assert (
        serialize_labels({"resource": "r", "owner": "o", "aaa": "1"})
        == '"heritage=external-dns,external-dns/aaa=1,external-dns/owner=o,external-dns/resource=r"'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (value(), {"owner": ME, "resource": WEB}),
        (value().strip('"'), {"owner": ME, "resource": WEB}),
        ('"heritage=external-dns,external-dns/owner=x"', {"owner": "x"}),
        ('"heritage=external-dns"', {}),
        ('"external-dns/owner=x,heritage=external-dns,junk,a=b=c"', {"owner": "x"}),
        ('"heritage=someone-else,external-dns/owner=x"', None),
        ('"external-dns/owner=x"', None),
        ('"v=spf1 include:_spf.example.net ~all"', None),
        ("", None),
    ],
)
def test_parse_ownership(text: str, expected: dict[str, str] | None) -> None:
    assert parse_ownership(text) == expected


@given(owner=st.text(max_size=20), resource=st.text(max_size=40))
def test_value_is_the_serialised_labels(owner: str, resource: str) -> None:
    labels = {"owner": owner, **({"resource": resource} if resource else {})}
    assert ownership_value(owner, resource) == serialize_labels(labels)


def test_serialise_then_parse_round_trips() -> None:
    labels = {"owner": ME, "resource": WEB}
    assert parse_ownership(serialize_labels(labels)) == labels


# -- the name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rtype", "affixes", "expected"),
    [
        ("foo.example.test", "A", {}, "a-foo.example.test"),
        ("foo.example.test", "AAAA", {}, "aaaa-foo.example.test"),
        ("foo.example.test", "CNAME", {}, "cname-foo.example.test"),
        ("foo.bar.example.test", "A", {}, "a-foo.bar.example.test"),
        ("foo.example.test", "A", {"prefix": "txt-"}, "txt-a-foo.example.test"),
        ("foo.example.test", "CNAME", {"prefix": "txt."}, "txt.cname-foo.example.test"),
        ("foo.example.test", "A", {"prefix": "TXT-"}, "txt-a-foo.example.test"),
        ("foo.example.test", "A", {"suffix": "-txt"}, "a-foo-txt.example.test"),
        ("foo.bar.example.test", "CNAME", {"suffix": "-txt"}, "cname-foo-txt.bar.example.test"),
        ("foo.example.test", "A", {"suffix": ".txt"}, "a-foo.txt.example.test"),
        ("foo.example.test", "A", {"prefix": "%{record_type}-"}, "a-foo.example.test"),
        (
            "foo.example.test",
            "AAAA",
            {"prefix": "txt-%{record_type}-"},
            "txt-aaaa-foo.example.test",
        ),
        (
            "foo.example.test",
            "CNAME",
            {"prefix": "extdns-%{record_type}."},
            "extdns-cname.foo.example.test",
        ),
        ("foo.example.test", "A", {"suffix": "-%{record_type}"}, "foo-a.example.test"),
        ("*.example.test", "A", {}, "a-*.example.test"),
        ("*.example.test", "CNAME", {"wildcard_replacement": "any"}, "cname-any.example.test"),
        (
            "*.example.test",
            "A",
            {"prefix": "txt-", "wildcard_replacement": "wild"},
            "txt-a-wild.example.test",
        ),
    ],
)
def test_txt_names_are_external_dns_names(
    name: str, rtype: str, affixes: dict[str, str], expected: str
) -> None:
    assert ownership_txt_name(name, rtype, ZONE, **affixes) == expected
    assert ownership_txt_name(name, rtype, **affixes) == expected  # no zone: same (not apex)
    mapper = AffixNameMapper.of(
        affixes.get("prefix", ""),
        affixes.get("suffix", ""),
        affixes.get("wildcard_replacement", ""),
    )
    back = mapper.to_record_name(expected)
    replacement = affixes.get("wildcard_replacement")
    lookup = name.replace("*", replacement, 1) if replacement else name
    assert back == (lookup, rtype)


@pytest.mark.parametrize(
    ("rtype", "affixes", "expected"),
    [
        ("A", {}, "a-_apex.example.test"),
        ("AAAA", {}, "aaaa-_apex.example.test"),
        ("CNAME", {}, "cname-_apex.example.test"),
        ("A", {"prefix": "txt-"}, "txt-a-_apex.example.test"),
        ("A", {"suffix": "-txt"}, "a-_apex-txt.example.test"),
        # external-dns's documented apex workaround already lands inside the zone: kept
        ("A", {"prefix": "extdns-%{record_type}."}, "extdns-a.example.test"),
        ("A", {"prefix": "txt."}, "txt.a-_apex.example.test"),
    ],
)
def test_apex_txt_name_stays_inside_the_zone(
    rtype: str, affixes: dict[str, str], expected: str
) -> None:
    assert ownership_txt_name(ZONE, rtype, ZONE, **affixes) == expected
    assert expected.endswith("." + ZONE)


def test_apex_without_zone_gives_external_dns_name_outside_the_zone() -> None:
    # what external-dns itself writes (issue #449), for reference
    assert ownership_txt_name(ZONE, "A") == "a-example.test"


@pytest.mark.parametrize(
    ("txt_name", "affixes", "expected"),
    [
        ("foo.example.test", {}, ("foo.example.test", "")),  # old format
        ("a-foo.example.test", {}, ("foo.example.test", "A")),
        ("mx-foo.example.test", {}, ("foo.example.test", "MX")),
        ("foo.example.test", {"prefix": "txt-"}, None),  # not ours to map
        ("txt-foo.example.test", {"prefix": "txt-"}, ("foo.example.test", "")),
        ("a-foo.example.test", {"suffix": "-txt"}, None),
        ("foo-txt.example.test", {"suffix": "-txt"}, ("foo.example.test", "")),
        ("a-foo.example.test", {"prefix": "txt-%{record_type}-"}, None),
        # external-dns drops the placeholder to read names written before it: "txt--"
        ("txt--foo.example.test", {"prefix": "txt-%{record_type}-"}, ("foo.example.test", "")),
    ],
)
def test_txt_name_back_to_record(
    txt_name: str, affixes: dict[str, str], expected: tuple[str, str] | None
) -> None:
    mapper = AffixNameMapper.of(affixes.get("prefix", ""), affixes.get("suffix", ""))
    assert mapper.to_record_name(txt_name) == expected


def test_bad_configuration_is_refused() -> None:
    mem = InMemoryProvider(name="m", zones=[ZONE])
    with pytest.raises(ConfigError, match="mutually exclusive"):
        TxtRegistry(provider=mem, owner_id=ME, txt_prefix="p-", txt_suffix="-s")
    with pytest.raises(ConfigError, match="empty"):
        TxtRegistry(provider=mem, owner_id="")
    with pytest.raises(ConfigError, match="may not contain"):
        TxtRegistry(provider=mem, owner_id="a,b")


def test_public_surface() -> None:
    assert set(registry_module.__all__) == {
        "OwnershipError",
        "TxtRegistry",
    }
    assert set(txt_format.__all__) == {
        "APEX_LABEL",
        "HERITAGE",
        "RECORD_TYPE_TEMPLATE",
        "AffixNameMapper",
        "OwnershipCache",
        "ownership_labels",
        "ownership_limits",
        "ownership_txt_name",
        "ownership_value",
        "parse_ownership",
        "reserved_name_patterns",
        "serialize_labels",
        "txt_name_in_zone",
    }


# -- reading -------------------------------------------------------------------------------


def test_reads_new_format_and_hides_ownership_records() -> None:
    _, reg = setup(
        a("www.example.test"),
        txt("a-www.example.test", value()),
        aaaa("www.example.test"),
        txt("aaaa-www.example.test", value(resource="ingress/shop/v6")),
        cname("api.example.test"),
        txt("cname-api.example.test", value(THEM, "ingress/other/api")),
    )
    got = by_key(reg.records())
    assert set(got) == {
        ("www.example.test", "A"),
        ("www.example.test", "AAAA"),
        ("api.example.test", "CNAME"),
    }
    assert got["www.example.test", "A"].labels == {"owner": ME, "resource": WEB}
    assert got["www.example.test", "AAAA"].labels == {"owner": ME, "resource": "ingress/shop/v6"}
    # another owner's record is reported with its owner, never as ours
    assert got["api.example.test", "CNAME"].owner == THEM
    assert got["api.example.test", "CNAME"].labels["resource"] == "ingress/other/api"


def test_record_without_ownership_has_empty_owner() -> None:
    _, reg = setup(a("manual.example.test"))
    (record,) = reg.records()
    assert record.owner == ""
    assert not record.labels


def test_reads_legacy_cname_txt_for_alias_a_records() -> None:
    _, reg = setup(
        alias("alb.example.test"),
        txt("cname-alb.example.test", value(resource="ingress/shop/alb")),
        alias("both.example.test"),
        txt("cname-both.example.test", value(THEM, "ingress/old/both")),
        txt("a-both.example.test", value(resource="ingress/shop/both")),
    )
    got = by_key(reg.records())
    assert set(got) == {("alb.example.test", "A"), ("both.example.test", "A")}
    assert got["alb.example.test", "A"].labels == {"owner": ME, "resource": "ingress/shop/alb"}
    # the new format wins over the legacy one; the legacy one is not an orphan claim either
    assert got["both.example.test", "A"].labels == {"owner": ME, "resource": "ingress/shop/both"}


def test_legacy_cname_txt_does_not_own_a_plain_a_record() -> None:
    _, reg = setup(a("plain.example.test"), txt("cname-plain.example.test", value()))
    got = by_key(reg.records())
    assert got["plain.example.test", "A"].owner == ""
    # the cname- TXT is then a claim on the CNAME of that name
    assert got["plain.example.test", "CNAME"].targets == ()


def test_reads_old_format_but_not_for_aaaa() -> None:
    _, reg = setup(
        a("old.example.test"),
        aaaa("old.example.test"),
        txt("old.example.test", value(resource="ingress/shop/old")),
        a("new.example.test"),
        txt("new.example.test", value(THEM, "ingress/x/old")),
        txt("a-new.example.test", value(resource="ingress/shop/new")),
    )
    got = by_key(reg.records())
    assert got["old.example.test", "A"].labels == {"owner": ME, "resource": "ingress/shop/old"}
    assert got["old.example.test", "AAAA"].owner == ""
    assert got["new.example.test", "A"].labels == {"owner": ME, "resource": "ingress/shop/new"}
    assert all(r.record_type != "TXT" for r in got.values())


def test_foreign_heritage_txt_is_a_plain_record_never_ownership() -> None:
    spf = '"v=spf1 -all"'
    fake = '"heritage=someone-else,external-dns/owner=cluster-a"'
    _, reg = setup(
        a("www.example.test"),
        txt("a-www.example.test", fake),
        txt("example.test", spf),
    )
    got = by_key(reg.records())
    assert got["www.example.test", "A"].owner == ""
    assert got["a-www.example.test", "TXT"].targets == (fake,)
    assert got["example.test", "TXT"].targets == (spf,)
    assert got["example.test", "TXT"].owner == ""


def test_ownership_txt_sharing_a_record_set_with_other_text() -> None:
    spf = '"v=spf1 -all"'
    _, reg = setup(a("example.test"), txt("example.test", spf, value()))
    got = by_key(reg.records())
    assert got["example.test", "A"].owner == ME
    # the other text is one record set with the ownership value in DNS: shown, as nobody's
    assert got["example.test", "TXT"].targets == (spf,)
    assert got["example.test", "TXT"].owner == ""


def test_several_owners_in_one_txt_never_read_as_ours() -> None:
    _, reg = setup(a("www.example.test"), txt("a-www.example.test", value(), value(THEM)))
    assert by_key(reg.records())["www.example.test", "A"].owner == THEM


def test_ownership_without_record_is_a_claim() -> None:
    _, reg = setup(
        txt("a-gone.example.test", value(THEM, "ingress/other/gone")),
        txt("cname-mine.example.test", value()),
        txt("mx-mail.example.test", value(THEM)),  # MX is not managed: no claim
    )
    got = by_key(reg.records())
    assert set(got) == {("gone.example.test", "A"), ("mine.example.test", "CNAME")}
    claim = got["gone.example.test", "A"]
    assert claim.targets == ()
    assert claim.labels == {"owner": THEM, "resource": "ingress/other/gone"}
    assert got["mine.example.test", "CNAME"].owner == ME


def test_old_format_orphan_claims_a_and_cname() -> None:
    _, reg = setup(txt("old.example.test", value(THEM)))
    got = by_key(reg.records())
    assert set(got) == {("old.example.test", "A"), ("old.example.test", "CNAME")}
    assert all(r.targets == () and r.owner == THEM for r in got.values())


def test_claims_follow_managed_types() -> None:
    mem = InMemoryProvider(
        name="m", zones=[ZONE], records=[txt("mx-mail.example.test", value(THEM))]
    )
    reg = TxtRegistry(provider=mem, owner_id=ME, managed_types=frozenset({"A", "MX"}))
    (claim,) = reg.records()
    assert (claim.name, claim.record_type, claim.owner) == ("mail.example.test", "MX", THEM)


def test_prefix_registry_reads_only_prefixed_names() -> None:
    _, reg = setup(
        a("www.example.test"),
        txt("txt-a-www.example.test", value()),
        a("other.example.test"),
        txt("a-other.example.test", value(THEM)),
        txt_prefix="txt-",
    )
    got = by_key(reg.records())
    assert got["www.example.test", "A"].owner == ME
    # a-other maps to nothing under this prefix: hidden (it is an ownership TXT) but unused
    assert got["other.example.test", "A"].owner == ""
    assert set(got) == {("www.example.test", "A"), ("other.example.test", "A")}


def test_wildcard_with_and_without_replacement() -> None:
    _, plain = setup(a("*.example.test"), txt("a-*.example.test", value()))
    assert by_key(plain.records())["*.example.test", "A"].owner == ME
    _, replaced = setup(
        a("*.example.test"),
        txt("a-any.example.test", value()),
        txt("cname-any.example.test", value(THEM)),
        wildcard_replacement="any",
    )
    got = by_key(replaced.records())
    assert got["*.example.test", "A"].owner == ME
    assert got["*.example.test", "CNAME"].targets == ()  # a claim, named with the *


def test_set_identifiers_keep_their_own_ownership() -> None:
    _, reg = setup(
        a("w.example.test", sid="eu"),
        txt("a-w.example.test", value(), sid="eu"),
        a("w.example.test", "192.0.2.11", sid="us"),
        txt("a-w.example.test", value(THEM), sid="us"),
    )
    owners = {r.set_identifier: r.owner for r in reg.records()}
    assert owners == {"eu": ME, "us": THEM}


def test_apex_reads_its_in_zone_txt_and_the_old_format() -> None:
    _, reg = setup(
        a("example.test"),
        txt("a-_apex.example.test", value(resource="ingress/shop/apex")),
        aaaa("other.test"),
        txt("other.test", value(THEM)),  # old format at an apex: not for AAAA
        zones=(ZONE, "other.test"),
    )
    got = by_key(reg.records())
    assert got["example.test", "A"].labels == {"owner": ME, "resource": "ingress/shop/apex"}
    assert got["other.test", "AAAA"].owner == ""
    assert got["other.test", "A"].targets == ()  # old-format claim at the apex


# -- writing -------------------------------------------------------------------------------


def desired(
    name: str, rtype: str = "A", target: str = "192.0.2.10", resource: str = WEB
) -> Endpoint:
    return Endpoint.of(name, rtype, [target], labels={"resource": resource})


def test_create_adds_new_format_txt_beside_each_record_in_one_call() -> None:
    mem, reg = setup()
    reg.records()
    reg.apply(
        Changes(
            create=(
                desired("www.example.test"),
                desired("www.example.test", "AAAA", "2001:db8::1"),
                desired("api.example.test", "CNAME", "lb-1.elb.example.net"),
            )
        )
    )
    assert mem.apply_calls == 1
    stored = {(r.name, r.record_type): r.targets for r in mem.records()}
    assert stored == {
        ("www.example.test", "A"): ("192.0.2.10",),
        ("www.example.test", "AAAA"): ("2001:db8::1",),
        ("api.example.test", "CNAME"): ("lb-1.elb.example.net",),
        ("a-www.example.test", "TXT"): (value(),),
        ("aaaa-www.example.test", "TXT"): (value(),),
        ("cname-api.example.test", "TXT"): (value(),),
    }
    assert by_key(reg.records())["www.example.test", "A"].labels == {"owner": ME, "resource": WEB}


def test_create_at_the_apex_writes_the_in_zone_txt() -> None:
    mem, reg = setup()
    reg.apply(Changes(create=(desired(ZONE),)))
    assert mem.get("a-_apex.example.test", "TXT") == txt("a-_apex.example.test", value())
    assert by_key(reg.records())[ZONE, "A"].owner == ME


def test_create_with_prefix_and_set_identifier() -> None:
    mem, reg = setup(txt_prefix="txt.")
    weighted = Endpoint.of(
        "w.example.test",
        "A",
        ["192.0.2.1"],
        set_identifier="eu",
        labels={"resource": WEB},
        provider_specific={"aws/weight": "10"},
    )
    reg.apply(Changes(create=(weighted,)))
    written = mem.get("txt.a-w.example.test", "TXT", "eu")
    assert written is not None
    assert written.targets == (value(),)
    assert written.provider_specific == {"aws/weight": "10"}


def test_alias_properties_are_not_copied_onto_the_txt() -> None:
    mem, reg = setup()
    reg.apply(Changes(create=(alias("alb.example.test"),)))
    written = mem.get("a-alb.example.test", "TXT")
    assert written is not None
    assert written.provider_specific == {}
    assert written.targets == (ownership_value(ME),)


def test_update_with_same_labels_leaves_txt_alone() -> None:
    mem, reg = setup(a("www.example.test"), txt("a-www.example.test", value()))
    (current,) = reg.records()
    new = desired("www.example.test", target="192.0.2.99")
    reg.apply(Changes(update=(Update(old=current, new=new),)))
    assert mem.applied[-1] == Changes(update=(Update(old=current, new=new),))
    assert mem.get("a-www.example.test", "TXT") == txt("a-www.example.test", value())


def test_update_with_new_resource_updates_txt() -> None:
    mem, reg = setup(a("www.example.test"), txt("a-www.example.test", value()))
    (current,) = reg.records()
    new = desired("www.example.test", target="192.0.2.99", resource="ingress/shop/web2")
    reg.apply(Changes(update=(Update(old=current, new=new),)))
    assert mem.get("a-www.example.test", "TXT") == txt(
        "a-www.example.test", value(resource="ingress/shop/web2")
    )
    assert mem.apply_calls == 1


def test_update_of_old_format_record_adds_new_format_and_keeps_old() -> None:
    old_txt = txt("www.example.test", value())
    mem, reg = setup(a("www.example.test"), old_txt)
    (current,) = reg.records()
    assert current.owner == ME
    reg.apply(
        Changes(update=(Update(old=current, new=desired("www.example.test", target="192.0.2.7")),))
    )
    assert mem.get("a-www.example.test", "TXT") == txt("a-www.example.test", value())
    assert mem.get("www.example.test", "TXT") == old_txt


def test_update_of_legacy_alias_adds_a_txt_and_keeps_cname_txt() -> None:
    legacy = txt("cname-alb.example.test", value())
    mem, reg = setup(alias("alb.example.test"), legacy)
    (current,) = reg.records()
    new = Endpoint(
        name="alb.example.test",
        record_type="A",
        targets=("lb-2.elb.example.net",),
        labels=FrozenMap({"resource": WEB}),
        provider_specific=FrozenMap({"alias": "true"}),
    )
    reg.apply(Changes(update=(Update(old=current, new=new),)))
    assert mem.get("a-alb.example.test", "TXT") == txt("a-alb.example.test", value())
    assert mem.get("cname-alb.example.test", "TXT") == legacy


def test_delete_removes_our_txts_in_every_format() -> None:
    mem, reg = setup(
        alias("alb.example.test"),
        txt("a-alb.example.test", value()),
        txt("cname-alb.example.test", value()),
        txt("alb.example.test", value()),
    )
    (current,) = reg.records()
    reg.apply(Changes(delete=(current,)))
    assert mem.records() == ()
    assert mem.apply_calls == 1


def test_delete_keeps_other_text_in_a_shared_txt() -> None:
    spf = '"v=spf1 -all"'
    mem, reg = setup(a("example.test"), txt("example.test", spf, value()))
    current = by_key(reg.records())["example.test", "A"]
    reg.apply(Changes(delete=(current,)))
    assert mem.records() == (txt("example.test", spf),)
    # and reads back as the plain TXT records() showed beside the record
    assert reg.records() == (txt("example.test", spf),)


def test_delete_keeps_old_format_txt_still_used_by_another_record() -> None:
    shared = txt("mail.example.test", value())
    mx = Endpoint.of("mail.example.test", "MX", ["10 mx.example.test"])
    mem, reg = setup(a("mail.example.test"), mx, shared)
    current = by_key(reg.records())["mail.example.test", "A"]
    reg.apply(Changes(delete=(current,)))
    assert mem.get("mail.example.test", "TXT") == shared
    assert mem.get("mail.example.test", "A") is None


def test_delete_of_aaaa_never_touches_old_format() -> None:
    old = txt("v6.example.test", value())
    mem, reg = setup(aaaa("v6.example.test"), txt("aaaa-v6.example.test", value()), old)
    current = by_key(reg.records())["v6.example.test", "AAAA"]
    reg.apply(Changes(delete=(current,)))
    assert mem.records() == (old,)


def test_changes_to_records_not_ours_are_refused_and_nothing_written() -> None:
    mem, reg = setup(
        a("theirs.example.test"),
        txt("a-theirs.example.test", value(THEM)),
        a("nobodys.example.test"),
    )
    got = by_key(reg.records())
    theirs, nobodys = got["theirs.example.test", "A"], got["nobodys.example.test", "A"]
    for changes in (
        Changes(delete=(theirs,)),
        Changes(
            update=(Update(old=nobodys, new=desired("nobodys.example.test", target="192.0.2.1")),)
        ),
        # labels forged by the caller do not count: the provider's TXT does
        Changes(delete=(theirs.with_labels({"owner": ME}),), create=(desired("x.example.test"),)),
    ):
        reg.records()
        with pytest.raises(OwnershipError) as caught:
            reg.apply(changes)
        assert caught.value.names
    assert mem.apply_calls == 0
    assert mem.get("a-theirs.example.test", "TXT") == txt("a-theirs.example.test", value(THEM))


def test_create_over_another_owners_orphan_txt_is_refused() -> None:
    """external-dns #6617: a foreign ownership TXT without its record is never overwritten."""
    foreign = txt("cname-web.example.test", value(THEM, "ingress/other/web"))
    mem, reg = setup(foreign)
    current = reg.records()
    want = desired("web.example.test", "CNAME", "lb-1.elb.example.net")
    plan = calculate(current=current, desired=[want], owner_id=ME)
    assert plan.changes.is_empty()
    (conflict,) = plan.conflicts
    assert conflict.reason is ConflictReason.CLAIM_BLOCKED
    assert conflict.name == "web.example.test"
    # even a caller that skips the planner cannot overwrite it
    with pytest.raises(OwnershipError, match=r"web\.example\.test CNAME"):
        reg.apply(Changes(create=(want,)))
    assert mem.records() == (foreign,)
    assert mem.apply_calls == 0


def test_create_over_another_owners_old_format_txt_is_refused() -> None:
    mem, reg = setup(txt("web.example.test", value(THEM)))
    current = reg.records()
    plan = calculate(current=current, desired=[desired("web.example.test")], owner_id=ME)
    assert plan.changes.is_empty()
    assert [c.reason for c in plan.conflicts] == [ConflictReason.CLAIM_BLOCKED]
    with pytest.raises(OwnershipError):
        reg.apply(Changes(create=(desired("web.example.test"),)))
    assert mem.apply_calls == 0


def test_create_over_our_own_orphan_txt_rewrites_it() -> None:
    mem, reg = setup(txt("a-web.example.test", value(resource="ingress/shop/old")))
    current = reg.records()
    plan = calculate(current=current, desired=[desired("web.example.test")], owner_id=ME)
    assert len(plan.changes.create) == 1
    reg.apply(plan.changes)
    assert mem.get("a-web.example.test", "TXT") == txt("a-web.example.test", value())
    assert mem.get("web.example.test", "A") == a("web.example.test")


def test_txt_name_holding_foreign_text_is_never_touched() -> None:
    squatter = txt("a-web.example.test", '"hello"')
    mem, reg = setup(squatter)
    reg.records()
    with pytest.raises(OwnershipError, match="not ours"):
        reg.apply(Changes(create=(desired("web.example.test"),)))
    assert mem.records() == (squatter,)


# -- data that is not ours where the registry writes or reads ownership ----------------------


def plan_and_apply(reg: TxtRegistry, *wanted: Endpoint) -> Plan:
    """One pass as the reconciler makes it: read, plan, write."""
    result = calculate(current=reg.records(), desired=wanted, owner_id=ME)
    reg.apply(result.changes)
    return result


def refused(result: Plan) -> list[tuple[str, str, ConflictReason]]:
    return sorted((c.name, c.record_type, c.reason) for c in result.conflicts)


VERIFY = '"google-site-verification=abc123"'


def test_other_data_at_an_ownership_txt_name_reads_as_nobodys_claim() -> None:
    _, reg = setup(
        txt("a-squat.example.test", VERIFY),
        txt("cname-web.example.test", VERIFY),
        txt("a-_apex.example.test", VERIFY),
        txt("a-w.example.test", VERIFY, sid="eu"),
        txt("mx-mail.example.test", VERIFY),  # MX is not managed: no claim
        txt("plain.example.test", VERIFY),  # not an ownership name: the planner sees it as is
        a("team.example.test"),
        txt("a-team.example.test", VERIFY),  # the record is there: it reads as itself
    )
    got = {r.key: r for r in reg.records()}
    claims = {key for key, r in got.items() if not r.targets}
    assert claims == {
        ("squat.example.test", "A", ""),
        ("web.example.test", "CNAME", ""),
        (ZONE, "A", ""),
        ("w.example.test", "A", "eu"),
    }
    assert all(got[key].owner == "" and got[key].labels == {} for key in claims)
    # the TXTs themselves are still listed, untouched
    assert got["a-squat.example.test", "TXT", ""].targets == (VERIFY,)
    assert got["team.example.test", "A", ""].targets == ("192.0.2.10",)
    assert got["team.example.test", "A", ""].owner == ""


def test_other_data_at_an_ownership_txt_name_refuses_that_record_only() -> None:
    squatter = txt("a-squat.example.test", VERIFY)
    mem, reg = setup(squatter)
    wanted = (desired("squat.example.test"), desired("ok.example.test"))
    first = plan_and_apply(reg, *wanted)
    assert refused(first) == [("squat.example.test", "A", ConflictReason.CLAIM_BLOCKED)]
    assert mem.apply_calls == 1
    assert set(mem.records()) == {
        squatter,
        a("ok.example.test"),
        txt("a-ok.example.test", value()),
    }
    # the next pass changes nothing and still says why
    again = plan_and_apply(reg, *wanted)
    assert again.changes.is_empty()
    assert refused(again) == refused(first)
    assert mem.apply_calls == 1


def test_other_data_at_an_apex_ownership_txt_name_refuses_the_apex_record() -> None:
    squatter = txt("aaaa-_apex.example.test", VERIFY)
    mem, reg = setup(squatter)
    result = plan_and_apply(
        reg, desired(ZONE), desired(ZONE, "AAAA", "2001:db8::1"), desired("ok.example.test")
    )
    # the planner refuses every type at a name another (or no) owner claims
    assert refused(result) == [
        (ZONE, "A", ConflictReason.CLAIM_BLOCKED),
        (ZONE, "AAAA", ConflictReason.CLAIM_BLOCKED),
    ]
    assert {(r.name, r.record_type) for r in mem.records()} == {
        ("aaaa-_apex.example.test", "TXT"),
        ("ok.example.test", "A"),
        ("a-ok.example.test", "TXT"),
    }
    assert mem.get("aaaa-_apex.example.test", "TXT") == squatter


def test_other_data_at_an_ownership_txt_name_with_a_prefix() -> None:
    squatter = txt("txt-a-squat.example.test", VERIFY)
    mem, reg = setup(squatter, txt("a-free.example.test", VERIFY), txt_prefix="txt-")
    result = plan_and_apply(reg, desired("squat.example.test"), desired("free.example.test"))
    assert refused(result) == [("squat.example.test", "A", ConflictReason.CLAIM_BLOCKED)]
    assert mem.get("txt-a-free.example.test", "TXT") == txt("txt-a-free.example.test", value())
    assert mem.get("txt-a-squat.example.test", "TXT") == squatter


def test_update_of_an_old_format_record_leaves_other_data_at_its_new_format_name() -> None:
    squatter = txt("a-web.example.test", VERIFY)
    mem, reg = setup(a("web.example.test"), txt("web.example.test", value()), squatter)
    result = plan_and_apply(reg, desired("web.example.test", target="192.0.2.99"))
    assert refused(result) == []
    assert len(result.changes.update) == 1
    assert mem.get("web.example.test", "A") == a("web.example.test", "192.0.2.99")
    assert mem.get("web.example.test", "TXT") == txt("web.example.test", value())
    assert mem.get("a-web.example.test", "TXT") == squatter


def test_our_old_format_txt_owns_a_record_whose_new_format_name_holds_other_data() -> None:
    squatter = txt("a-web.example.test", VERIFY)
    ours = txt("web.example.test", value())
    mem, reg = setup(squatter, ours)
    got = {r.key: r for r in reg.records()}
    assert got["web.example.test", "A", ""].owner == ME  # our old-format claim, not blocked
    first = plan_and_apply(reg, desired("web.example.test"))
    assert refused(first) == []
    assert set(mem.records()) == {squatter, ours, a("web.example.test")}
    assert by_key(reg.records())["web.example.test", "A"].owner == ME
    assert plan_and_apply(reg, desired("web.example.test")).changes.is_empty()
    assert mem.apply_calls == 1


def test_a_cname_stays_refused_where_its_new_format_name_holds_other_data() -> None:
    # a CNAME create drops our old-format TXT at its name, so it could not own the CNAME
    squatter = txt("cname-web.example.test", VERIFY)
    ours = txt("web.example.test", value())
    mem, reg = setup(squatter, ours)
    got = {r.key: r for r in reg.records()}
    assert got["web.example.test", "CNAME", ""].owner == ""
    assert got["web.example.test", "A", ""].owner == ME
    result = plan_and_apply(reg, desired("web.example.test", "CNAME", "lb.example.net"))
    assert refused(result) == [("web.example.test", "CNAME", ConflictReason.CLAIM_BLOCKED)]
    # no CNAME, the other data untouched (our A claim, wanted by nobody, went as an orphan)
    assert mem.get("web.example.test", "CNAME") is None
    assert mem.get("cname-web.example.test", "TXT") == squatter


def test_other_text_beside_an_old_format_txt_refuses_a_cname_there() -> None:
    # one TXT record set in DNS: an SPF string and our old-format ownership value
    spf = '"v=spf1 -all"'
    shared = txt("mail.example.test", spf, value())
    mem, reg = setup(shared)
    got = {r.key: r for r in reg.records()}
    assert got["mail.example.test", "TXT", ""].targets == (spf,)
    assert got["mail.example.test", "TXT", ""].owner == ""
    assert got["mail.example.test", "CNAME", ""].owner == ME  # still our (old-format) claims
    assert got["mail.example.test", "A", ""].owner == ME
    result = plan_and_apply(reg, desired("mail.example.test", "CNAME", "lb.example.net"))
    assert refused(result) == [("mail.example.test", "CNAME", ConflictReason.TYPE_CLASH)]
    assert mem.records() == (shared,)  # nothing written, the SPF kept


def test_other_text_beside_an_old_format_txt_lets_an_a_in_and_keeps_the_text() -> None:
    spf = '"v=spf1 -all"'
    mem, reg = setup(txt("mail.example.test", spf, value()))
    first = plan_and_apply(reg, desired("mail.example.test"))
    assert refused(first) == []
    assert mem.get("mail.example.test", "A") == a("mail.example.test")
    assert mem.get("a-mail.example.test", "TXT") == txt("a-mail.example.test", value())
    # the old-format value stays while the A reads it (as on any update), the SPF beside it
    assert mem.get("mail.example.test", "TXT") == txt("mail.example.test", spf, value())
    assert plan_and_apply(reg, desired("mail.example.test")).changes.is_empty()
    assert mem.apply_calls == 1


def test_other_text_sharing_our_new_format_txt_stays_when_our_value_changes() -> None:
    spf = '"v=spf1 -all"'
    mem, reg = setup(a("web.example.test"), txt("a-web.example.test", value(), spf))
    got = {r.key: r for r in reg.records()}
    assert got["a-web.example.test", "TXT", ""].targets == (spf,)
    assert got["web.example.test", "A", ""].owner == ME
    moved = desired("web.example.test", resource="ingress/shop/other")
    reg.apply(Changes(update=(Update(got["web.example.test", "A", ""], moved),)))
    assert mem.get("a-web.example.test", "TXT") == txt(
        "a-web.example.test", spf, value(resource="ingress/shop/other")
    )


def test_an_ownership_txt_without_owner_beside_an_unmanaged_record_refuses_that_name_only() -> None:
    heritage_only = txt("foo.example.test", '"heritage=external-dns"')
    mx = Endpoint.of("foo.example.test", "MX", ["10 mx.example.test"])
    mem, reg = setup(heritage_only, mx)
    got = {r.key: r for r in reg.records()}
    assert got["foo.example.test", "MX", ""].owner == ""
    assert got["foo.example.test", "A", ""].targets == ()
    assert got["foo.example.test", "A", ""].owner == ""
    assert got["foo.example.test", "CNAME", ""].owner == ""
    result = plan_and_apply(reg, desired("foo.example.test"), desired("bar.example.test"))
    assert refused(result) == [("foo.example.test", "A", ConflictReason.CLAIM_BLOCKED)]
    assert set(mem.records()) == {
        heritage_only,
        mx,
        a("bar.example.test"),
        txt("a-bar.example.test", value()),
    }


def test_cname_create_drops_our_old_format_txt_at_its_name() -> None:
    mem, reg = setup(txt("web.example.test", value()))
    reg.records()
    reg.apply(Changes(create=(desired("web.example.test", "CNAME", "lb-1.elb.example.net"),)))
    assert {(r.name, r.record_type) for r in mem.records()} == {
        ("web.example.test", "CNAME"),
        ("cname-web.example.test", "TXT"),
    }


def test_type_change_in_one_batch() -> None:
    mem, reg = setup(cname("web.example.test"), txt("cname-web.example.test", value()))
    current = reg.records()
    plan = calculate(current=current, desired=[desired("web.example.test")], owner_id=ME)
    reg.apply(plan.changes)
    assert mem.apply_calls == 1
    assert {(r.name, r.record_type) for r in mem.records()} == {
        ("web.example.test", "A"),
        ("a-web.example.test", "TXT"),
    }


def test_empty_changes_call_nothing() -> None:
    mem, reg = setup()
    reg.apply(Changes())
    assert mem.apply_calls == 0


def test_apply_without_a_read_reads_first() -> None:
    mem, reg = setup(a("theirs.example.test"), txt("a-theirs.example.test", value(THEM)))
    with pytest.raises(OwnershipError):
        reg.apply(Changes(create=(desired("theirs.example.test"),)))
    assert mem.apply_calls == 0


# -- takeover and the whole loop -------------------------------------------------------------


def external_dns_zone(owner: str) -> list[Endpoint]:
    """A zone exactly as external-dns v0.22 writes it for Ingress shop/web (Route53 view)."""
    return [
        a("www.example.test"),
        txt(
            "a-www.example.test",
            f'"heritage=external-dns,external-dns/owner={owner},'
            'external-dns/resource=ingress/shop/web"',
        ),
        aaaa("www.example.test"),
        txt(
            "aaaa-www.example.test",
            f'"heritage=external-dns,external-dns/owner={owner},'
            'external-dns/resource=ingress/shop/web"',
        ),
        cname("api.example.test"),
        txt(
            "cname-api.example.test",
            f'"heritage=external-dns,external-dns/owner={owner},'
            'external-dns/resource=ingress/shop/api"',
        ),
        alias("alb.example.test"),
        txt(
            "a-alb.example.test",
            f'"heritage=external-dns,external-dns/owner={owner},'
            'external-dns/resource=ingress/shop/alb"',
        ),
        txt("example.test", '"v=spf1 -all"'),
    ]


def wanted_by_sources() -> list[Endpoint]:
    return [
        desired("www.example.test"),
        desired("www.example.test", "AAAA", "2001:db8::10"),
        desired("api.example.test", "CNAME", "lb-1.elb.example.net", resource="ingress/shop/api"),
        Endpoint(
            name="alb.example.test",
            record_type="A",
            targets=("lb-1.elb.example.net",),
            labels=FrozenMap({"resource": "ingress/shop/alb"}),
            provider_specific=FrozenMap({"alias": "true"}),
        ),
    ]


def test_takeover_of_an_external_dns_zone_reads_as_ours_and_plans_nothing() -> None:
    _, reg = setup(*external_dns_zone(ME))
    current = reg.records()
    owned = {(r.name, r.record_type): r.labels for r in current if r.record_type != "TXT"}
    assert owned == {
        ("www.example.test", "A"): {"owner": ME, "resource": WEB},
        ("www.example.test", "AAAA"): {"owner": ME, "resource": WEB},
        ("api.example.test", "CNAME"): {"owner": ME, "resource": "ingress/shop/api"},
        ("alb.example.test", "A"): {"owner": ME, "resource": "ingress/shop/alb"},
    }
    plan = calculate(current=current, desired=wanted_by_sources(), owner_id=ME)
    assert plan.changes.is_empty()
    assert plan.conflicts == ()


def test_another_owners_external_dns_zone_is_left_alone() -> None:
    mem, reg = setup(*external_dns_zone(THEM))
    before = mem.records()
    plan = calculate(current=reg.records(), desired=wanted_by_sources(), owner_id=ME)
    assert plan.changes.is_empty()
    assert len(plan.conflicts) == 4
    reg.apply(plan.changes)
    assert mem.records() == before


def test_what_we_write_reads_back_converged_and_cleans_up() -> None:
    # (the planner refuses an A beside foreign data, so the apex record goes to another zone)
    mem, reg = setup(txt("example.test", '"v=spf1 -all"'), zones=(ZONE, "other.test"))
    wanted = [*wanted_by_sources(), desired("other.test")]
    reg.apply(calculate(current=reg.records(), desired=wanted, owner_id=ME).changes)
    again = calculate(current=reg.records(), desired=wanted, owner_id=ME)
    assert again.changes.is_empty()
    assert again.conflicts == ()
    # the same bytes external-dns would have written for every non-apex record
    for record in external_dns_zone(ME):
        assert mem.get(record.name, record.record_type) == record
    assert mem.get("a-_apex.other.test", "TXT") == txt("a-_apex.other.test", value())
    moved = [desired("www.example.test", target="192.0.2.77")]
    reg.apply(calculate(current=reg.records(), desired=moved, owner_id=ME).changes)
    assert {(r.name, r.record_type) for r in mem.records()} == {
        ("www.example.test", "A"),
        ("a-www.example.test", "TXT"),
        ("example.test", "TXT"),
    }
    reg.apply(calculate(current=reg.records(), desired=[], owner_id=ME).changes)
    assert mem.records() == (txt("example.test", '"v=spf1 -all"'),)


def test_only_owner_and_resource_are_written() -> None:
    mem, reg = setup()
    labelled = Endpoint.of(
        "www.example.test",
        "A",
        ["192.0.2.10"],
        labels={"resource": WEB, "owner": THEM, "tenant": "secret-team", "ownedRecord": "x"},
    )
    reg.apply(Changes(create=(labelled,)))
    assert mem.get("a-www.example.test", "TXT") == txt("a-www.example.test", value())


# -- invariants ------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_host = st.lists(_label, min_size=1, max_size=3).map(".".join)
_affixes = st.sampled_from(
    [
        {},
        {"prefix": "txt-"},
        {"prefix": "txt."},
        {"prefix": "%{record_type}-"},
        {"prefix": "extdns-%{record_type}."},
        {"suffix": "-txt"},
        {"suffix": "-%{record_type}"},
    ]
)


@given(host=_host, rtype=st.sampled_from(["A", "AAAA", "CNAME"]), affixes=_affixes)
def test_every_txt_name_maps_back_to_its_record(
    host: str, rtype: str, affixes: dict[str, str]
) -> None:
    name = f"{host}.{ZONE}"
    mapper = AffixNameMapper.of(affixes.get("prefix", ""), affixes.get("suffix", ""))
    txt_name = ownership_txt_name(name, rtype, ZONE, **affixes)
    assert txt_name.endswith("." + ZONE)
    assert mapper.to_record_name(txt_name) == (name, rtype)


@settings(max_examples=30)
@given(rtype=st.sampled_from(["A", "AAAA", "CNAME"]), affixes=_affixes)
def test_apex_txt_reads_back_as_the_apex(rtype: str, affixes: dict[str, str]) -> None:
    prefix, suffix = affixes.get("prefix", ""), affixes.get("suffix", "")
    mem = InMemoryProvider(name="m", zones=[ZONE])
    reg = TxtRegistry(provider=mem, owner_id=ME, txt_prefix=prefix, txt_suffix=suffix)
    target = "lb-1.elb.example.net" if rtype == "CNAME" else None
    record = (
        Endpoint(
            name=ZONE,
            record_type="A",
            targets=(target,),
            labels=FrozenMap({"resource": WEB}),
            provider_specific=FrozenMap({"alias": "true"}),
        )
        if target
        else desired(ZONE, rtype, "2001:db8::1" if rtype == "AAAA" else "192.0.2.1")
    )
    reg.apply(Changes(create=(record,)))
    (read,) = reg.records()
    assert read.key == record.key
    assert read.labels == {"owner": ME, "resource": WEB}


@given(
    owner=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
    resource=st.from_regex(r"ingress/[a-z0-9-]{1,10}/[a-z0-9.-]{1,20}", fullmatch=True),
)
def test_values_round_trip(owner: str, resource: str) -> None:
    assert parse_ownership(ownership_value(owner, resource)) == {
        "owner": owner,
        "resource": resource,
    }


def test_create_follows_the_ownership_that_reading_prefers() -> None:
    # our new-format claim outranks another owner's old-format TXT, exactly as when reading
    foreign_old = txt("web.example.test", value(THEM))
    mem, reg = setup(txt("a-web.example.test", value()), foreign_old)
    current = reg.records()
    assert by_key(current)["web.example.test", "A"].owner == ME
    # (the planner is stricter still: the foreign TXT also claims the CNAME, blocking the name)
    reg.apply(Changes(create=(desired("web.example.test"),)))
    assert mem.get("web.example.test", "A") == a("web.example.test")
    assert mem.get("web.example.test", "TXT") == foreign_old


class _Reversed(InMemoryProvider):
    """Lists its records backwards: the registry must not depend on listing order."""

    def records(self) -> tuple[Endpoint, ...]:
        return tuple(reversed(super().records()))


def test_reading_does_not_depend_on_listing_order() -> None:
    zone = [
        *external_dns_zone(ME),
        txt("a-web.example.test", value()),
        txt("web.example.test", value(THEM)),
        a("w.example.test"),
        txt("a-w.example.test", value(), value(THEM)),
    ]
    forward = TxtRegistry(
        provider=InMemoryProvider(name="m", zones=[ZONE], records=zone), owner_id=ME
    )
    backward = TxtRegistry(provider=_Reversed(name="m", zones=[ZONE], records=zone), owner_id=ME)
    assert forward.records() == backward.records()
    assert by_key(forward.records())["web.example.test", "A"].owner == ME
    assert by_key(forward.records())["web.example.test", "CNAME"].owner == THEM


class _Recording(InMemoryProvider):
    """Keeps the change sets as sent (the memory provider stores no labels)."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.sent: list[Changes] = []

    def apply(self, changes: Changes) -> None:
        self.sent.append(changes)
        super().apply(changes)


def test_every_txt_change_names_the_record_it_owns() -> None:
    mem = _Recording(
        name="m",
        zones=[ZONE],
        records=[
            a("old.example.test"),
            txt("a-old.example.test", value()),
            a("moved.example.test"),
            txt("a-moved.example.test", value()),
        ],
    )
    reg = TxtRegistry(provider=mem, owner_id=ME)
    got = by_key(reg.records())
    reg.apply(
        Changes(
            create=(desired(ZONE),),
            update=(
                Update(
                    old=got["moved.example.test", "A"],
                    new=desired("moved.example.test", resource="ingress/shop/other"),
                ),
            ),
            delete=(got["old.example.test", "A"],),
        )
    )
    (sent,) = mem.sent
    links = {
        e.name: e.labels.get("ownedRecord")
        for e in (*sent.create, *sent.delete, *(u.new for u in sent.update))
        if e.record_type == "TXT"
    }
    assert links == {
        "a-_apex.example.test": ZONE,
        "a-old.example.test": "old.example.test",
        "a-moved.example.test": "moved.example.test",
    }


# -- property: data not ours in the zone never fails a whole pass -----------------------------

_HOSTS = ("www", "api", ZONE)
_OTHER_TEXT = ('"v=spf1 -all"', VERIFY)
_OWNERSHIP_TEXT = (value(), value(THEM), '"heritage=external-dns"')


def _fqdn(host: str) -> str:
    return host if host == ZONE else f"{host}.{ZONE}"


def _txt_names(host: str) -> list[str]:
    """Every name an ownership TXT of ``host`` may have: old format, a-, aaaa-, cname-."""
    name = _fqdn(host)
    label = "_apex" if host == ZONE else host
    return [name, *(f"{t}-{label}.{ZONE}" for t in ("a", "aaaa", "cname"))]


_zone_txt = st.builds(
    lambda name, texts: txt(name, *texts),
    st.sampled_from([n for h in _HOSTS for n in _txt_names(h)]),
    st.sets(st.sampled_from((*_OTHER_TEXT, *_OWNERSHIP_TEXT)), min_size=1, max_size=3),
)
_zone_record = st.one_of(
    st.builds(a, st.sampled_from(_HOSTS).map(_fqdn)),
    st.builds(aaaa, st.sampled_from(_HOSTS).map(_fqdn)),
    st.builds(cname, st.sampled_from(["www", "api"]).map(_fqdn)),
    st.builds(
        lambda h: Endpoint.of(_fqdn(h), "MX", ["10 mx.example.test"]), st.sampled_from(_HOSTS)
    ),
)
_wanted = st.builds(
    lambda host, rtype: desired(
        _fqdn(host),
        rtype,
        {"A": "192.0.2.7", "AAAA": "2001:db8::7", "CNAME": "lb.example.net"}[rtype],
    ),
    st.sampled_from(_HOSTS),
    st.sampled_from(["A", "AAAA", "CNAME"]),
)


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.one_of(_zone_txt, _zone_record), max_size=6),
    wanted=st.lists(_wanted, max_size=4),
)
def test_a_planned_pass_never_fails_on_data_that_is_not_ours(
    records: list[Endpoint], wanted: list[Endpoint]
) -> None:
    """Whatever others keep in the zone (SPF, site verification, foreign or ownerless ownership
    TXTs, records), what the planner plans from records() is written without an error, and
    never touches a value that is not ours."""
    unique = {r.key: r for r in records}
    try:
        mem = InMemoryProvider(name="m", zones=[ZONE], records=unique.values())
    except ProviderError:
        return  # not a zone DNS allows (a CNAME beside other data)
    reg = TxtRegistry(provider=mem, owner_id=ME)
    wanted = [w for w in wanted if not (w.record_type == "CNAME" and w.name == ZONE)]
    foreign_before = _values_not_ours(reg, mem)
    for _ in range(2):
        plan_and_apply(reg, *wanted)  # raises on an OwnershipError or a provider refusal
    assert _values_not_ours(reg, mem) == foreign_before
    assert calculate(current=reg.records(), desired=wanted, owner_id=ME).changes.is_empty()


def _values_not_ours(reg: TxtRegistry, mem: InMemoryProvider) -> set[tuple[str, str, str]]:
    """(name, type, value) of every record value not ours, and every ownership value not ours."""
    records = {
        (r.name, r.record_type, v)
        for r in reg.records()
        if r.targets and r.owner != ME
        for v in r.targets
    }
    ownership = {
        (r.name, r.record_type, v)
        for r in mem.records()
        if r.record_type == "TXT"
        for v in r.targets
        if (labels := parse_ownership(v)) is not None and labels.get("owner") != ME
    }
    return records | ownership


# --- screening: names whose ownership cannot be written are refused, alone -----------------

LONG_RESOURCE = "ingress/" + "n" * 63 + "/" + "x" * 200


@pytest.mark.parametrize(
    ("name", "resource", "reason", "words"),
    [
        # a-<62 characters> is 64 bytes: over the 63 of one label
        ("h" * 62 + ".example.test", WEB, ConflictReason.OWNERSHIP_UNENCODABLE, "first label"),
        ("h" * 63 + ".example.test", WEB, ConflictReason.OWNERSHIP_UNENCODABLE, "first label"),
        # 252 bytes fit a name; a-<name> does not
        (
            ".".join(["h" * 60] * 4)[:239].rstrip(".") + ".example.test",
            WEB,
            ConflictReason.OWNERSHIP_UNENCODABLE,
            "253",
        ),
        ("web.example.test", LONG_RESOURCE, ConflictReason.OWNERSHIP_UNENCODABLE, "255"),
        ("a-web.example.test", WEB, ConflictReason.RESERVED_NAME, "ownership TXT name"),
        ("aaaa-web.example.test", WEB, ConflictReason.RESERVED_NAME, "ownership TXT name"),
        ("cname-x.example.test", WEB, ConflictReason.RESERVED_NAME, "ownership TXT name"),
        ("A-Web.example.test", WEB, ConflictReason.RESERVED_NAME, "ownership TXT name"),
    ],
)
def test_screen_refuses_exactly_the_host_that_cannot_be_owned(
    name: str, resource: str, reason: ConflictReason, words: str
) -> None:
    mem = InMemoryProvider(name="m", zones=[ZONE])
    registry = TxtRegistry(provider=mem, owner_id=ME)
    bad = Endpoint.of(name, "A", ["192.0.2.1"]).with_labels({"resource": resource})
    good = a("good.example.test").with_labels({"resource": WEB})
    kept, refused = registry.screen([bad, good])
    assert kept == [good]
    assert [(c.name, c.reason, c.resource) for c in refused] == [(bad.name, reason, resource)]
    assert words in refused[0].detail


def test_screen_keeps_the_longest_names_that_fit() -> None:
    mem = InMemoryProvider(name="m", zones=[ZONE])
    registry = TxtRegistry(provider=mem, owner_id=ME)
    fits = [
        Endpoint.of("h" * 61 + ".example.test", "A", ["192.0.2.1"]),  # a- + 61 = 63
        Endpoint.of("ns-1.example.test", "A", ["192.0.2.1"]),  # not a managed type's marker
        Endpoint.of("team-a.example.test", "A", ["192.0.2.1"]),
        Endpoint.of("example.test", "A", ["192.0.2.1"]),  # the apex: a-_apex.example.test
    ]
    assert registry.screen(fits) == (fits, [])


@pytest.mark.parametrize(
    ("affixes", "reserved", "free"),
    [
        (
            {},
            ["a-www.example.test", "cname-x.example.test"],
            ["www.example.test", "ab.example.test"],
        ),
        (
            {"txt_prefix": "txt-"},
            ["txt-a-www.example.test", "txt-cname-www.example.test"],
            ["a-www.example.test", "txt.example.test"],
        ),
        (
            {"txt_prefix": "%{record_type}-owner."},
            ["a-owner.www.example.test", "cname-owner.x.example.test"],
            ["a-www.example.test", "owner.example.test"],
        ),
        (
            {"txt_suffix": "-own"},
            ["a-www-own.example.test"],
            ["a-www.example.test", "www-own.example.test"],
        ),
        (
            {"wildcard_replacement": "any"},
            ["any.example.test", "a-any.example.test"],
            ["anything.example.test"],
        ),
    ],
)
def test_reserved_names_follow_the_configured_affixes(
    affixes: dict[str, str], reserved: list[str], free: list[str]
) -> None:
    registry = TxtRegistry(
        provider=InMemoryProvider(name="m", zones=[ZONE]),
        owner_id=ME,
        txt_prefix=affixes.get("txt_prefix", ""),
        txt_suffix=affixes.get("txt_suffix", ""),
        wildcard_replacement=affixes.get("wildcard_replacement", ""),
    )
    for name in reserved:
        assert registry.reserved_reason(name) is not None, name
    for name in free:
        assert registry.reserved_reason(name) is None, name
