"""The full pass on fakes: split horizon, tenancy refusals as Events and conflicts, zone-failure
hold, stages, and the DNS-only pass without fleets."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from reconciler.app.guards import WriteGuard
from reconciler.app.output import plan_document
from reconciler.app.pipeline import (
    DNS_RECORD_CONFLICT,
    DNS_WRITE_FAILED,
    INVALID_HOST,
    GuardedRegistry,
    Observed,
    PassConfig,
    RefreshableState,
    StageOutcome,
    conflict_entries,
    published_ingresses,
    reconcile,
)
from reconciler.app.settings import Settings
from reconciler.app.wiring import build_stages, loop_result, pass_config
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import Policy
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import Registry
from reconciler.dns.tenancy import TenancyConfig, Tenant
from reconciler.fleets.spec import FleetSpec, fleet_labels, service_name
from reconciler.kube.client import KubeClient
from reconciler.kube.fake import FakeCluster
from reconciler.model.cluster import ClusterState, EventType
from reconciler.model.endpoint import Changes, Endpoint
from reconciler.model.errors import KubernetesError, PermanentProviderError, TransientProviderError
from reconciler.runtime import loop
from reconciler.runtime.metrics import Metrics

OWNER = "cluster-a"
NOW = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
PUBLIC = FleetSpec.of(
    name="public",
    ingress_class_name="public",
    visibility="public",
    namespace="ingress-public",
    dns_providers=("r53-public",),
)
PRIVATE = FleetSpec.of(
    name="private",
    ingress_class_name="private",
    visibility="private",
    namespace="ingress-private",
    dns_providers=("bind-private",),
)


def ingress(
    name: str,
    host: str,
    *,
    namespace: str = "web",
    cls: str | None = "public",
    ip: str | None = None,
    hostname: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"rules": [{"host": host}]},
    }
    if cls is not None:
        obj["spec"]["ingressClassName"] = cls
    entry = {"ip": ip} if ip else {"hostname": hostname} if hostname else None
    if entry is not None:
        obj["status"] = {"loadBalancer": {"ingress": [entry]}}
    return obj


def fleet_service(spec: FleetSpec, **entry: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(spec),
            "namespace": spec.namespace,
            "labels": fleet_labels(spec.name, OWNER),
        },
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": [entry] if entry else []}},
    }


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def target(provider: InMemoryProvider) -> TxtRegistry:
    return TxtRegistry(provider=provider, owner_id=OWNER)


class Providers:
    """A public and a private provider that both hold example.test (the worst case for leaks)."""

    def __init__(self) -> None:
        self.public = InMemoryProvider(name="r53-public", zones=["example.test"])
        self.private = InMemoryProvider(name="bind-private", zones=["example.test"])

    def targets(self) -> list[TxtRegistry]:
        return [target(self.public), target(self.private)]


def config(**overrides: Any) -> PassConfig:
    values: dict[str, Any] = {"owner_id": OWNER, "fleets": (PUBLIC, PRIVATE)}
    values.update(overrides)
    return PassConfig(**values)


def names(provider: InMemoryProvider) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (r.name, r.record_type, r.targets) for r in provider.records() if r.record_type != "TXT"
    }


def run_pass(
    cluster: FakeCluster,
    targets: Sequence[Registry],
    cfg: PassConfig,
    *,
    dry_run: bool = False,
    stages: Sequence[Any] = (),
) -> Any:
    return reconcile(
        config=cfg,
        observed=Observed.from_state(cluster, cfg.fleets),
        targets=targets,
        now=NOW,
        state=cluster,
        stages=stages,
        events=cluster,
        dry_run=dry_run,
    )


def test_split_horizon_private_names_never_reach_the_public_provider() -> None:
    cluster = FakeCluster(
        [
            fleet_service(PUBLIC, hostname="pub-lb.elb.example.net"),
            fleet_service(PRIVATE, hostname="internal-priv-lb.elb.example.net"),
            ingress("shop", "shop.example.test", cls="public"),
            ingress("db", "db.example.test", cls="private"),
            ingress("other", "other.example.test", cls="somebody-elses"),
        ]
    )
    providers = Providers()
    report = run_pass(cluster, providers.targets(), config())
    assert report.ok
    assert names(providers.public) == {("shop.example.test", "CNAME", ("pub-lb.elb.example.net",))}
    assert names(providers.private) == {
        ("db.example.test", "CNAME", ("internal-priv-lb.elb.example.net",))
    }
    assert not cluster.events
    # idempotent: the second pass changes nothing
    again = run_pass(cluster, providers.targets(), config())
    assert all(r.changes.is_empty() for r in again.dns.providers)


def test_fleet_address_is_published_whole_and_kept_while_empty() -> None:
    old = ingress("a", "a.example.test", cls="public", ip="192.0.2.1")
    other = ingress("b", "b.example.test", cls="private", ip="192.0.2.2")
    addresses = {"public": ({"ip": "203.0.113.7"},), "private": ()}
    published = published_ingresses([old, other], (PUBLIC, PRIVATE), addresses)
    assert published[0]["status"] == {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    assert published[1] is other  # no address yet: the last one published stays
    assert old["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1"}]  # input untouched


def test_without_fleets_the_class_filter_decides_and_every_provider_is_a_candidate() -> None:
    ingresses = [
        ingress("a", "a.example.test", cls="public", ip="192.0.2.1"),
        ingress("b", "b.example.test", cls="private", ip="192.0.2.2"),
        ingress("c", "c.example.test", cls="ignored", ip="192.0.2.3"),
        ingress("bad", "-bad-.example.test", cls="public", ip="192.0.2.4"),
    ]
    settings = Settings(
        owner_id=OWNER,
        ingress_class_names=("public", "private"),
        providers=(),
    )
    world = Providers()
    report = reconcile(
        config=pass_config(settings),
        observed=Observed(ingresses=tuple(ingresses)),
        targets=world.targets(),
        now=NOW,
    )
    assert report.ok
    assert names(world.public) == {
        ("a.example.test", "A", ("192.0.2.1",)),
        ("b.example.test", "A", ("192.0.2.2",)),
    }
    # without fleets every provider is a candidate: both hold example.test, both get the names
    assert names(world.private) == names(world.public)
    assert [r.host for r in report.source.rejections] == ["-bad-.example.test"]
    assert report.refusals == ()
    # the registry_records metric: what this pass read before writing (the zones were empty)
    assert loop_result(report).records == ()
    again = reconcile(
        config=pass_config(settings),
        observed=Observed(ingresses=tuple(ingresses)),
        targets=world.targets(),
        now=NOW,
    )
    assert {(c.record_type, c.count) for c in loop_result(again).records} == {("A", 2)}
    assert len(loop_result(again).records) == 2  # one entry per provider


def tenancy() -> TenancyConfig:
    return TenancyConfig(
        tenants=(
            Tenant.of("team-a", namespaces=["a"], domains=["a.example.test"], fleets=["public"]),
            Tenant.of(
                "team-b",
                namespace_selector={"team": "b"},
                domains=["b.example.test"],
                fleets=["public", "private"],
            ),
        )
    )


def test_tenancy_refusals_become_warning_events_and_conflicts_owner_untouched() -> None:
    cluster = FakeCluster(
        [
            namespace("a"),
            namespace("b-ns", team="b"),
            namespace("stray"),
            fleet_service(PUBLIC, ip="203.0.113.10"),
            fleet_service(PRIVATE, ip="10.0.0.10"),
            ingress("owner", "www.b.example.test", namespace="b-ns"),
            ingress("thief", "www.b.example.test", namespace="a"),
            ingress("nowhere", "x.unowned.test", namespace="a"),
            ingress("sneaky", "app.a.example.test", namespace="a", cls="private"),
            ingress("lost", "l.a.example.test", namespace="stray"),
            ingress("good", "app.a.example.test", namespace="a"),
        ]
    )
    providers = Providers()
    cfg = config(tenancy=tenancy())
    report = run_pass(cluster, providers.targets(), cfg)
    assert report.ok
    assert names(providers.public) == {
        ("www.b.example.test", "A", ("203.0.113.10",)),
        ("app.a.example.test", "A", ("203.0.113.10",)),
    }
    assert names(providers.private) == set()
    txt = providers.public.get("www.b.example.test", "A")
    assert txt is not None
    events = {(e.regarding.name, e.reason) for e in cluster.events}
    assert events == {
        ("thief", "HostnameConflict"),
        ("nowhere", "HostnameNotAllowed"),
        ("sneaky", "FleetNotAllowed"),
        ("lost", "NamespaceNotInTenant"),
    }
    assert all(e.type is EventType.WARNING for e in cluster.events)
    thief = next(e for e in cluster.events if e.regarding.name == "thief")
    assert thief.regarding.namespace == "a"
    assert thief.regarding.kind == "Ingress"
    assert thief.regarding.uid == "uid-thief"
    assert "team-b" in thief.note
    counts = {r.reason: r.count for r in loop_result(report).refusals}
    assert counts == {
        "HostnameConflict": 1,
        "HostnameNotAllowed": 1,
        "FleetNotAllowed": 1,
        "NamespaceNotInTenant": 1,
    }
    doc = plan_document(report.dns, report.source.rejections, conflict_entries(report))
    conflicts = {(c["resource"], c["reason"], c["name"]) for c in doc["conflicts"]}
    assert ("ingress/a/thief", "HostnameConflict", "www.b.example.test") in conflicts
    assert ("ingress/stray/lost", "NamespaceNotInTenant", None) in conflicts
    assert all(
        {"name", "type", "reason", "resource", "message"} <= set(c) for c in doc["conflicts"]
    )
    # the thief gives up: the owner's record is what it was
    cluster.delete("Ingress", "thief", "a")
    again = run_pass(cluster, providers.targets(), cfg)
    assert all(r.changes.is_empty() for r in again.dns.providers)


def test_tenant_cannot_point_at_another_fleets_load_balancer() -> None:
    cluster = FakeCluster(
        [
            namespace("a"),
            fleet_service(PUBLIC, ip="203.0.113.10"),
            fleet_service(PRIVATE, ip="10.0.0.10"),
        ]
    )
    spoof = ingress("spoof", "s.a.example.test", namespace="a")
    spoof["metadata"]["annotations"] = {"external-dns.alpha.kubernetes.io/target": "10.0.0.10"}
    cluster.put(spoof)
    providers = Providers()
    report = run_pass(cluster, providers.targets(), config(tenancy=tenancy()))
    assert [(r.reason, r.host) for r in report.refusals] == [
        ("TargetNotAllowed", "s.a.example.test")
    ]
    assert names(providers.public) == set()


def test_planner_conflict_and_invalid_host_become_events() -> None:
    foreign = Endpoint.of("taken.example.test", "A", ["198.51.100.1"])
    providers = Providers()
    providers.public = InMemoryProvider(
        name="r53-public", zones=["example.test"], records=[foreign]
    )
    bad = ingress("bad", "ok.example.test")
    bad["metadata"]["annotations"] = {
        "external-dns.alpha.kubernetes.io/hostname": "-x-.example.test"
    }
    cluster = FakeCluster(
        [
            fleet_service(PUBLIC, ip="203.0.113.10"),
            ingress("taker", "taken.example.test"),
            bad,
        ]
    )
    report = run_pass(cluster, providers.targets(), config())
    reasons = {(e.regarding.name, e.reason) for e in cluster.events}
    assert ("taker", DNS_RECORD_CONFLICT) in reasons
    assert ("bad", INVALID_HOST) in reasons
    assert providers.public.get("taken.example.test", "A") == foreign
    result = loop_result(report)
    assert result.converged
    assert {c.reason for c in result.conflicts}
    assert dict((r.reason, r.count) for r in result.refusals)[INVALID_HOST] >= 1


def test_write_failure_is_an_event_on_the_ingresses_it_concerns() -> None:
    providers = Providers()
    providers.private.fail_next_apply(TransientProviderError("timed out"))
    cluster = FakeCluster(
        [
            fleet_service(PUBLIC, ip="203.0.113.10"),
            fleet_service(PRIVATE, ip="10.0.0.10"),
            ingress("pub", "pub.example.test"),
            ingress("priv", "priv.example.test", cls="private"),
        ]
    )
    report = run_pass(cluster, providers.targets(), config())
    assert not report.ok
    assert {(e.regarding.name, e.reason) for e in cluster.events} == {("priv", DNS_WRITE_FAILED)}
    assert not loop_result(report).converged
    assert any("bind-private" in e for e in loop_result(report).errors)


class ZonesFail(InMemoryProvider):
    def zones(self) -> Sequence[str]:
        raise PermanentProviderError("zones unavailable", provider=self.name)


def test_zone_failure_holds_the_fleets_other_providers_only() -> None:
    spec_two = FleetSpec.of(
        name="private",
        ingress_class_name="private",
        visibility="private",
        namespace="ingress-private",
        dns_providers=("bind-private", "bind-child"),
    )
    child = ZonesFail(name="bind-child", zones=["team.example.test"])
    providers = Providers()
    cluster = FakeCluster(
        [
            fleet_service(PUBLIC, ip="203.0.113.10"),
            fleet_service(spec_two, ip="10.0.0.10"),
            ingress("pub", "pub.example.test"),
            ingress("priv", "db.team.example.test", cls="private"),
        ]
    )
    cfg = config(fleets=(PUBLIC, spec_two))
    report = run_pass(cluster, [*providers.targets(), target(child)], cfg)
    by_name = {r.provider: r for r in report.dns.providers}
    assert by_name["bind-private"].held
    assert by_name["r53-public"].ok
    assert names(providers.public) == {("pub.example.test", "A", ("203.0.113.10",))}
    assert names(providers.private) == set()  # the child's name did not land in the parent zone
    assert not loop_result(report).converged


def test_dry_run_records_no_events_and_writes_nothing() -> None:
    cluster = FakeCluster([namespace("a"), ingress("x", "x.unowned.test", namespace="a")])
    providers = Providers()
    report = run_pass(cluster, providers.targets(), config(tenancy=tenancy()), dry_run=True)
    assert report.refusals
    assert not cluster.events
    assert providers.public.apply_calls == 0


def test_stages_run_in_order_before_dns_and_failures_count() -> None:
    calls: list[str] = []

    def fleets(state: ClusterState, now: datetime) -> StageOutcome:
        calls.append("fleets")
        return StageOutcome(stage="fleets", changes=3)

    def broken(state: ClusterState, now: datetime) -> StageOutcome:
        calls.append("broken")
        raise KubernetesError("apiserver said no", status=500, transient=True)

    cluster = FakeCluster()
    report = run_pass(cluster, Providers().targets(), config(), stages=[fleets, broken])
    assert calls == ["fleets", "broken"]
    assert [s.ok for s in report.stages] == [True, False]
    assert not report.ok
    assert loop_result(report).errors == ("broken: apiserver said no",)
    offline = reconcile(config=config(), observed=Observed(), targets=[], now=NOW, stages=[fleets])
    assert offline.stages == ()
    assert calls == ["fleets", "broken"]


def test_guarded_registry_refuses_writes_once_not_leader() -> None:
    provider = InMemoryProvider(name="p", zones=["example.test"])
    leading = [True]
    guarded = GuardedRegistry(TxtRegistry(provider=provider, owner_id=OWNER), lambda: leading[0])
    assert guarded.records() == ()
    leading[0] = False
    with pytest.raises(TransientProviderError, match="not the leader"):
        guarded.apply(Changes(create=(Endpoint.of("a.example.test", "A", ["192.0.2.1"]),)))
    assert provider.apply_calls == 0


def test_pass_config_of_settings() -> None:
    settings = Settings(
        owner_id=OWNER,
        policy="upsert-only",
        providers=(
            {"name": "p", "type": "rfc2136", "host": "h", "zones": ["x.test"], "view": "public"},
        ),  # type: ignore[arg-type]
        fleets=(
            {
                "name": "pub",
                "ingressClassName": "pub",
                "visibility": "public",
                "namespace": "n",
                "dnsProviders": ["p"],
            },  # type: ignore[arg-type]
        ),
        tenants=({"name": "t", "namespaces": ["a"], "domains": ["x.test"], "fleets": ["pub"]},),  # type: ignore[arg-type]
    )
    cfg = pass_config(settings)
    assert cfg.policy is Policy.UPSERT_ONLY
    assert [f.name for f in cfg.fleets] == ["pub"]
    assert cfg.fleets[0].dns_providers == ("p",)
    assert cfg.tenancy is not None
    assert [t.name for t in cfg.tenancy.tenants] == ["t"]
    assert pass_config(Settings(owner_id=OWNER)).tenancy is None


def test_failed_write_still_reports_conflicts_as_events_and_json() -> None:
    foreign = Endpoint.of("taken.example.test", "A", ["198.51.100.1"])
    providers = Providers()
    providers.public = InMemoryProvider(
        name="r53-public", zones=["example.test"], records=[foreign]
    )
    providers.public.fail_next_apply(TransientProviderError("throttled"))
    cluster = FakeCluster(
        [
            fleet_service(PUBLIC, ip="203.0.113.10"),
            ingress("taker", "taken.example.test"),
            ingress("shop", "shop.example.test"),
        ]
    )
    report = run_pass(cluster, providers.targets(), config())
    assert not report.ok
    assert {(e.regarding.name, e.reason) for e in cluster.events} == {
        ("taker", DNS_RECORD_CONFLICT),
        ("taker", DNS_WRITE_FAILED),
        ("shop", DNS_WRITE_FAILED),
    }
    doc = plan_document(report.dns)
    assert [(c["name"], c["provider"]) for c in doc["conflicts"]] == [
        ("taken.example.test", "r53-public")
    ]
    assert doc["errors"] == [{"provider": "r53-public", "error": "throttled", "transient": True}]
    result = loop_result(report)
    assert not result.converged
    assert result.changes == ()  # nothing was written
    assert sum(c.count for c in result.conflicts) == 1


class Listing:
    """A RefreshableState: a copy of ``live`` taken at construction, read again on request."""

    def __init__(self, live: FakeCluster, reads: list[int]) -> None:
        self._live = live
        self._reads = reads
        self._copy = FakeCluster(
            [*live.ingresses(), *live.ingress_classes(), *live.services(), *live.namespaces()]
        )
        reads.append(1)

    def refreshed(self) -> Listing:
        return Listing(self._live, self._reads)

    def has_synced(self) -> bool:
        return True

    def ingresses(self) -> Sequence[Any]:
        return self._copy.ingresses()

    def ingress_classes(self) -> Sequence[Any]:
        return self._copy.ingress_classes()

    def services(self) -> Sequence[Any]:
        return self._copy.services()

    def namespaces(self) -> Sequence[Any]:
        return self._copy.namespaces()

    def gateways(self) -> Sequence[Any]:
        return self._copy.gateways()

    def listener_sets(self) -> Sequence[Any]:
        return self._copy.listener_sets()

    def routes(self) -> Sequence[Any]:
        return self._copy.routes()


def test_a_listed_state_is_read_again_after_a_stage_that_wrote_so_one_pass_converges() -> None:
    live = FakeCluster([ingress("shop", "shop.example.test")])
    reads: list[int] = []
    seen: list[tuple[str, int]] = []

    def fleets(state: ClusterState, now: datetime) -> StageOutcome:
        seen.append(("fleets", len(state.services())))
        if state.services():
            return StageOutcome(stage="fleets")
        live.put(fleet_service(PUBLIC))
        return StageOutcome(stage="fleets", changes=1)

    def load_balancers(state: ClusterState, now: datetime) -> StageOutcome:
        seen.append(("load-balancers", len(state.services())))
        (svc,) = state.services()
        if svc.get("status", {}).get("loadBalancer", {}).get("ingress"):
            return StageOutcome(stage="load-balancers")
        live.put(fleet_service(PUBLIC, hostname="pub-lb.elb.example.net"))
        return StageOutcome(stage="load-balancers", changes=1)

    def idle(state: ClusterState, now: datetime) -> StageOutcome:
        seen.append(("idle", len(state.services())))
        return StageOutcome(stage="idle")

    stages = [fleets, load_balancers, idle]
    cfg = config(fleets=(PUBLIC,))
    providers = Providers()
    listed = Listing(live, reads)
    assert isinstance(listed, RefreshableState)
    report = reconcile(
        config=cfg,
        observed=Observed.from_state(listed, cfg.fleets),
        targets=providers.targets(),
        now=NOW,
        state=listed,
        stages=stages,
    )
    assert report.ok
    assert seen == [("fleets", 0), ("load-balancers", 1), ("idle", 1)]
    assert len(reads) == 3  # the first listing, then once after each stage that wrote
    assert names(providers.public) == {("shop.example.test", "CNAME", ("pub-lb.elb.example.net",))}

    # The next pass finds nothing to do and reads nothing again.
    reads.clear()
    seen.clear()
    listed = Listing(live, reads)
    again = reconcile(
        config=cfg,
        observed=Observed.from_state(listed, cfg.fleets),
        targets=providers.targets(),
        now=NOW,
        state=listed,
        stages=stages,
    )
    assert again.ok
    assert len(reads) == 1
    assert all(r.changes.is_empty() for r in again.dns.providers)


def test_a_live_state_is_not_read_again() -> None:
    cluster = FakeCluster(
        [fleet_service(PUBLIC, ip="203.0.113.10"), ingress("a", "a.example.test")]
    )
    assert not isinstance(cluster, RefreshableState)
    stale = Observed()  # what the caller observed stays what DNS uses

    def writes(state: ClusterState, now: datetime) -> StageOutcome:
        return StageOutcome(stage="writes", changes=1)

    providers = Providers()
    reconcile(
        config=config(),
        observed=stale,
        targets=providers.targets(),
        now=NOW,
        state=cluster,
        stages=[writes],
    )
    assert names(providers.public) == set()


def test_a_pass_logs_exactly_one_info_summary(caplog: pytest.LogCaptureFixture) -> None:
    cluster = FakeCluster(
        [
            namespace("a"),
            fleet_service(PUBLIC, ip="203.0.113.10"),
            fleet_service(PRIVATE, ip="10.0.0.10"),
            ingress("good", "app.a.example.test", namespace="a"),
            ingress("nowhere", "x.unowned.test", namespace="a"),
            ingress("db", "db.a.example.test", namespace="a", cls="private"),
        ]
    )
    providers = Providers()
    cfg = config(tenancy=tenancy())

    def fleets(state: ClusterState, now: datetime) -> StageOutcome:
        return StageOutcome(stage="fleets")

    def one_pass(request: loop.PassRequest) -> loop.PassResult:
        report = run_pass(cluster, providers.targets(), cfg, stages=[fleets])
        assert report.refusals  # detail that must stay below INFO
        assert any(not r.changes.is_empty() for r in report.dns.providers)
        result: loop.PassResult = loop_result(report)
        return result

    controller = loop.Controller(
        run_pass=one_pass,
        config=loop.LoopConfig(interval=timedelta(seconds=60)),
        metrics=Metrics.create(CollectorRegistry()),
        clock=lambda: NOW,
    )
    caplog.set_level(logging.DEBUG)
    result = controller.run_now(reason="test")
    assert result is not None
    assert result.converged
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [(r.name, r.levelname, r.getMessage()) for r in loud] == [
        ("reconciler.runtime.loop", "INFO", "pass finished")
    ]
    assert {r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG} >= {
        "dns pass done",
        "host refused",
    }


class FailingListing(Listing):
    def refreshed(self) -> Listing:
        raise KubernetesError("list services: connection refused", status=None, transient=True)


def test_a_failed_read_again_keeps_the_last_read_and_does_not_converge() -> None:
    live = FakeCluster([fleet_service(PUBLIC, ip="203.0.113.10"), ingress("a", "a.example.test")])
    listed = FailingListing(live, [])

    def writes(state: ClusterState, now: datetime) -> StageOutcome:
        return StageOutcome(stage="fleets", changes=1)

    providers = Providers()
    cfg = config(fleets=(PUBLIC,))
    report = reconcile(
        config=cfg,
        observed=Observed.from_state(listed, cfg.fleets),
        targets=providers.targets(),
        now=NOW,
        state=listed,
        stages=[writes],
    )
    assert [(s.stage, s.ok) for s in report.stages] == [("fleets", True), ("observe", False)]
    assert loop_result(report).errors == (
        "observe: after fleets: list services: connection refused",
    )
    assert not report.ok
    assert names(providers.public) == {("a.example.test", "A", ("203.0.113.10",))}


def test_an_incremental_pass_runs_only_the_stages_that_read_ingresses() -> None:
    settings = Settings(
        owner_id=OWNER,
        providers=(
            {"name": "p", "type": "rfc2136", "host": "h", "zones": ["x.test"], "view": "public"},
        ),  # type: ignore[arg-type]
        fleets=(
            {
                "name": "pub",
                "ingressClassName": "pub",
                "visibility": "public",
                "namespace": "n",
                "dnsProviders": ["p"],
            },  # type: ignore[arg-type]
        ),
        cluster_name="c1",
    )
    client = cast(KubeClient, object())  # building the stages calls no API
    cluster = FakeCluster()
    guard = WriteGuard(lambda: True)
    every = build_stages(settings, client=client, events=cluster, guard=guard)
    on_change = build_stages(
        settings, client=client, events=cluster, guard=guard, ingress_changes_only=True
    )
    assert [s.__name__ for s in every] == ["fleets", "load_balancers", "ingress_status"]
    assert [s.__name__ for s in on_change] == ["ingress_status"]
