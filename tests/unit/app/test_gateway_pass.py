"""Gateway API Routes in the pass: a fleet's Gateway publishes its Routes' hosts at the fleet's
address, into the fleet's view only, under the same tenancy; an Ingress and a Route of the same
host on the same fleet are one record, so moving a host between them changes no DNS answer."""

from __future__ import annotations

from typing import Any

from reconciler.app.desired import DesiredIndex
from reconciler.app.pipeline import Observed, PassConfig, reconcile
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.tenancy import TenancyConfig, Tenant
from reconciler.fleets.spec import FleetGateway, FleetSpec
from reconciler.kube.fake import FakeCluster
from tests.unit.app.test_pipeline import (
    NOW,
    OWNER,
    Providers,
    fleet_service,
    ingress,
    names,
    namespace,
    run_pass,
)

GROUP = "gateway.networking.k8s.io"
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
PUBLIC_LB = "203.0.113.10"
PRIVATE_LB = "10.100.0.10"


def fleet_gateway(spec: FleetSpec, *addresses: str) -> dict[str, Any]:
    assert spec.gateway is not None
    return {
        "apiVersion": f"{GROUP}/v1",
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
        "status": {"addresses": [{"type": "IPAddress", "value": a} for a in addresses]},
    }


def http_route(
    name: str, *hosts: str, fleets: tuple[FleetSpec, ...] = (PUBLIC,), ns: str = "web"
) -> dict[str, Any]:
    refs = [{"name": f.gateway.name, "namespace": f.namespace} for f in fleets if f.gateway]
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"parentRefs": refs, "hostnames": list(hosts)},
        "status": {
            "parents": [
                {"parentRef": r, "conditions": [{"type": "Accepted", "status": "True"}]}
                for r in refs
            ]
        },
    }


def cluster(*objects: dict[str, Any], public_lb: str | None = PUBLIC_LB) -> FakeCluster:
    return FakeCluster(
        [
            fleet_service(PUBLIC, **({"ip": public_lb} if public_lb else {})),
            fleet_service(PRIVATE, ip=PRIVATE_LB),
            # Traefik copies the Service's address into the Gateway's status; a stale one here
            # shows that the fleet's own Service decides
            fleet_gateway(PUBLIC, "198.51.100.99"),
            fleet_gateway(PRIVATE, PRIVATE_LB),
            *objects,
        ]
    )


def config(**overrides: Any) -> PassConfig:
    values: dict[str, Any] = {"owner_id": OWNER, "fleets": (PUBLIC, PRIVATE)}
    values.update(overrides)
    return PassConfig(**values)


def test_a_routes_hosts_go_to_its_fleets_view_at_the_fleets_address() -> None:
    world = Providers()
    state = cluster(
        http_route("shop", "shop.example.test"),
        http_route("db", "db.example.test", fleets=(PRIVATE,)),
        http_route("both", "both.example.test", fleets=(PUBLIC, PRIVATE)),
    )
    report = run_pass(state, world.targets(), config())
    assert report.ok
    assert names(world.public) == {
        ("shop.example.test", "A", (PUBLIC_LB,)),
        ("both.example.test", "A", (PUBLIC_LB,)),
    }
    assert names(world.private) == {
        ("db.example.test", "A", (PRIVATE_LB,)),
        ("both.example.test", "A", (PRIVATE_LB,)),
    }
    owned = TxtRegistry(provider=world.public, owner_id=OWNER).records()
    owners = {r.labels.get("resource") for r in owned if r.record_type == "A"}
    assert owners == {"httproute/web/shop", "httproute/web/both"}
    again = run_pass(state, world.targets(), config())
    assert all(r.changes.is_empty() for r in again.dns.providers)


def test_routes_on_gateways_of_no_fleet_and_unaccepted_routes_are_not_ours() -> None:
    foreign = fleet_gateway(PUBLIC, "192.0.2.1")
    foreign["metadata"] = {"name": "theirs", "namespace": "elsewhere"}
    route = http_route("r", "r.example.test")
    route["spec"]["parentRefs"] = [{"name": "theirs", "namespace": "elsewhere"}]
    route["status"]["parents"][0]["parentRef"] = {"name": "theirs", "namespace": "elsewhere"}
    pending = http_route("p", "p.example.test")
    pending["status"]["parents"][0]["conditions"][0]["status"] = "False"
    world = Providers()
    assert run_pass(cluster(foreign, route, pending), world.targets(), config()).ok
    assert names(world.public) == set()
    assert names(world.private) == set()


def test_while_the_fleet_has_no_address_a_routes_records_are_kept() -> None:
    world = Providers()
    route = http_route("shop", "shop.example.test")
    run_pass(cluster(route), world.targets(), config())
    report = run_pass(cluster(route, public_lb=None), world.targets(), config())
    assert all(r.changes.is_empty() for r in report.dns.providers)
    assert names(world.public) == {("shop.example.test", "A", (PUBLIC_LB,))}


def test_an_ingress_and_a_route_of_one_host_on_one_fleet_are_one_record() -> None:
    world = Providers()
    old = ingress("shop", "shop.example.test", cls="public")
    new = http_route("shop", "shop.example.test")
    first = run_pass(cluster(old), world.targets(), config())
    assert first.ok
    held = names(world.public)
    # both at once: one record, no conflict, nothing written
    both = run_pass(cluster(old, new), world.targets(), config())
    assert both.ok
    assert not [c for r in both.dns.providers for c in r.conflicts]
    assert all(r.changes.is_empty() for r in both.dns.providers)
    # the Ingress gone, the Route keeps the name: no DNS change at all
    moved = run_pass(cluster(new), world.targets(), config())
    assert all(r.changes.is_empty() for r in moved.dns.providers)
    assert names(world.public) == held
    # and back again
    back = run_pass(cluster(old), world.targets(), config())
    assert all(r.changes.is_empty() for r in back.dns.providers)


def test_the_interval_pass_follows_route_changes_through_the_index() -> None:
    world = Providers()
    index = DesiredIndex()
    targets = world.targets()

    def interval(state: FakeCluster) -> Any:
        return reconcile(
            config=config(),
            observed=Observed.from_state(state, (PUBLIC, PRIVATE)),
            targets=targets,
            now=NOW,
            index=index,
        )

    base = [ingress(f"i{n}", f"i{n}.example.test", cls="public") for n in range(3)]
    interval(cluster(*base, http_route("shop", "shop.example.test")))
    assert ("shop.example.test", "A", (PUBLIC_LB,)) in names(world.public)
    report = interval(cluster(*base, http_route("shop", "moved.example.test")))
    assert report.incremental
    assert ("moved.example.test", "A", (PUBLIC_LB,)) in names(world.public)
    assert "shop.example.test" not in {n for n, _, _ in names(world.public)}
    interval(cluster(*base))
    assert "moved.example.test" not in {n for n, _, _ in names(world.public)}


def tenancy() -> TenancyConfig:
    return TenancyConfig(
        tenants=(
            Tenant.of("shop", namespaces=("web",), domains=("shop.test",), fleets=("public",)),
            Tenant.of("data", namespaces=("data",), domains=("data.test",), fleets=("private",)),
        )
    )


def test_tenancy_decides_which_routes_may_publish_and_refusals_are_events_on_the_route() -> None:
    world = Providers()
    world.public = InMemoryProvider(name="r53-public", zones=["shop.test", "data.test"])
    world.private = InMemoryProvider(name="bind-private", zones=["shop.test", "data.test"])
    targets = [
        TxtRegistry(provider=world.public, owner_id=OWNER),
        TxtRegistry(provider=world.private, owner_id=OWNER),
    ]
    state = cluster(
        namespace("web"),
        namespace("data"),
        http_route("ok", "www.shop.test"),
        http_route("steal", "www.data.test"),  # another tenant's domain
        http_route("sneak", "db.shop.test", fleets=(PRIVATE,)),  # a fleet shop may not use
    )
    report = run_pass(state, targets, config(tenancy=tenancy()))
    assert names(world.public) == {("www.shop.test", "A", (PUBLIC_LB,))}
    assert names(world.private) == set()
    refused = {(r.resource, str(r.reason)) for r in report.refusals}
    assert refused == {
        ("httproute/web/steal", "HostnameConflict"),
        ("httproute/web/sneak", "FleetNotAllowed"),
    }
    on_routes = {(e.regarding.kind, e.regarding.name, e.reason) for e in state.events}
    assert ("HTTPRoute", "steal", "HostnameConflict") in on_routes
    assert ("HTTPRoute", "sneak", "FleetNotAllowed") in on_routes


def test_a_private_fleets_route_never_reaches_a_public_view_through_a_target_annotation() -> None:
    world = Providers()
    gateway = fleet_gateway(PUBLIC)
    gateway["metadata"]["annotations"] = {"external-dns.alpha.kubernetes.io/target": PRIVATE_LB}
    state = FakeCluster(
        [
            fleet_service(PUBLIC, ip=PUBLIC_LB),
            fleet_service(PRIVATE, ip=PRIVATE_LB),
            gateway,
            fleet_gateway(PRIVATE, PRIVATE_LB),
            http_route("leak", "leak.example.test"),
        ]
    )
    report = run_pass(state, world.targets(), config())
    assert names(world.public) == set()
    assert {str(r.reason) for r in report.refusals} == {"TargetNotInView"}


def test_without_fleets_routes_publish_their_gateways_addresses() -> None:
    world = Providers()
    gw = fleet_gateway(PUBLIC, "192.0.2.7")
    other = {**fleet_gateway(PRIVATE, "192.0.2.8")}
    state = FakeCluster(
        [
            gw,
            other,
            http_route("a", "a.example.test"),
            http_route("b", "b.example.test", fleets=(PRIVATE,)),
        ]
    )
    cfg = PassConfig(owner_id=OWNER, gateway_class_names=("public",))
    report = reconcile(
        config=cfg, observed=Observed.from_state(state, ()), targets=world.targets(), now=NOW
    )
    assert report.ok
    assert ("a.example.test", "A", ("192.0.2.7",)) in names(world.public)
    assert "b.example.test" not in {n for n, _, _ in names(world.public)}
    off = PassConfig(owner_id=OWNER, gateway_routes=False)
    quiet = Providers()
    reconcile(config=off, observed=Observed.from_state(state, ()), targets=quiet.targets(), now=NOW)
    assert names(quiet.public) == set()


def test_one_host_on_two_fleets_of_one_view_is_a_conflict_reported_on_the_loser() -> None:
    second = FleetSpec.of(
        name="public2",
        ingress_class_name="public2",
        visibility="public",
        namespace="ingress-public2",
        dns_providers=("r53-public",),
        gateway=FleetGateway("public2", "public2"),
    )
    world = Providers()
    state = cluster(
        fleet_service(second, ip="203.0.113.20"),
        fleet_gateway(second, "203.0.113.20"),
        ingress("shop", "shop.example.test", cls="public"),
        http_route("shop", "shop.example.test", fleets=(second,)),
    )
    cfg = config(fleets=(PUBLIC, PRIVATE, second))
    report = run_pass(state, world.targets(), cfg)
    # the smallest resource label wins a new record (the planner's rule): httproute/... before
    # ingress/...; the Ingress is refused, and told so
    assert names(world.public) == {("shop.example.test", "A", ("203.0.113.20",))}
    (conflict,) = [c for r in report.dns.providers for c in r.conflicts]
    assert (conflict.resource, str(conflict.reason)) == (
        "ingress/web/shop",
        "another resource wants different data for this record",
    )
    assert ("Ingress", "shop", "DNSRecordConflict") in {
        (e.regarding.kind, e.regarding.name, e.reason) for e in state.events
    }
    # and it stays so: the Route holds the record now
    again = run_pass(state, world.targets(), cfg)
    assert all(r.changes.is_empty() for r in again.dns.providers)
