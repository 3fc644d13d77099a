"""Normalisation of names, targets and maps in reconciler.model.endpoint: equal meaning, equal
value."""

from __future__ import annotations

import pytest

import reconciler.model.endpoint as endpoint_module
from reconciler.model.endpoint import (
    Changes,
    Endpoint,
    FrozenMap,
    InvalidNameError,
    Label,
    Update,
    normalize_name,
    normalize_target,
)
from reconciler.model.errors import ReconcilerError

LABEL_63 = "a" * 63
NAME_253 = ".".join([LABEL_63, LABEL_63, LABEL_63, "b" * 61])


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        pytest.param("Foo.Example.COM", "foo.example.com", id="case"),
        pytest.param("foo.example.com.", "foo.example.com", id="trailing-dot"),
        pytest.param("  foo.example.com.  ", "foo.example.com", id="surrounding-space"),
        pytest.param("*.Example.com", "*.example.com", id="wildcard-kept"),
        pytest.param("bücher.example", "xn--bcher-kva.example", id="idn-to-punycode"),
        pytest.param("BÜCHER.example", "xn--bcher-kva.example", id="idn-upper-case"),
        pytest.param("XN--BCHER-KVA.example", "xn--bcher-kva.example", id="punycode-case"),
        pytest.param("münchen。de", "xn--mnchen-3ya.de", id="ideographic-full-stop"),
        pytest.param("a．b．example", "a.b.example", id="fullwidth-full-stop"),
        pytest.param("_acme-challenge.Example.com", "_acme-challenge.example.com", id="underscore"),
        pytest.param(f"{LABEL_63}.com", f"{LABEL_63}.com", id="label-of-63-bytes"),
        pytest.param(NAME_253, NAME_253, id="name-of-253-bytes"),
        pytest.param(NAME_253 + ".", NAME_253, id="name-of-253-bytes-with-root-dot"),
    ],
)
def test_normalize_name(raw: str, normalised: str) -> None:
    assert normalize_name(raw) == normalised
    assert normalize_name(normalised) == normalised  # idempotent


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param(".", "empty", id="root-only"),
        pytest.param("a..example.com", "empty label", id="empty-label"),
        pytest.param(".a.example.com", "empty label", id="leading-dot"),
        pytest.param(f"{'a' * 64}.com", "longer than 63", id="label-of-64-bytes"),
        pytest.param(NAME_253 + "b", "longer than 253", id="name-of-254-bytes"),
        pytest.param(f"{'ü' * 60}.de", "IDN label|longer than 63", id="idn-label-too-long-encoded"),
        pytest.param("foo bar.example.com", "whitespace", id="inner-space"),
        pytest.param("foo\tbar.example.com", "whitespace", id="tab"),
        pytest.param("foo\x00.example.com", "control", id="nul"),
        pytest.param("\u200b.example.com", "control", id="zero-width-space"),
    ],
)
def test_normalize_name_rejects(raw: str, message: str) -> None:
    with pytest.raises(InvalidNameError, match=message):
        normalize_name(raw)


def test_invalid_name_error_is_a_reconciler_error_and_a_value_error() -> None:
    with pytest.raises(ReconcilerError):
        normalize_name("")
    with pytest.raises(ValueError, match="empty"):
        normalize_name("")


@pytest.mark.parametrize(
    ("record_type", "raw", "normalised"),
    [
        pytest.param("A", "192.0.2.1", "192.0.2.1", id="ipv4"),
        pytest.param("A", " 192.0.2.1 ", "192.0.2.1", id="ipv4-spaces"),
        pytest.param("AAAA", "2001:DB8:0:0:0:0:0:1", "2001:db8::1", id="ipv6-canonical"),
        pytest.param("AAAA", "2001:0db8::0001", "2001:db8::1", id="ipv6-leading-zeros"),
        pytest.param("AAAA", "::1", "::1", id="ipv6-loopback"),
        pytest.param("AAAA", "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", id="ipv6-first-run"),
        pytest.param("CNAME", "LB.Example.NET.", "lb.example.net", id="cname-is-a-name"),
        pytest.param("NS", "NS1.Example.NET.", "ns1.example.net", id="ns-is-a-name"),
        pytest.param("TXT", "Hello World", "Hello World", id="txt-case-kept"),
        pytest.param("MX", "10 Mail.Example.com.", "10 Mail.Example.com.", id="mx-kept"),
    ],
)
def test_normalize_target(record_type: str, raw: str, normalised: str) -> None:
    assert normalize_target(record_type, raw) == normalised


@pytest.mark.parametrize(
    ("record_type", "raw"),
    [
        pytest.param("A", "192.0.2", id="ipv4-short"),
        pytest.param("A", "256.0.0.1", id="ipv4-octet-too-big"),
        pytest.param("A", "010.0.0.1", id="ipv4-leading-zero"),
        pytest.param("A", "192.0.2.1/32", id="ipv4-prefix"),
        pytest.param("A", "::1", id="ipv6-in-a"),
        pytest.param("A", "lb.example.com", id="name-in-a"),
        pytest.param("A", "", id="empty-a"),
        pytest.param("AAAA", "192.0.2.1", id="ipv4-in-aaaa"),
        pytest.param("AAAA", "2001:db8::1::2", id="two-double-colons"),
        pytest.param("AAAA", "2001:db8::g", id="not-hex"),
        pytest.param("AAAA", "fe80::1%eth0", id="zone-index"),
        pytest.param("CNAME", "a..b", id="cname-empty-label"),
    ],
)
def test_normalize_target_rejects(record_type: str, raw: str) -> None:
    with pytest.raises(InvalidNameError):
        normalize_target(record_type, raw)


def test_endpoint_of_normalises_everything() -> None:
    endpoint = Endpoint.of(
        "Foo.Example.com.",
        "cname",
        ["LB.example.net.", "lb.example.net"],
        ttl=60,
        labels={"resource": "ingress/ns/a"},
    )
    assert endpoint == Endpoint(
        name="foo.example.com",
        record_type="CNAME",
        targets=("lb.example.net",),
        ttl=60,
        labels=FrozenMap({"resource": "ingress/ns/a"}),
    )


def test_targets_are_sorted_unique_and_order_free() -> None:
    one = Endpoint.of("x.example.com", "A", ["10.0.0.2", "10.0.0.1", "10.0.0.2"])
    other = Endpoint.of("X.EXAMPLE.COM.", "A", ["10.0.0.1", " 10.0.0.2"])
    assert one.targets == ("10.0.0.1", "10.0.0.2")
    assert one == other
    assert hash(one) == hash(other)
    assert len({one, other}) == 1


def test_ipv6_targets_in_any_spelling_compare_equal() -> None:
    one = Endpoint.of("x.example.com", "AAAA", ["2001:DB8::1", "2001:db8:0:0:0:0:0:2"])
    other = Endpoint.of("x.example.com", "AAAA", ["2001:db8::2", "2001:0db8::0001"])
    assert one == other
    assert one.targets == ("2001:db8::1", "2001:db8::2")


def test_cname_targets_ignore_case_txt_targets_keep_it() -> None:
    cname = Endpoint.of("x.example.com", "CNAME", ["B.example.net", "a.example.net."])
    assert cname.targets == ("a.example.net", "b.example.net")
    txt = Endpoint.of("x.example.com", "TXT", ["b", "B", "a"])
    assert txt.targets == ("B", "a", "b")


def test_no_targets_is_a_claim_not_an_error() -> None:
    assert Endpoint.of("x.example.com", "A", []).targets == ()


@pytest.mark.parametrize("ttl", [-1, 2**31])
def test_ttl_out_of_range_is_rejected(ttl: int) -> None:
    with pytest.raises(InvalidNameError, match="TTL"):
        Endpoint.of("x.example.com", "A", ["192.0.2.1"], ttl=ttl)


@pytest.mark.parametrize("ttl", [None, 0, 300, 2**31 - 1])
def test_ttl_in_range_is_kept(ttl: int | None) -> None:
    assert Endpoint.of("x.example.com", "A", ["192.0.2.1"], ttl=ttl).ttl == ttl


def test_bad_target_fails_the_whole_endpoint() -> None:
    with pytest.raises(InvalidNameError, match="IPv4"):
        Endpoint.of("x.example.com", "A", ["192.0.2.1", "nope"])


def test_key_owner_and_same_record() -> None:
    endpoint = Endpoint.of(
        "x.example.com",
        "A",
        ["192.0.2.1"],
        set_identifier="eu",
        labels={"owner": "me", "resource": "ingress/ns/a"},
    )
    assert endpoint.key == ("x.example.com", "A", "eu")
    assert endpoint.owner == "me"
    assert Endpoint.of("x.example.com", "A", ["192.0.2.1"]).owner == ""
    relabelled = endpoint.with_labels({"owner": "other"})
    assert relabelled.same_record(endpoint)
    assert relabelled != endpoint
    assert not endpoint.with_targets(["192.0.2.2"]).same_record(endpoint)
    assert endpoint.with_targets(["192.0.2.1 "]) == endpoint


def test_endpoint_is_frozen() -> None:
    endpoint = Endpoint.of("x.example.com", "A", ["192.0.2.1"])
    with pytest.raises(AttributeError):
        endpoint.name = "y.example.com"  # type: ignore[misc]


def test_frozen_map_equality_ignores_order_and_input_shape() -> None:
    a = FrozenMap({"b": "2", "a": "1"})
    b = FrozenMap([("a", "1"), ("b", "2")])
    assert a == b
    assert hash(a) == hash(b)
    assert a == {"a": "1", "b": "2"}
    assert a != {"a": "1"}
    assert a != FrozenMap({"a": "1", "b": "3"})
    assert list(a) == ["a", "b"]
    assert len(a) == 2
    assert a["b"] == "2"
    assert a.get("c") is None
    assert "a" in a
    assert "c" not in a
    with pytest.raises(KeyError):
        a["c"]


def test_frozen_map_keys_are_plain_strings() -> None:
    labels = FrozenMap([(Label.OWNER, "me")])
    (key,) = list(labels)
    assert type(key) is str
    assert labels == FrozenMap({"owner": "me"})
    assert hash(labels) == hash(FrozenMap({"owner": "me"}))
    assert repr(labels) == "FrozenMap({'owner': 'me'})"
    assert labels[Label.OWNER] == "me"


def test_frozen_map_copies_and_never_changes() -> None:
    source = {"a": "1"}
    frozen = FrozenMap(source)
    source["a"] = "changed"
    assert frozen["a"] == "1"
    added = frozen.with_item("b", "2")
    assert added == {"a": "1", "b": "2"}
    assert frozen == {"a": "1"}
    assert added.without("a") == {"b": "2"}
    assert frozen.with_item("a", "3") == {"a": "3"}
    # immutable, so an edit that changes nothing hands back the same map
    assert frozen.with_item("a", "1") is frozen
    assert frozen.without("b") is frozen
    assert not hasattr(frozen, "__setitem__")
    with pytest.raises(AttributeError):
        frozen.extra = 1  # type: ignore[attr-defined]


def test_frozen_map_of_one_item_is_the_map_of_that_item() -> None:
    one = FrozenMap.of_item(Label.OWNER, "me")
    assert one == FrozenMap({"owner": "me"})
    assert hash(one) == hash(FrozenMap({"owner": "me"}))
    assert type(next(iter(one))) is str  # the plain key, not the enum member
    assert one.with_item("a", "1") == {"a": "1", "owner": "me"}


def test_frozen_map_usable_as_dict_key_and_in_sets() -> None:
    assert len({FrozenMap({"a": "1"}), FrozenMap([("a", "1")]), FrozenMap()}) == 2


def test_changes_counts_and_emptiness() -> None:
    a = Endpoint.of("a.example.com", "A", ["192.0.2.1"])
    b = a.with_targets(["192.0.2.2"])
    assert Changes().is_empty()
    assert len(Changes()) == 0
    changes = Changes(create=(a,), update=(Update(old=a, new=b),), delete=(b,))
    assert not changes.is_empty()
    assert len(changes) == 3


def test_public_surface() -> None:
    assert sorted(endpoint_module.__all__) == [
        "Changes",
        "Endpoint",
        "FrozenMap",
        "InvalidNameError",
        "Label",
        "RecordType",
        "Update",
        "normalize_name",
        "normalize_target",
    ]
