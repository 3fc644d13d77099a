"""One DNS pass over in-memory providers: routing, planning, applying, isolation of failures."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import ConflictReason, DomainFilter, Policy
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import (
    DnsPassResult,
    EndpointGroup,
    Registry,
    route_endpoints,
    route_groups,
    sync_dns,
)
from reconciler.model.endpoint import Endpoint
from reconciler.model.errors import PermanentProviderError, TransientProviderError

OWNER = "cluster-a"
TYPES = frozenset({"A", "AAAA", "CNAME"})


def desired(
    name: str, *targets: str, rtype: str = "A", resource: str = "ingress/web/x"
) -> Endpoint:
    return Endpoint.of(name, rtype, targets, ttl=300, labels={"resource": resource})


def target(provider: InMemoryProvider) -> TxtRegistry:
    return TxtRegistry(provider=provider, owner_id=OWNER)


def run(
    targets: Sequence[Registry],
    endpoints: Sequence[Endpoint],
    *,
    policy: Policy = Policy.SYNC,
    dry_run: bool = False,
) -> DnsPassResult:
    return sync_dns(
        desired=endpoints,
        targets=targets,
        owner_id=OWNER,
        policy=policy,
        managed_types=TYPES,
        domain_filter=DomainFilter(),
        dry_run=dry_run,
    )


def test_route_to_longest_zone_across_providers() -> None:
    endpoints = [
        desired("www.example.test", "192.0.2.1"),
        desired("db.private.example.test", "10.0.0.1"),
        desired("private.example.test", "10.0.0.2"),
        desired("www.elsewhere.test", "192.0.2.9"),
    ]
    routed, unrouted = route_endpoints(
        endpoints,
        [("public", {"example.test"}), ("private", {"private.example.test"})],
    )
    assert [e.name for e in routed["public"]] == ["www.example.test"]
    assert [e.name for e in routed["private"]] == [
        "db.private.example.test",
        "private.example.test",
    ]
    assert [e.name for e in unrouted] == ["www.elsewhere.test"]


def test_same_zone_in_two_providers_goes_to_both() -> None:
    routed, unrouted = route_endpoints(
        [desired("www.example.test", "192.0.2.1")],
        [("a", {"example.test"}), ("b", {"example.test"})],
    )
    assert len(routed["a"]) == len(routed["b"]) == 1
    assert unrouted == []


def test_pass_writes_each_record_into_its_providers_zone_with_ownership() -> None:
    public = InMemoryProvider(name="public", zones=["example.test"])
    private = InMemoryProvider(name="private", zones=["private.example.test"])
    endpoints = [
        desired("www.example.test", "192.0.2.1"),
        desired("db.private.example.test", "10.0.0.1"),
    ]
    result = run([target(public), target(private)], endpoints)
    assert result.ok
    assert [r.provider for r in result.providers] == ["public", "private"]
    assert [r.applied for r in result.providers] == [True, True]
    assert public.get("www.example.test", "A") is not None
    assert public.get("db.private.example.test", "A") is None
    assert private.get("db.private.example.test", "A") is not None
    txt = public.get("a-www.example.test", "TXT")
    assert txt is not None
    assert f"external-dns/owner={OWNER}" in txt.targets[0]

    # Second pass: converged, nothing to write.
    again = run([target(public), target(private)], endpoints)
    assert all(r.changes.is_empty() and not r.applied for r in again.providers)


def test_dry_run_plans_but_writes_nothing() -> None:
    provider = InMemoryProvider(name="bind", zones=["example.test"])
    result = run([target(provider)], [desired("www.example.test", "192.0.2.1")], dry_run=True)
    assert len(result.providers[0].changes.create) == 1
    assert result.providers[0].applied is False
    assert provider.apply_calls == 0
    assert not provider.records()


def test_failing_provider_does_not_stop_the_others() -> None:
    broken = InMemoryProvider(name="broken", zones=["example.test"])
    broken.fail_next_apply(TransientProviderError("timed out talking to 127.0.0.1:53"))
    healthy = InMemoryProvider(name="healthy", zones=["other.test"])
    endpoints = [desired("a.example.test", "192.0.2.1"), desired("b.other.test", "192.0.2.2")]
    result = run([target(broken), target(healthy)], endpoints)
    assert not result.ok
    first, second = result.providers
    assert first.errors == ("timed out talking to 127.0.0.1:53",)
    assert first.transient is True
    assert first.applied is False
    assert second.ok
    assert second.applied
    assert healthy.get("b.other.test", "A") is not None
    assert broken.get("a.example.test", "A") is None


class ZonesFail(InMemoryProvider):
    def zones(self) -> Sequence[str]:
        raise PermanentProviderError("access denied listing zones", provider=self.name)


class RecordsCrash(InMemoryProvider):
    def records(self) -> Sequence[Endpoint]:
        raise RuntimeError("bug")


def test_provider_errors_after_routing_are_isolated() -> None:
    broken = RecordsCrash(name="broken", zones=["other.test"])
    healthy = InMemoryProvider(name="healthy", zones=["example.test"])
    result = run([target(broken), target(healthy)], [desired("www.example.test", "192.0.2.1")])
    assert result.providers[0].errors
    assert result.providers[0].transient is False
    assert result.providers[1].ok
    assert healthy.get("www.example.test", "A") is not None


def test_unrouted_and_conflicts_reported() -> None:
    foreign = Endpoint.of("taken.example.test", "A", ["203.0.113.1"])
    provider = InMemoryProvider(name="bind", zones=["example.test"], records=[foreign])
    endpoints = [
        desired("taken.example.test", "192.0.2.1"),
        desired("www.nowhere.test", "192.0.2.2"),
    ]
    result = run([target(provider)], endpoints)
    assert [e.name for e in result.unrouted] == ["www.nowhere.test"]
    (conflict,) = result.providers[0].conflicts
    assert conflict.name == "taken.example.test"
    assert conflict.reason is ConflictReason.UNOWNED_RECORD
    assert provider.get("taken.example.test", "A") == foreign


def test_claim_keeps_our_records_and_deletion_needs_no_claim() -> None:
    provider = InMemoryProvider(name="bind", zones=["example.test"])
    run([target(provider)], [desired("www.example.test", "192.0.2.1")])
    claim = Endpoint.of("www.example.test", "A", [], labels={"resource": "ingress/web/x"})
    kept = run([target(provider)], [claim])
    assert kept.providers[0].changes.is_empty()
    assert provider.get("www.example.test", "A") is not None
    gone = run([target(provider)], [])
    assert [e.name for e in gone.providers[0].changes.delete] == ["www.example.test"]
    assert provider.get("www.example.test", "A") is None


def run_groups(
    targets: Sequence[Registry],
    groups: Sequence[EndpointGroup],
    endpoints: Sequence[Endpoint] = (),
) -> DnsPassResult:
    return sync_dns(
        desired=endpoints,
        groups=groups,
        targets=targets,
        owner_id=OWNER,
        policy=Policy.SYNC,
        managed_types=TYPES,
        domain_filter=DomainFilter(),
    )


def test_zone_failure_holds_every_provider_that_could_receive_its_names() -> None:
    # The child zone's provider cannot list zones: without the hold, its name would be routed to
    # the parent zone's provider and created there.
    child = ZonesFail(name="child", zones=["team.example.test"])
    parent = InMemoryProvider(name="parent", zones=["example.test"])
    run([target(parent)], [desired("old.example.test", "192.0.2.9")])
    result = run(
        [target(child), target(parent)],
        [desired("www.team.example.test", "192.0.2.1"), desired("x.example.test", "192.0.2.2")],
    )
    assert not result.ok
    failed, held = result.providers
    assert failed.errors == ("access denied listing zones",)
    assert held.held is True
    assert held.changes.is_empty()
    assert held.applied is False
    assert "zones of child unknown" in held.errors[0]
    assert held.transient is False
    assert parent.apply_calls == 1  # only the seeding pass above: nothing written in the pass
    assert parent.get("www.team.example.test", "A") is None
    assert parent.get("x.example.test", "A") is None
    assert parent.get("old.example.test", "A") is not None  # not deleted either
    assert result.unrouted == ()


def test_transient_zone_failure_makes_the_hold_transient() -> None:
    class ZonesTimeout(InMemoryProvider):
        def zones(self) -> Sequence[str]:
            raise TransientProviderError("timed out", provider=self.name)

    result = run(
        [
            target(ZonesTimeout(name="a", zones=["a.test"])),
            target(InMemoryProvider(name="b", zones=["b.test"])),
        ],
        [desired("www.b.test", "192.0.2.1")],
    )
    assert result.providers[1].held
    assert result.providers[1].transient


def test_zone_failure_outside_a_group_holds_nothing() -> None:
    broken = ZonesFail(name="public-r53", zones=["example.test"])
    private = InMemoryProvider(name="private-bind", zones=["example.test"])
    groups = [
        EndpointGroup((desired("db.example.test", "10.0.0.1"),), ("private-bind",)),
        EndpointGroup((), ("public-r53",)),
    ]
    result = run_groups([target(broken), target(private)], groups)
    assert result.providers[0].errors
    assert result.providers[1].ok
    assert private.get("db.example.test", "A") is not None


def test_groups_go_only_to_their_providers_split_horizon() -> None:
    public = InMemoryProvider(name="public", zones=["example.test"])
    private = InMemoryProvider(name="private", zones=["internal.example.test", "example.test"])
    groups = [
        EndpointGroup((desired("www.example.test", "203.0.113.5"),), ("public",)),
        EndpointGroup(
            (
                desired("db.internal.example.test", "10.0.0.5"),
                desired("api.example.test", "10.0.0.6"),
            ),
            ("private",),
        ),
    ]
    result = run_groups([target(public), target(private)], groups)
    assert result.ok
    assert public.get("www.example.test", "A") is not None
    assert public.get("api.example.test", "A") is None  # the private name never reaches public
    assert public.get("db.internal.example.test", "A") is None
    assert private.get("api.example.test", "A") is not None
    assert private.get("db.internal.example.test", "A") is not None
    assert private.get("www.example.test", "A") is None


def test_group_names_outside_its_providers_zones_are_unrouted() -> None:
    public = InMemoryProvider(name="public", zones=["example.test"])
    private = InMemoryProvider(name="private", zones=["internal.test"])
    groups = [EndpointGroup((desired("www.example.test", "10.0.0.1"),), ("private",))]
    result = run_groups([target(public), target(private)], groups)
    assert [e.name for e in result.unrouted] == ["www.example.test"]
    assert public.get("www.example.test", "A") is None


def test_route_groups_longest_zone_among_candidates_only() -> None:
    ep = desired("a.b.example.test", "10.0.0.1")
    zones = [("wide", frozenset({"example.test"})), ("narrow", frozenset({"b.example.test"}))]
    routed, unrouted, held = route_groups([EndpointGroup((ep,), ("wide",))], zones)
    assert routed == {"wide": [ep], "narrow": []}
    assert unrouted == []
    assert held == {}
    routed, _, _ = route_groups([EndpointGroup((ep,))], zones)
    assert routed == {"wide": [], "narrow": [ep]}
    _, _, held = route_groups([EndpointGroup((ep,))], zones[:1], unknown=["narrow"])
    assert held == {"wide": ("narrow",)}


def test_failed_write_keeps_the_plan_and_its_conflicts() -> None:
    foreign = Endpoint.of("taken.example.test", "A", ["203.0.113.1"])
    provider = InMemoryProvider(name="bind", zones=["example.test"], records=[foreign])
    provider.fail_next_apply(PermanentProviderError("REFUSED", provider="bind"))
    endpoints = [
        desired("taken.example.test", "192.0.2.1"),
        desired("new.example.test", "192.0.2.2"),
    ]
    (result,) = run([target(provider)], endpoints).providers
    assert result.errors == ("REFUSED",)
    assert result.applied is False
    assert result.transient is False
    assert [e.name for e in result.changes.create] == ["new.example.test"]
    assert [(c.name, c.reason) for c in result.conflicts] == [
        ("taken.example.test", ConflictReason.UNOWNED_RECORD)
    ]
    assert provider.get("new.example.test", "A") is None  # nothing was written


def test_failed_read_has_nothing_planned() -> None:
    broken = RecordsCrash(name="broken", zones=["example.test"])
    (result,) = run([target(broken)], [desired("www.example.test", "192.0.2.1")]).providers
    assert result.errors == ("bug",)
    assert result.changes.is_empty()
    assert result.conflicts == ()


def test_per_provider_lines_are_debug_failures_warn(caplog: pytest.LogCaptureFixture) -> None:
    broken = InMemoryProvider(name="broken", zones=["example.test"])
    broken.fail_next_apply(TransientProviderError("timed out"))
    healthy = InMemoryProvider(name="healthy", zones=["other.test"])
    endpoints = [desired("a.example.test", "192.0.2.1"), desired("b.other.test", "192.0.2.2")]
    caplog.set_level(logging.DEBUG, logger="reconciler")
    run([target(broken), target(healthy)], endpoints)
    mine = [r for r in caplog.records if r.name == "reconciler.dns.sync"]
    done = [r for r in mine if r.getMessage() == "dns pass done"]
    assert [(r.levelno, r.__dict__["provider"]) for r in done] == [
        (logging.DEBUG, "broken"),
        (logging.DEBUG, "healthy"),
    ]
    assert [(r.levelno, r.getMessage()) for r in mine if r.levelno >= logging.INFO] == [
        (logging.WARNING, "provider pass failed")
    ]
