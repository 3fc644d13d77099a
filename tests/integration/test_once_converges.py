"""One ``ingress-reconciler once`` converges from scratch: real kube-apiserver, moto (elbv2 NLBs and
Route53) and BIND. From a cluster holding only the Ingresses, a single run creates the fleets, their
NLBs, the Services' and Ingresses' status and the DNS records, and exits 0; a second run changes
nothing (no DNS change, no AWS ``Create*`` call)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from e2e.servers.moto import MotoServer
from reconciler.kube.resources import DEPLOYMENT, INGRESS, INGRESS_CLASS, SERVICE
from tests.fixtures.moto import aws_client_kwargs
from tests.integration.harness import ZONE
from tests.integration.test_elbv2 import make_network
from tests.integration.test_split_horizon import (
    CLUSTER,
    World,
    world_fixture,  # noqa: F401 (the ``world`` fixture, built as an ElbWorld here)
    zone_contents,
)

pytestmark = pytest.mark.integration


class ElbWorld(World):
    """Both fleets in elbv2 mode: the public one published in Route53, the private one in BIND."""

    def settings(self, moto: MotoServer) -> dict[str, Any]:
        settings = super().settings(moto)
        settings["providers"] = [
            p for p in settings["providers"] if p["name"] in ("route53-public", "bind-private")
        ]
        public, private = settings["fleets"]
        elbv2 = {"loadBalancer": {"mode": "elbv2", "targetType": "ip"}}
        public.update(elbv2)
        private.update(elbv2, dnsProviders=["bind-private"])
        return settings

    @classmethod
    def prepare(cls, moto: MotoServer) -> None:
        """The VPC and subnets tagged for the cluster, where the NLBs go."""
        make_network(boto3.client("ec2", **aws_client_kwargs(moto)), CLUSTER)


@pytest.fixture
def world_kind() -> type[World]:
    """The imported ``world`` fixture builds an :class:`ElbWorld` here."""
    return ElbWorld


def _nlbs(moto: MotoServer) -> dict[str, str]:
    """Scheme → DNS name of every NLB in the emulator."""
    elbv2 = boto3.client("elbv2", **aws_client_kwargs(moto))
    return {b["Scheme"]: b["DNSName"] for b in elbv2.describe_load_balancers()["LoadBalancers"]}


def test_one_once_converges_from_scratch_and_a_second_changes_nothing(world: ElbWorld) -> None:
    world.ingress("shop", f"shop.{ZONE}", world.public)
    world.ingress("db", f"db.{ZONE}", world.private)
    assert _nlbs(world.moto) == {}

    code, doc, err = world.once("once")

    assert code == 0, err
    assert doc["errors"] == [], doc
    # fleet objects
    public_ns, private_ns = world.fleet_namespaces
    for fleet, ns in ((world.public, public_ns), (world.private, private_ns)):
        assert world.client.get(INGRESS_CLASS, fleet)["metadata"]["name"] == fleet
        assert world.client.get(DEPLOYMENT, f"ingress-{fleet}", ns)["spec"]["replicas"] == 1
    # one NLB per fleet, of the fleet's scheme
    nlbs = _nlbs(world.moto)
    assert set(nlbs) == {"internet-facing", "internal"}, nlbs
    public_lb, private_lb = nlbs["internet-facing"], nlbs["internal"]
    # the Services' and the Ingresses' status carry them
    for fleet, ns, lb in (
        (world.public, public_ns, public_lb),
        (world.private, private_ns, private_lb),
    ):
        svc = world.client.get(SERVICE, f"ingress-{fleet}", ns)
        assert svc["status"]["loadBalancer"]["ingress"] == [{"hostname": lb}]
    shop = world.client.get(INGRESS, "shop", world.namespace)
    db = world.client.get(INGRESS, "db", world.namespace)
    assert shop["status"]["loadBalancer"]["ingress"] == [{"hostname": public_lb}]
    assert db["status"]["loadBalancer"]["ingress"] == [{"hostname": private_lb}]
    # the DNS records, each in its fleet's view only
    created = {(r["provider"], r["name"]) for r in doc["create"]}
    assert created == {("route53-public", f"shop.{ZONE}"), ("bind-private", f"db.{ZONE}")}
    public_zone = zone_contents(world.route53, world.public_zone)
    assert any(public_lb.lower() in value for value in public_zone.values()), public_zone
    assert not any(name.endswith(f"db.{ZONE}") for name, _ in public_zone), public_zone
    bind_records = {(r.name, r.rdtype): r.values for r in world.bind.transfer(ZONE)}
    assert bind_records[(f"db.{ZONE}", "CNAME")] == (f"{private_lb.lower()}.",)

    # A second run: nothing to do anywhere.
    world.moto.reset_calls()
    code, doc, err = world.once("once")

    assert code == 0, err
    assert (doc["create"], doc["update"], doc["delete"], doc["errors"]) == ([], [], [], [])
    calls = world.moto.call_counts()
    assert calls, "the second run read nothing from AWS"
    assert {action: n for action, n in calls.items() if action.startswith("Create")} == {}
    assert _nlbs(world.moto) == nlbs
