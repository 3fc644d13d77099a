"""The fast paths of endpoint normalisation give exactly what the general code gives."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.dns.ingress_source import _check_host
from reconciler.model.endpoint import (
    Endpoint,
    FrozenMap,
    InvalidNameError,
    Label,
    _normalize_name_general,
    normalize_name,
    normalize_target,
)
from reconciler.model.zones import zone_for

_NAME_CHARS = st.sampled_from([*"abcxyzABCZ019-_*.", " ", "\t", "\x7f", "é", "\u3002", "~"])


def _outcome(func: object, text: str) -> tuple[str, str]:
    assert callable(func)
    try:
        return ("ok", func(text))
    except InvalidNameError:
        return ("error", "")


@given(st.text(_NAME_CHARS, max_size=80))
def test_normalize_name_fast_path_agrees_with_general(text: str) -> None:
    assert _outcome(normalize_name, text) == _outcome(_normalize_name_general, text)


@given(st.lists(st.text("abz09-", min_size=1, max_size=70), min_size=1, max_size=6))
def test_normalize_name_long_labels_agree(labels: list[str]) -> None:
    text = ".".join(labels)
    assert _outcome(normalize_name, text) == _outcome(_normalize_name_general, text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("www.example.com", "www.example.com"),
        ("WWW.Example.COM", "www.example.com"),
        ("*.example.com", "*.example.com"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
    ],
)
def test_normal_names_come_back_lowered(name: str, expected: str) -> None:
    assert normalize_name(name) == expected


@pytest.mark.parametrize("name", ["a..b", ".a", "a b", "a" * 64 + ".com", "x." * 126 + "xy"])
def test_abnormal_names_still_fail(name: str) -> None:
    with pytest.raises(InvalidNameError):
        normalize_name(name)


@given(st.tuples(*[st.integers(0, 300)] * 4), st.sampled_from(["", "0", "00", " "]))
def test_ipv4_fast_path_agrees_with_ipaddress(octets: tuple[int, ...], pad: str) -> None:
    text = ".".join(pad.strip() + str(o) if i == 2 else str(o) for i, o in enumerate(octets))
    text = text + pad if pad == " " else text
    try:
        expected: tuple[str, str] = ("ok", str(ipaddress.IPv4Address(text.strip())))
    except ValueError:
        expected = ("error", "")
    assert _outcome(lambda t: normalize_target("A", t), text) == expected


def test_frozen_map_copy_shares_items_and_hash() -> None:
    original = FrozenMap({Label.OWNER: "me", "b": "2"})
    copy = FrozenMap(original)
    assert copy == original
    assert hash(copy) == hash(original) == hash((("b", "2"), ("owner", "me")))
    assert list(copy) == ["b", "owner"]
    assert all(type(k) is str for k in copy)
    assert FrozenMap() == FrozenMap({}) == FrozenMap([]) == {}
    assert hash(FrozenMap()) == hash(())


def test_endpoint_labels_from_frozen_map_compare_equal() -> None:
    labels = FrozenMap({"resource": "ingress/ns/a"})
    first = Endpoint.of("A.example.com", "a", ["10.0.0.1"], labels=labels)
    second = Endpoint.of("a.example.com.", "A", ["10.0.0.1 "], labels={"resource": "ingress/ns/a"})
    assert first == second
    assert hash(first) == hash(second)


_ZONE_NAMES = st.text("ab.", max_size=8)


@given(_ZONE_NAMES, st.lists(_ZONE_NAMES, max_size=6))
def test_zone_for_over_a_set_agrees_with_the_scan(name: str, zones: list[str]) -> None:
    assert zone_for(name, frozenset(zones)) == zone_for(name, tuple(zones))
    assert zone_for(name, set(zones)) == zone_for(name, list(zones))


def test_zone_for_over_a_set_picks_the_longest_zone() -> None:
    zones = {"example.test", "sub.example.test", "other.test"}
    assert zone_for("a.sub.example.test", zones) == "sub.example.test"
    assert zone_for("sub.example.test", zones) == "sub.example.test"
    assert zone_for("a.example.test", zones) == "example.test"
    assert zone_for("badexample.test", zones) is None
    assert zone_for("test", zones) is None


def _reference_check_host(raw: str, *, wildcard: bool) -> tuple[str, str]:
    """The source's host check as it was before its fast path: label by label."""
    try:
        name = normalize_name(raw)
    except InvalidNameError:
        return ("error", "")
    labels = name.split(".")
    for index, label in enumerate(labels):
        if wildcard and index == 0 and label == "*":
            continue
        if not re.match(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", label):
            return ("error", "")
    if labels[-1].isdigit():
        return ("error", "")
    return ("ok", name)


@given(st.text(st.sampled_from([*"aZ09-*._", "é"]), max_size=30), st.booleans())
def test_host_check_fast_path_agrees_with_label_by_label(raw: str, wildcard: bool) -> None:
    assert _outcome(lambda t: _check_host(t, wildcard=wildcard), raw) == _reference_check_host(
        raw, wildcard=wildcard
    )


@given(st.lists(st.text("a0-", min_size=1, max_size=66), min_size=1, max_size=4), st.booleans())
def test_host_check_long_labels_agree(labels: list[str], wildcard: bool) -> None:
    raw = ".".join(labels)
    assert _outcome(lambda t: _check_host(t, wildcard=wildcard), raw) == _reference_check_host(
        raw, wildcard=wildcard
    )
