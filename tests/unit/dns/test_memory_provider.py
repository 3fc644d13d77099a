"""The in-memory provider enforces real DNS rules, atomically."""

from __future__ import annotations

import pytest

from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.provider import Provider
from reconciler.model.endpoint import Changes, Endpoint, Update
from reconciler.model.errors import PermanentProviderError, TransientProviderError

ZONE = "example.test"


def a(name: str, *targets: str, ttl: int | None = None, sid: str = "") -> Endpoint:
    return Endpoint.of(name, "A", targets or ("192.0.2.1",), ttl=ttl, set_identifier=sid)


def cname(name: str, target: str = "lb.elsewhere.test") -> Endpoint:
    return Endpoint.of(name, "CNAME", [target])


def txt(name: str, value: str = '"hello"') -> Endpoint:
    return Endpoint.of(name, "TXT", [value])


def provider(*records: Endpoint) -> InMemoryProvider:
    return InMemoryProvider(name="memory", zones=["Example.Test.", "other.test"], records=records)


def test_it_is_a_provider() -> None:
    mem = provider()
    assert isinstance(mem, Provider)
    assert mem.name == "memory"
    assert mem.zones() == ("example.test", "other.test")
    desired = (a("www.example.test"),)
    assert tuple(mem.adjust_endpoints(desired)) == desired


def test_records_are_sorted_and_lose_their_labels() -> None:
    labelled = Endpoint.of("b.example.test", "A", ["192.0.2.2"], labels={"owner": "me"})
    mem = provider(labelled, a("a.example.test"))
    assert [r.name for r in mem.records()] == ["a.example.test", "b.example.test"]
    assert all(not r.labels for r in mem.records())
    assert mem.get("B.example.test.", "a") == labelled.with_labels({})
    assert mem.get("c.example.test", "A") is None


def test_create_update_delete_and_counts() -> None:
    mem = provider(a("old.example.test"))
    www = a("www.example.test", ttl=60)
    mem.apply(Changes(create=(www,)))
    moved = www.with_targets(["192.0.2.9"])
    mem.apply(Changes(update=(Update(old=www, new=moved),), delete=(a("old.example.test"),)))
    assert mem.records() == (moved,)
    assert mem.apply_calls == 2
    assert len(mem.applied) == 2
    assert mem.applied[0].create == (www,)


def test_same_name_different_set_identifiers_coexist() -> None:
    mem = provider(a("w.example.test", sid="eu"))
    mem.apply(Changes(create=(a("w.example.test", sid="us"),)))
    assert len(mem.records()) == 2


@pytest.mark.parametrize(
    ("seed", "changes", "problem", "named"),
    [
        pytest.param(
            [a("www.example.test")],
            Changes(create=(a("www.example.test", "192.0.2.7"),)),
            "already exists",
            "www.example.test A",
            id="create-over-existing",
        ),
        pytest.param(
            [],
            Changes(create=(a("x.example.test"), a("x.example.test"))),
            "more than one change",
            "x.example.test A",
            id="duplicate-create",
        ),
        pytest.param(
            [],
            Changes(delete=(a("gone.example.test"),)),
            "does not exist",
            "gone.example.test A",
            id="delete-missing",
        ),
        pytest.param(
            [a("www.example.test", "192.0.2.1")],
            Changes(delete=(a("www.example.test", "192.0.2.2"),)),
            "other data",
            "www.example.test A",
            id="delete-other-targets",
        ),
        pytest.param(
            [a("www.example.test", ttl=300)],
            Changes(delete=(a("www.example.test", ttl=60),)),
            "other data",
            "www.example.test A",
            id="delete-other-ttl",
        ),
        pytest.param(
            [a("www.example.test", "192.0.2.1")],
            Changes(
                update=(
                    Update(
                        old=a("www.example.test", "192.0.2.5"),
                        new=a("www.example.test", "192.0.2.6"),
                    ),
                )
            ),
            "old data does not match",
            "www.example.test A",
            id="update-stale-old",
        ),
        pytest.param(
            [],
            Changes(
                update=(Update(old=a("n.example.test"), new=a("n.example.test", "192.0.2.3")),)
            ),
            "does not exist",
            "n.example.test A",
            id="update-missing",
        ),
        pytest.param(
            [a("n.example.test")],
            Changes(update=(Update(old=a("n.example.test"), new=a("m.example.test")),)),
            "rename",
            "m.example.test A",
            id="update-rename",
        ),
        pytest.param(
            [a("www.example.test")],
            Changes(create=(cname("www.example.test"),)),
            "CNAME beside other data",
            "www.example.test",
            id="cname-beside-a",
        ),
        pytest.param(
            [txt("www.example.test")],
            Changes(create=(cname("www.example.test"),)),
            "CNAME beside other data",
            "www.example.test",
            id="cname-beside-txt",
        ),
        pytest.param(
            [cname("www.example.test")],
            Changes(create=(txt("www.example.test"),)),
            "CNAME beside other data",
            "www.example.test",
            id="txt-beside-cname",
        ),
        pytest.param(
            [],
            Changes(create=(cname("example.test"),)),
            "zone apex",
            "example.test",
            id="cname-at-apex",
        ),
        pytest.param(
            [],
            Changes(create=(a("www.example.org"),)),
            "outside every zone",
            "www.example.org",
            id="outside-zones",
        ),
        pytest.param(
            [],
            Changes(create=(a("notexample.test"),)),
            "outside every zone",
            "notexample.test",
            id="suffix-is-not-a-zone",
        ),
        pytest.param(
            [],
            Changes(create=(Endpoint.of("claim.example.test", "A", []),)),
            "without targets",
            "claim.example.test A",
            id="empty-targets",
        ),
        pytest.param(
            [],
            Changes(create=(txt("t.example.test", "heritage=external-dns"),)),
            "presentation form",
            "t.example.test TXT",
            id="unquoted-txt",
        ),
    ],
)
def test_broken_rules_fail_and_change_nothing(
    seed: list[Endpoint], changes: Changes, problem: str, named: str
) -> None:
    mem = provider(*seed)
    before = mem.records()
    # one valid change rides along: it must not be written either
    batch = Changes(
        create=(*changes.create, a("bystander.other.test")),
        update=changes.update,
        delete=changes.delete,
    )
    with pytest.raises(PermanentProviderError) as caught:
        mem.apply(batch)
    assert problem in str(caught.value)
    assert named in str(caught.value)
    assert caught.value.provider == "memory"
    assert not caught.value.transient
    assert mem.records() == before
    assert mem.apply_calls == 1
    assert mem.applied == ()


def test_deletes_come_before_creates_so_a_type_change_fits_one_batch() -> None:
    mem = provider(a("www.example.test"))
    mem.apply(Changes(create=(cname("www.example.test"),), delete=(a("www.example.test"),)))
    assert mem.records() == (cname("www.example.test"),)


def test_delete_without_ttl_matches_any_ttl() -> None:
    mem = provider(a("www.example.test", ttl=300))
    mem.apply(Changes(delete=(a("www.example.test"),)))
    assert mem.records() == ()


def test_seed_records_obey_the_same_rules() -> None:
    with pytest.raises(PermanentProviderError, match="outside every zone"):
        provider(a("www.example.org"))
    with pytest.raises(PermanentProviderError, match="CNAME beside"):
        provider(a("www.example.test"), cname("www.example.test"))
    with pytest.raises(PermanentProviderError, match="more than one change"):
        provider(a("www.example.test"), a("www.example.test", "192.0.2.9"))


def test_injected_failure_is_raised_once_and_writes_nothing() -> None:
    mem = provider()
    mem.fail_next_apply(TransientProviderError("throttled", provider="memory"))
    with pytest.raises(TransientProviderError):
        mem.apply(Changes(create=(a("www.example.test"),)))
    assert mem.records() == ()
    mem.apply(Changes(create=(a("www.example.test"),)))
    assert mem.apply_calls == 2
    assert len(mem.records()) == 1
