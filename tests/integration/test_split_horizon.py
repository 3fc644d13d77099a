"""Split horizon end to end: real kube-apiserver, moto's public and private hosted zones, and BIND
as the private view. ``ingress-reconciler once`` runs the full pass (fleets → status → DNS); the
private fleet's names and load-balancer address never appear in the public zone. One run takes
every step it can: an elbv2 fleet gets its NLB, status and records in the run that creates it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from e2e.servers.moto import MotoServer
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import INGRESS, SERVICE
from tests.fixtures.moto import aws_client_kwargs
from tests.integration.harness import (
    ZONE,
    Cluster,
    aws_test_env,
    bind_provider,
    fleet,
    ingress_object,
    remove_owned,
    run_cli,
)
from tests.integration.test_elbv2 import make_network

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

pytestmark = pytest.mark.integration

CLUSTER = "cluster-a"
PUBLIC_LB = "pub-0123456789abcdef.elb.us-east-1.amazonaws.com"
PRIVATE_LB = "internal-priv-0123456789abcdef.elb.us-east-1.amazonaws.com"


def zone_contents(client: Route53Client, zone_id: str) -> dict[tuple[str, str], str]:
    """(name, type) → the record's values/alias target as text, SOA and NS left out."""
    page = client.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")
    result: dict[tuple[str, str], str] = {}
    for r in page["ResourceRecordSets"]:
        if r["Type"] in ("SOA", "NS"):
            continue
        values = [v["Value"] for v in r.get("ResourceRecords", [])]
        if "AliasTarget" in r:
            values.append(r["AliasTarget"]["DNSName"])
        result[(r["Name"].rstrip("."), r["Type"])] = " ".join(values).lower()
    return result


class World(Cluster):
    """One owner id, two fleets, three providers; removes what the reconciler made afterwards."""

    def __init__(
        self,
        *,
        apiserver: ApiServer,
        client: KubeClient,
        bind: BindServer,
        moto: MotoServer,
        route53: Route53Client,
        namespace: str,
        tmp_path: Path,
    ) -> None:
        super().__init__(apiserver=apiserver, client=client, bind=bind, namespace=namespace)
        suffix = self.suffix
        self.moto = moto
        self.elbv2_private = False
        self.route53 = route53
        self.owner = f"split-{suffix}"
        self.public = f"pub{suffix}"
        self.private = f"priv{suffix}"
        self.fleet_namespaces = (f"ing-{self.public}", f"ing-{self.private}")
        vpc = "vpc-12345678"
        self.public_zone = route53.create_hosted_zone(Name=ZONE, CallerReference=f"pub-{suffix}")[
            "HostedZone"
        ]["Id"].removeprefix("/hostedzone/")
        self.private_zone = route53.create_hosted_zone(
            Name=ZONE,
            CallerReference=f"priv-{suffix}",
            HostedZoneConfig={"Comment": "private", "PrivateZone": True},
            VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
        )["HostedZone"]["Id"].removeprefix("/hostedzone/")
        self.config = tmp_path / "config.yaml"
        self.write_config()

    @classmethod
    def prepare(cls, moto: MotoServer) -> None:
        """What the cloud account must hold before this world is built (nothing here)."""

    def write_config(self) -> None:
        self.config.write_text(yaml.safe_dump(self.settings(self.moto)))

    def settings(self, moto: MotoServer) -> dict[str, Any]:
        private_lb = (
            {"loadBalancer": {"mode": "elbv2", "targetType": "ip"}} if self.elbv2_private else {}
        )
        return {
            "ownerId": self.owner,
            "clusterName": CLUSTER,
            "aws": {"region": "us-east-1", "endpointUrl": moto.endpoint_url},
            "providers": [
                {
                    "name": "route53-public",
                    "type": "route53",
                    "zoneType": "public",
                    "zoneIds": [self.public_zone],
                    "endpointUrl": moto.endpoint_url,
                },
                {
                    "name": "route53-private",
                    "type": "route53",
                    "zoneType": "private",
                    "zoneIds": [self.private_zone],
                    "endpointUrl": moto.endpoint_url,
                },
                bind_provider(self.bind, name="bind-private", view="private"),
            ],
            "fleets": [
                fleet(self.public, visibility="public", dns_providers=["route53-public"]),
                {
                    **fleet(
                        self.private,
                        visibility="private",
                        dns_providers=["route53-private", "bind-private"],
                    ),
                    **private_lb,
                },
            ],
        }

    def once(self, *extra: str) -> tuple[int, dict[str, Any], str]:
        return run_cli(self.config, self.apiserver.kubeconfig, *extra, pod_name="split-test")

    def ingress(self, name: str, host: str, fleet: str) -> None:
        self.client.create(ingress_object(name, self.namespace, fleet, host))

    def cloud_controller_publishes(self, fleet: str, namespace: str, hostname: str) -> None:
        """What the AWS Load Balancer Controller does once the NLB exists."""
        self.client.patch(
            SERVICE,
            f"ingress-{fleet}",
            {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}},
            namespace=namespace,
            subresource="status",
        )

    def cleanup(self) -> None:
        # our finalizer would keep the elbv2 fleet's Service (no reconciler runs any more)
        for ns in self.fleet_namespaces:
            for svc in self.client.list(SERVICE, ns)[0]:
                if svc["metadata"].get("finalizers"):
                    self.client.patch(
                        SERVICE,
                        svc["metadata"]["name"],
                        {"metadata": {"finalizers": None}},
                        namespace=ns,
                    )
        remove_owned(self.apiserver, self.client, self.owner, self.fleet_namespaces)


@pytest.fixture
def world_kind() -> type[World]:
    """Which world the ``world`` fixture builds; a module that imports the fixture overrides it."""
    return World


@pytest.fixture(name="world")
def world_fixture(
    apiserver: ApiServer,
    api_client: KubeClient,
    bind: BindServer,
    moto: MotoServer,
    namespace: str,
    *,
    world_kind: type[World],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    aws_test_env(monkeypatch)
    world_kind.prepare(moto)
    helper = world_kind(
        apiserver=apiserver,
        client=api_client,
        bind=bind,
        moto=moto,
        route53=boto3.client("route53", **aws_client_kwargs(moto)),
        namespace=namespace,
        tmp_path=tmp_path,
    )
    try:
        yield helper
    finally:
        helper.cleanup()


def test_private_fleet_names_never_reach_the_public_zone(world: World) -> None:
    # Pass 1: the fleets appear; their Services have no address yet, so DNS writes nothing.
    code, doc, err = world.once("once")
    assert code == 0, err
    assert doc["create"] == []
    world.ingress("shop", f"shop.{ZONE}", world.public)
    world.ingress("db", f"db.{ZONE}", world.private)
    world.cloud_controller_publishes(world.public, world.fleet_namespaces[0], PUBLIC_LB)
    world.cloud_controller_publishes(world.private, world.fleet_namespaces[1], PRIVATE_LB)

    # Pass 2: status published, records written per view.
    code, doc, err = world.once("once")
    assert code == 0, err
    created = {(r["provider"], r["name"]) for r in doc["create"]}
    assert created == {
        ("route53-public", f"shop.{ZONE}"),
        ("route53-private", f"db.{ZONE}"),
        ("bind-private", f"db.{ZONE}"),
    }

    public_zone = zone_contents(world.route53, world.public_zone)
    private_zone = zone_contents(world.route53, world.private_zone)
    assert {name for name, _ in public_zone} >= {f"shop.{ZONE}"}
    assert not any(name.endswith(f"db.{ZONE}") for name, _ in public_zone), public_zone
    assert not any("internal-priv" in value for value in public_zone.values()), public_zone
    assert any(PUBLIC_LB in value for value in public_zone.values())
    assert not any(name.endswith(f"shop.{ZONE}") for name, _ in private_zone), private_zone
    assert any(PRIVATE_LB in value for value in private_zone.values())
    bind_records = {(r.name, r.rdtype): r.values for r in world.bind.transfer(ZONE)}
    assert bind_records[(f"db.{ZONE}", "CNAME")] == (f"{PRIVATE_LB}.",)
    assert not any(name.endswith(f"shop.{ZONE}") for name, _ in bind_records)

    # The status stage published each fleet's address into its Ingresses.
    shop = world.client.get(INGRESS, "shop", world.namespace)
    db = world.client.get(INGRESS, "db", world.namespace)
    assert shop["status"]["loadBalancer"]["ingress"] == [{"hostname": PUBLIC_LB}]
    assert db["status"]["loadBalancer"]["ingress"] == [{"hostname": PRIVATE_LB}]

    # Pass 3 changes nothing anywhere; plan agrees.
    code, doc, err = world.once("once")
    assert code == 0, err
    assert (doc["create"], doc["update"], doc["delete"]) == ([], [], [])
    code, doc, err = world.once("plan")
    assert code == 0, err
    assert (doc["create"], doc["update"], doc["delete"], doc["conflicts"]) == ([], [], [], [])


def test_elbv2_private_fleet_internal_nlb_name_stays_out_of_the_public_zone(world: World) -> None:
    make_network(boto3.client("ec2", **aws_client_kwargs(world.moto)), CLUSTER)
    world.elbv2_private = True
    world.write_config()
    world.ingress("shop", f"shop.{ZONE}", world.public)
    world.ingress("db", f"db.{ZONE}", world.private)
    # One run: the fleets, our private NLB + its Service's status, the Ingress status, DNS
    # (the public fleet's address comes from a cloud controller, not yet there).
    code, doc, err = world.once("once")
    assert code == 0, err
    assert {(r["provider"], r["name"]) for r in doc["create"]} == {
        ("route53-private", f"db.{ZONE}"),
        ("bind-private", f"db.{ZONE}"),
    }
    world.cloud_controller_publishes(world.public, world.fleet_namespaces[0], PUBLIC_LB)

    # The next run publishes the public fleet's address.
    elbv2 = boto3.client("elbv2", **aws_client_kwargs(world.moto))
    code, doc, err = world.once("once")
    assert code == 0, err
    assert {(r["provider"], r["name"]) for r in doc["create"]} == {
        ("route53-public", f"shop.{ZONE}")
    }
    balancers = elbv2.describe_load_balancers()["LoadBalancers"]
    (nlb,) = balancers
    assert nlb["Scheme"] == "internal"
    internal_name = nlb["DNSName"].lower()
    db = world.client.get(INGRESS, "db", world.namespace)
    assert db["status"]["loadBalancer"]["ingress"] == [{"hostname": nlb["DNSName"]}]

    public_zone = zone_contents(world.route53, world.public_zone)
    private_zone = zone_contents(world.route53, world.private_zone)
    assert any(PUBLIC_LB in value for value in public_zone.values())
    assert not any(internal_name in value for value in public_zone.values()), public_zone
    assert not any(name.endswith(f"db.{ZONE}") for name, _ in public_zone), public_zone
    assert any(internal_name in value for value in private_zone.values()), private_zone
    bind_records = {(r.name, r.rdtype): r.values for r in world.bind.transfer(ZONE)}
    assert bind_records[(f"db.{ZONE}", "CNAME")] == (f"{internal_name}.",)
    code, doc, err = world.once("once")
    assert code == 0, err
    assert (doc["create"], doc["update"], doc["delete"]) == ([], [], [])


def test_an_ingress_moving_to_a_pending_public_fleet_never_carries_the_private_address(
    world: World,
) -> None:
    code, _, err = world.once("once")  # the fleets appear, without addresses
    assert code == 0, err
    world.cloud_controller_publishes(world.private, world.fleet_namespaces[1], PRIVATE_LB)
    world.ingress("mover", f"mover.{ZONE}", world.private)
    code, doc, err = world.once("once")
    assert code == 0, err
    assert {(r["provider"], r["name"]) for r in doc["create"]} == {
        ("route53-private", f"mover.{ZONE}"),
        ("bind-private", f"mover.{ZONE}"),
    }

    # The Ingress moves to the public fleet, whose load balancer is still pending: its status
    # still names the private load balancer.
    world.client.patch(
        INGRESS, "mover", {"spec": {"ingressClassName": world.public}}, namespace=world.namespace
    )
    code, doc, err = world.once("once")
    assert code == 0, err
    assert not [r for r in doc["create"] if r["provider"] == "route53-public"], doc["create"]
    public_zone = zone_contents(world.route53, world.public_zone)
    assert not any(name.endswith(f"mover.{ZONE}") for name, _ in public_zone), public_zone
    assert not any("internal-priv" in value for value in public_zone.values()), public_zone
    # it left the private view
    assert not any(
        name.endswith(f"mover.{ZONE}")
        for name, _ in zone_contents(world.route53, world.private_zone)
    )

    # The public load balancer comes up: the public record points at it, and only at it.
    world.cloud_controller_publishes(world.public, world.fleet_namespaces[0], PUBLIC_LB)
    code, doc, err = world.once("once")
    assert code == 0, err
    public_zone = zone_contents(world.route53, world.public_zone)
    assert any(
        name == f"mover.{ZONE}" and PUBLIC_LB in value for (name, _), value in public_zone.items()
    ), public_zone
    assert not any("internal-priv" in value for value in public_zone.values()), public_zone


def test_a_public_view_refuses_private_targets_and_keeps_the_neighbours(world: World) -> None:
    code, _, err = world.once("once")
    assert code == 0, err
    world.cloud_controller_publishes(world.public, world.fleet_namespaces[0], PUBLIC_LB)
    world.cloud_controller_publishes(world.private, world.fleet_namespaces[1], PRIVATE_LB)
    world.ingress("shop", f"shop.{ZONE}", world.public)
    leaky = ingress_object("leaky", world.namespace, world.public, f"leaky.{ZONE}")
    leaky["metadata"]["annotations"] = {"external-dns.alpha.kubernetes.io/target": "10.1.2.3"}
    world.client.create(leaky)
    borrower = ingress_object("borrower", world.namespace, world.public, f"borrow.{ZONE}")
    borrower["metadata"]["annotations"] = {"external-dns.alpha.kubernetes.io/target": PRIVATE_LB}
    world.client.create(borrower)
    code, doc, err = world.once("once")
    assert code == 0, err
    refused = {(c["name"], c["reason"]) for c in doc["conflicts"]}
    assert (f"leaky.{ZONE}", "TargetNotInView") in refused
    assert (f"borrow.{ZONE}", "TargetNotInView") in refused
    public_zone = zone_contents(world.route53, world.public_zone)
    assert any(name == f"shop.{ZONE}" for name, _ in public_zone)
    assert not any(n.endswith((f"leaky.{ZONE}", f"borrow.{ZONE}")) for n, _ in public_zone)
    assert not any("10.1.2.3" in v or "internal-priv" in v for v in public_zone.values())
