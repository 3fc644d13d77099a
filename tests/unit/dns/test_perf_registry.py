"""A registry's cached reading of ownership values means exactly what parse_ownership says."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.dns.txt_format import (
    OwnershipCache,
    ownership_labels,
    ownership_value,
    parse_ownership,
)
from reconciler.model.endpoint import FrozenMap

_VALUE_CHARS = st.sampled_from([*'"=,/ab', "heritage", "external-dns", "owner", "resource"])


@given(st.lists(_VALUE_CHARS, max_size=12).map("".join))
def test_cached_labels_agree_with_parse_ownership(value: str) -> None:
    parsed = parse_ownership(value)
    cached = OwnershipCache().labels(value)
    assert cached == ownership_labels(value)
    if parsed is None:
        assert cached is None
    else:
        assert isinstance(cached, FrozenMap)
        assert cached == parsed
        assert dict(cached) == parsed


def test_cached_labels_of_our_value_and_the_bound() -> None:
    cache = OwnershipCache(limit=3)
    value = ownership_value("bench", "ingress/ns/web")
    first = cache.labels(value)
    assert first == {"owner": "bench", "resource": "ingress/ns/web"}
    assert cache.labels(value) is first  # one parse, one shared immutable map
    assert list(first or {}) == ["owner", "resource"]
    assert cache.labels('"heritage=other,external-dns/owner=x"') is None
    assert len(cache) == 2
    cache.labels("a")
    assert len(cache) == 3
    cache.labels("b")  # past the limit: starts over
    assert len(cache) == 1
    assert cache.labels(value) == first
    # each registry has its own: another one parses afresh
    assert OwnershipCache().labels(value) is not first


def test_frozen_map_reads_like_a_dict() -> None:
    labels = FrozenMap([("resource", "ingress/a/b"), ("owner", "me")])
    assert list(labels.items()) == [("owner", "me"), ("resource", "ingress/a/b")]
    assert labels.get("owner") == "me"
    assert labels.get("missing") is None
    assert labels.get("missing", "") == ""
    assert "owner" in labels
    assert "nobody" not in labels
    assert repr(labels) == "FrozenMap({'owner': 'me', 'resource': 'ingress/a/b'})"
    assert labels.with_item("owner", "you") == {"owner": "you", "resource": "ingress/a/b"}
    assert labels.without("owner") == {"resource": "ingress/a/b"}
    assert labels == {"owner": "me", "resource": "ingress/a/b"}
    assert labels != {"owner": "me"}
    assert hash(labels) == hash(FrozenMap({"owner": "me", "resource": "ingress/a/b"}))
