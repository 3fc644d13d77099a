"""Incremental passes agree with full passes: a differential property test and the index.

Two worlds receive the same random sequence of cluster changes (Ingresses and HTTPRoutes put and
deleted, fleet addresses, Namespace labels). One runs a full pass after each
step; the other hands the changes its watch would report to :func:`changed_ingresses`, as the
controller does, and runs an incremental pass over the Ingresses it names (a full pass when it
says only a full pass will do: a fleet's address changed).
After every step both worlds' zones must be equal, a full plan of the incremental world must have
nothing left to do, and the incremental pass's conflicts must be the full pass's at the names it
touched.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.app.desired import DesiredIndex, IngressDesire
from reconciler.app.pipeline import (
    Observed,
    PassConfig,
    PassReport,
    changed_ingresses,
    reconcile,
    reconcile_changes,
)
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.tenancy import TenancyConfig, Tenant
from reconciler.fleets.spec import FleetGateway, FleetSpec, fleet_labels, service_name
from reconciler.kube.fake import FakeCluster
from reconciler.model.cluster import ChangeType, ObjectChange
from reconciler.model.endpoint import Endpoint

OWNER = "cluster-a"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
PUBLIC = FleetSpec.of(
    name="public",
    ingress_class_name="public",
    visibility="public",
    namespace="ingress-public",
    dns_providers=("r53-public",),
    gateway=FleetGateway("public", "public"),
)
PRIVATE = FleetSpec.of(
    name="private",
    ingress_class_name="private",
    visibility="private",
    namespace="ingress-private",
    dns_providers=("bind-private",),
    gateway=FleetGateway("private", "private"),
)
ZONES = ("example.test", "other.test")
HOSTS = (
    "www.example.test",
    "api.example.test",
    "shop.a.example.test",
    "b.example.test",
    "x.other.test",
    "taken.example.test",  # another owner's record
    "a-www.example.test",  # the ownership namespace: always refused
)
NAMES = ("web", "api", "shop", "blog", "admin")
NAMESPACES = ("a", "b")
ADDRESSES = ("203.0.113.10", "198.51.100.7", "10.0.0.5", "lb-1.elb.example.com")
CLASSES = ("public", "private", None, "unknown")


def foreign_records() -> list[Endpoint]:
    return [
        Endpoint.of("taken.example.test", "A", ["192.0.2.99"], ttl=300),
        Endpoint.of(
            "a-taken.example.test",
            "TXT",
            ['"heritage=external-dns,external-dns/owner=someone-else"'],
            ttl=300,
        ),
        Endpoint.of("mail.example.test", "MX", ["10 mx.example.test."], ttl=300),
    ]


def tenancy() -> TenancyConfig:
    return TenancyConfig(
        tenants=(
            Tenant.of("team-a", namespaces=["a"], domains=["a.example.test"], fleets=["public"]),
            Tenant.of(
                "team-b",
                namespace_selector={"team": "b"},
                domains=["example.test", "other.test"],
                fleets=["public", "private"],
            ),
        )
    )


def ingress(
    name: str, namespace: str, hosts: tuple[str, ...], cls: str | None, ip: str | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}"},
        "spec": {"rules": [{"host": h} for h in hosts]},
    }
    if cls is not None:
        obj["spec"]["ingressClassName"] = cls
    if ip is not None:
        key = "hostname" if ip.startswith("lb-") else "ip"
        obj["status"] = {"loadBalancer": {"ingress": [{key: ip}]}}
    return obj


def fleet_service(spec: FleetSpec, address: str | None) -> dict[str, Any]:
    entries = [] if address is None else [{"ip": address}]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(spec),
            "namespace": spec.namespace,
            "labels": fleet_labels(spec.name, OWNER),
        },
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": entries}},
    }


def fleet_gateway(spec: FleetSpec, address: str) -> dict[str, Any]:
    assert spec.gateway is not None
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": spec.gateway.name, "namespace": spec.namespace},
        "spec": {
            "gatewayClassName": spec.gateway.class_name,
            "listeners": [
                {
                    "name": "http",
                    "protocol": "HTTP",
                    "port": 8000,
                    "allowedRoutes": {"namespaces": {"from": "All"}},
                }
            ],
        },
        "status": {"addresses": [{"type": "IPAddress", "value": address}]},
    }


def http_route(
    name: str, namespace: str, hosts: tuple[str, ...], fleets: tuple[str, ...]
) -> dict[str, Any]:
    refs = [{"name": f, "namespace": f"ingress-{f}"} for f in fleets]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"parentRefs": refs, "hostnames": list(hosts)},
        "status": {
            "parents": [
                {"parentRef": r, "conditions": [{"type": "Accepted", "status": "True"}]}
                for r in refs
            ]
        },
    }


def namespace(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


# --- the steps ------------------------------------------------------------------------------

put_ingress = st.tuples(
    st.just("put"),
    st.sampled_from(NAMES),
    st.sampled_from(NAMESPACES),
    st.lists(st.sampled_from(HOSTS), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(CLASSES),
    st.one_of(st.none(), st.sampled_from(ADDRESSES)),
)
delete_ingress = st.tuples(st.just("delete"), st.sampled_from(NAMES), st.sampled_from(NAMESPACES))
fleet_address = st.tuples(
    st.just("address"),
    st.sampled_from(("public", "private")),
    st.one_of(st.none(), st.sampled_from(ADDRESSES[:3])),
)
namespace_labels = st.tuples(st.just("labels"), st.sampled_from(({}, {"team": "b"})))
put_route = st.tuples(
    st.just("route"),
    st.sampled_from(NAMES[:3]),
    st.sampled_from(NAMESPACES),
    st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True).map(tuple),
    st.sampled_from((("public",), ("private",), ("public", "private"), ())),
)
delete_route = st.tuples(
    st.just("unroute"), st.sampled_from(NAMES[:3]), st.sampled_from(NAMESPACES)
)
step = st.lists(
    st.one_of(
        put_ingress,
        put_ingress,
        put_ingress,
        delete_ingress,
        fleet_address,
        namespace_labels,
        put_route,
        delete_route,
    ),
    min_size=1,
    max_size=4,
)


@dataclass
class World:
    """A cluster, its providers and registries, and (for the incremental world) its index."""

    config: PassConfig
    cluster: FakeCluster = field(default_factory=FakeCluster)
    index: DesiredIndex = field(default_factory=DesiredIndex)
    providers: dict[str, InMemoryProvider] = field(default_factory=dict)
    registries: list[TxtRegistry] = field(default_factory=list)

    @classmethod
    def of(cls, config: PassConfig) -> World:
        world = cls(config)
        for name in ("r53-public", "bind-private"):
            provider = InMemoryProvider(name=name, zones=ZONES, records=foreign_records())
            world.providers[name] = provider
            world.registries.append(TxtRegistry(provider=provider, owner_id=OWNER))
        for spec in config.fleets:
            world.cluster.put(fleet_service(spec, "203.0.113.10" if spec is PUBLIC else "10.0.0.5"))
        # the Gateways of both fleets (read as plain Gateways when there are no fleets)
        world.cluster.put(fleet_gateway(PUBLIC, "203.0.113.10"))
        world.cluster.put(fleet_gateway(PRIVATE, "10.0.0.5"))
        world.cluster.put(namespace("a", {}))
        world.cluster.put(namespace("b", {"team": "b"}))
        return world

    def full(self, *, dry_run: bool = False, remember: bool = True) -> PassReport:
        """A full pass; with ``remember`` it keeps (and may reuse) the index, as ``run`` does;
        without, it reads and plans everything, as ``once`` does."""
        return reconcile(
            config=self.config,
            observed=Observed.from_state(self.cluster, self.config.fleets),
            targets=self.registries,
            now=NOW,
            state=self.cluster,
            dry_run=dry_run,
            index=self.index if remember and not dry_run else None,
        )

    def zones(self) -> dict[str, list[tuple[str, str, str, tuple[str, ...]]]]:
        return {
            name: sorted((r.name, r.record_type, r.set_identifier, r.targets) for r in p.records())
            for name, p in self.providers.items()
        }


def apply_step(world: World, op: tuple[Any, ...]) -> ObjectChange:
    """Apply one change to the world's cluster; the change its watch would report."""
    if op[0] == "put":
        _, name, ns, hosts, cls, ip = op
        obj = world.cluster.put(ingress(name, ns, hosts, cls, ip))
        return ObjectChange(ChangeType.MODIFIED, "Ingress", ns, name, copy.deepcopy(obj))
    if op[0] == "delete":
        _, name, ns = op
        gone = world.cluster.get("Ingress", name, ns) or {}
        world.cluster.delete("Ingress", name, ns)
        return ObjectChange(ChangeType.DELETED, "Ingress", ns, name, gone)
    if op[0] == "route":
        _, name, ns, hosts, fleets = op
        obj = world.cluster.put(http_route(name, ns, hosts, fleets))
        return ObjectChange(ChangeType.MODIFIED, "HTTPRoute", ns, name, copy.deepcopy(obj))
    if op[0] == "unroute":
        _, name, ns = op
        gone = world.cluster.get("HTTPRoute", name, ns) or {}
        world.cluster.delete("HTTPRoute", name, ns)
        return ObjectChange(ChangeType.DELETED, "HTTPRoute", ns, name, gone)
    if op[0] == "address":
        _, fleet, address = op
        spec = PUBLIC if fleet == "public" else PRIVATE
        obj = world.cluster.put(fleet_service(spec, address))
        return ObjectChange(ChangeType.MODIFIED, "Service", spec.namespace, service_name(spec), obj)
    _, labels = op
    obj = world.cluster.put(namespace("b", labels))
    return ObjectChange(ChangeType.MODIFIED, "Namespace", "", "b", obj)


def conflicts_at(report: PassReport, names: set[str]) -> set[tuple[str, str, str, str, str]]:
    return {
        (r.provider, c.name, c.record_type or "", str(c.reason), c.resource)
        for r in report.dns.providers
        for c in r.conflicts
        if c.name in names
    }


def check_agreement(config: PassConfig, steps: list[list[tuple[Any, ...]]]) -> None:
    """Three worlds: ``once`` after each step (everything read and planned), ``run``'s interval
    pass after each step (a full pass that re-plans only what changed since the last), and
    ``run``'s event-triggered passes."""
    full_world, interval_world, inc_world = (World.of(config) for _ in range(3))
    full_world.full(remember=False)
    interval_world.full()
    inc_world.full()
    for batch in steps:
        reported: list[ObjectChange] = []
        for op in batch:
            apply_step(full_world, op)
            apply_step(interval_world, op)
            reported.append(apply_step(inc_world, op))
        full_report = full_world.full(remember=False)
        interval_world.full()
        # the latest change of each object, as the loop hands them over
        latest = {(c.kind, c.namespace, c.name): c for c in reported}
        changed = changed_ingresses(tuple(latest.values()), inc_world.cluster, OWNER)
        if changed is None:
            inc_world.full()
        else:
            report = reconcile_changes(
                config=config,
                changed=changed,
                index=inc_world.index,
                state=inc_world.cluster,
                targets=inc_world.registries,
                now=NOW,
            )
            assert report.incremental
            # what it refused, the full pass refuses too; and whatever the full pass refuses of the
            # changed Ingresses, it refuses too (tenancy and planner alike)
            everywhere = set(HOSTS) | {"mail.example.test"}
            inc_conflicts = conflicts_at(report, everywhere)
            full_conflicts = conflicts_at(full_report, everywhere)
            assert inc_conflicts <= full_conflicts
            concerning = {c for c in full_conflicts if set(c[4].split(",")) & set(changed)}
            assert concerning <= inc_conflicts
            assert set(report.refusals) == {
                r for r in full_report.refusals if r.resource in changed
            }
        assert inc_world.zones() == full_world.zones()
        assert interval_world.zones() == full_world.zones()
        for world in (inc_world, interval_world):
            left = world.full(dry_run=True)
            assert all(r.changes.is_empty() for r in left.dns.providers), left.dns.providers


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
def test_incremental_passes_agree_with_full_passes_with_fleets_and_tenants(
    steps: list[list[tuple[Any, ...]]],
) -> None:
    check_agreement(
        PassConfig(
            owner_id=OWNER,
            fleets=(PUBLIC, PRIVATE),
            tenancy=tenancy(),
            reserved_names=(r"^a-",),
        ),
        steps,
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
def test_incremental_passes_agree_with_full_passes_without_fleets(
    steps: list[list[tuple[Any, ...]]],
) -> None:
    check_agreement(PassConfig(owner_id=OWNER), steps)


# --- the index --------------------------------------------------------------------------------


def test_the_index_returns_the_names_touched_before_and_after_a_change() -> None:
    config = PassConfig(owner_id=OWNER)
    world = World.of(config)
    world.cluster.put(ingress("web", "a", ("www.example.test",), None, "203.0.113.10"))
    world.cluster.put(ingress("api", "a", ("www.example.test", "api.example.test"), None, None))
    world.full()
    assert len(world.index) == 2
    moved = ingress("web", "a", ("x.other.test",), None, "203.0.113.10")
    report = reconcile_changes(
        config=config,
        changed={"ingress/a/web": moved},
        index=world.index,
        state=world.cluster,
        targets=world.registries,
        now=NOW,
    )
    planned = {
        (e.name, e.record_type)
        for r in report.dns.providers
        for e in (*r.changes.create, *r.changes.delete)
    }
    # www was planned with the Ingress that still claims it (api, no address yet): its claim
    # keeps our A record at www, as in a full pass; x is created
    assert planned == {("x.other.test", "A")}
    assert world.providers["r53-public"].get("www.example.test", "A") is not None
    assert [d.resource for d in world.index.claiming(["www.example.test"])] == ["ingress/a/api"]
    world.cluster.put(moved)
    assert all(r.changes.is_empty() for r in world.full(dry_run=True).dns.providers)
    assert world.index.claiming(["nowhere.test"]) == []


def test_a_change_that_touches_no_name_calls_no_provider() -> None:
    config = PassConfig(owner_id=OWNER, ingress_class_names=("public",))
    world = World.of(config)
    world.full()
    calls = {n: p.apply_calls for n, p in world.providers.items()}
    report = reconcile_changes(
        config=config,
        changed={"ingress/a/none": ingress("none", "a", ("www.example.test",), "unknown", None)},
        index=world.index,
        state=world.cluster,
        targets=world.registries,
        now=NOW,
    )
    assert report.dns.providers == ()
    assert {n: p.apply_calls for n, p in world.providers.items()} == calls


# --- which changes an incremental pass can take ---------------------------------------------


def test_ingress_changes_name_themselves_and_a_deleted_one_is_none() -> None:
    cluster = FakeCluster()
    web = ingress("web", "a", ("www.example.test",), None, None)
    got = changed_ingresses(
        (
            ObjectChange(ChangeType.MODIFIED, "Ingress", "a", "web", web),
            ObjectChange(ChangeType.DELETED, "Ingress", "a", "old", {}),
        ),
        cluster,
        OWNER,
    )
    assert got == {"ingress/a/web": web, "ingress/a/old": None}


def test_a_namespace_change_names_every_ingress_in_it() -> None:
    cluster = FakeCluster()
    in_b = cluster.put(ingress("web", "b", ("www.example.test",), None, None))
    cluster.put(ingress("web", "a", ("api.example.test",), None, None))
    got = changed_ingresses(
        (ObjectChange(ChangeType.MODIFIED, "Namespace", "", "b", namespace("b", {})),),
        cluster,
        OWNER,
    )
    assert got == {"ingress/b/web": in_b}


def test_a_service_not_ours_changes_nothing_and_a_fleet_service_asks_for_a_full_pass() -> None:
    cluster = FakeCluster()
    app = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"}}
    assert (
        changed_ingresses(
            (ObjectChange(ChangeType.MODIFIED, "Service", "a", "web", app),), cluster, OWNER
        )
        == {}
    )
    fleet = fleet_service(PUBLIC, "203.0.113.10")
    assert (
        changed_ingresses(
            (ObjectChange(ChangeType.MODIFIED, "Service", "ingress-public", "x", fleet),),
            cluster,
            OWNER,
        )
        is None
    )
    ingress_class = {"kind": "IngressClass", "metadata": {"name": "public"}}
    assert (
        changed_ingresses(
            (ObjectChange(ChangeType.MODIFIED, "IngressClass", "", "public", ingress_class),),
            cluster,
            OWNER,
        )
        is None
    )
    assert changed_ingresses(None, cluster, OWNER) is None


def test_the_claimants_of_a_name_many_ingresses_share_come_and_go_one_by_one() -> None:
    index = DesiredIndex()
    shared, own = "shop.example.test", "{}.example.test"

    def desire(i: int) -> IngressDesire:
        endpoints = (Endpoint.of(shared, "A", ["192.0.2.1"]), Endpoint.of(own.format(i), "A", []))
        return IngressDesire(resource=f"ingress/a/web-{i}", endpoints=endpoints)

    # past the few a tuple holds, and back below it
    index.replace_all(desire(i) for i in range(20))
    assert [d.resource for d in index.claiming([shared])] == sorted(
        f"ingress/a/web-{i}" for i in range(20)
    )
    for i in range(19):
        touched = index.update({f"ingress/a/web-{i}": None})
        assert touched == {shared, own.format(i)}
        left = sorted(f"ingress/a/web-{k}" for k in range(i + 1, 20))
        assert [d.resource for d in index.claiming([shared])] == left
        assert index.claiming([own.format(i)]) == []
    index.update({"ingress/a/web-19": desire(19), "ingress/a/web-3": desire(3)})
    assert [d.resource for d in index.claiming([shared, own.format(3)])] == [
        "ingress/a/web-19",
        "ingress/a/web-3",
    ]
    index.update({"ingress/a/web-19": None, "ingress/a/web-3": None})
    assert index.claiming([shared]) == []
    assert len(index) == 0


def test_a_desire_is_reused_only_for_the_very_object_it_was_computed_from() -> None:
    index = DesiredIndex()
    resource = "ingress/a/web"
    held = IngressDesire(resource=resource, endpoints=(Endpoint.of("www.example.test", "A", []),))
    first = ingress("web", "a", ("www.example.test",), None, "192.0.2.1")
    index.replace_all([held])
    index.remember(resource, first)
    assert index.reuse_object(first) is held
    # an equal object is not the same object: the cache replaced it, so it may have changed
    assert index.reuse_object(copy.deepcopy(first)) is None
    second = ingress("web", "a", ("www.example.test",), None, "192.0.2.2")
    index.remember(resource, second)
    assert index.reuse_object(second) is held
    assert index.reuse_object(first) is None  # no longer the source of the desire
    index.update({resource: None})  # the Ingress is gone
    assert index.reuse_object(second) is None
    index.replace_all([held])
    assert index.reuse_object(second) is None  # a full pass forgets every source
