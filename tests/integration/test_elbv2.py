"""Elbv2LoadBalancers against moto's ELBv2 + EC2 (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from e2e.servers.moto import MotoServer
from providers.elbv2 import Elbv2LoadBalancers, load_balancer_name, ownership_tags
from reconciler.model.errors import PermanentProviderError
from reconciler.model.load_balancer import LoadBalancerPort, LoadBalancerSpec, Scheme

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

pytestmark = pytest.mark.integration

CLUSTER = "cluster-a"
OWNER = "owner-a"
PORTS = (LoadBalancerPort("http", 80), LoadBalancerPort("https", 443, 8443))


@dataclass(frozen=True)
class Network:
    """The VPC and subnets made for a test."""

    vpc_id: str
    public: dict[str, list[str]]
    """Public (role/elb, our cluster) subnet ids by AZ."""
    private: dict[str, list[str]]
    """Private (role/internal-elb, our cluster) subnet ids by AZ."""
    decoys: list[str]
    """Role-tagged subnets of no/another cluster."""


def _subnet(ec2: EC2Client, vpc: str, cidr: str, az: str, tags: dict[str, str]) -> str:
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=az)["Subnet"]
    subnet_id = subnet["SubnetId"]
    ec2.create_tags(Resources=[subnet_id], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return subnet_id


def make_network(ec2: EC2Client, cluster: str = CLUSTER) -> Network:
    """A VPC with public subnets in 3 AZs (two in us-east-1a), private ones in 2 AZs, decoys."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    mine = f"kubernetes.io/cluster/{cluster}"
    public: dict[str, list[str]] = {}
    private: dict[str, list[str]] = {}
    n = 0
    for az, count in (("us-east-1a", 2), ("us-east-1b", 1), ("us-east-1c", 1)):
        for _ in range(count):
            tags = {"kubernetes.io/role/elb": "1", mine: "owned"}
            public.setdefault(az, []).append(_subnet(ec2, vpc, f"10.0.{n}.0/24", az, tags))
            n += 1
    for az in ("us-east-1a", "us-east-1b"):
        tags = {"kubernetes.io/role/internal-elb": "", mine: "shared"}
        private.setdefault(az, []).append(_subnet(ec2, vpc, f"10.0.{n}.0/24", az, tags))
        n += 1
    decoys = [
        _subnet(
            ec2,
            vpc,
            f"10.0.{n}.0/24",
            "us-east-1d",
            {"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/other": "owned"},
        ),
        _subnet(ec2, vpc, f"10.0.{n + 1}.0/24", "us-east-1e", {"kubernetes.io/role/elb": "1"}),
    ]
    return Network(vpc, public, private, decoys)


def spec(
    fleet: str = "public", scheme: Scheme = Scheme.INTERNET_FACING, **kw: Any
) -> LoadBalancerSpec:
    """A fleet's load-balancer spec."""
    values: dict[str, Any] = {
        "fleet": fleet,
        "cluster_name": CLUSTER,
        "scheme": scheme,
        "ports": PORTS,
        "target_type": "ip",
        "owner_id": OWNER,
    }
    values.update(kw)
    return LoadBalancerSpec(**values)


@pytest.fixture
def network(ec2_client: EC2Client) -> Network:
    """The test's VPC and subnets."""
    return make_network(ec2_client)


@pytest.fixture
def backend(
    elbv2_client: ElasticLoadBalancingv2Client, ec2_client: EC2Client, network: Network
) -> Elbv2LoadBalancers:
    """The backend under test."""
    del network
    return Elbv2LoadBalancers(elbv2_client=elbv2_client, ec2_client=ec2_client)


def _lb(elbv2: ElasticLoadBalancingv2Client, name: str) -> dict[str, Any]:
    return dict(elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0])


def _all_lbs(elbv2: ElasticLoadBalancingv2Client) -> list[str]:
    return sorted(b["LoadBalancerName"] for b in elbv2.describe_load_balancers()["LoadBalancers"])


def _all_tgs(elbv2: ElasticLoadBalancingv2Client) -> list[dict[str, Any]]:
    return [dict(g) for g in elbv2.describe_target_groups()["TargetGroups"]]


def _creates(calls: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if not k.startswith("Describe")}


def test_internet_facing_nlb_in_public_subnets_one_per_az(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client, network: Network
) -> None:
    state = backend.ensure(spec())

    raw = _lb(elbv2_client, load_balancer_name(spec()))
    assert raw["Scheme"] == "internet-facing"
    assert raw["Type"] == "network"
    zones = {z["ZoneName"]: z["SubnetId"] for z in raw["AvailabilityZones"]}
    assert zones == {az: min(ids) for az, ids in network.public.items()}
    assert state.dns_name == raw["DNSName"]
    assert state.dns_name
    assert state.scheme == "internet-facing"
    assert dict(state.tags) == ownership_tags(spec())
    assert len(state.name) <= 32


def test_internal_nlb_in_private_subnets(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client, network: Network
) -> None:
    private = spec("private", Scheme.INTERNAL)
    state = backend.ensure(private)

    raw = _lb(elbv2_client, state.name)
    assert raw["Scheme"] == "internal"
    zones = {z["ZoneName"]: z["SubnetId"] for z in raw["AvailabilityZones"]}
    assert zones == {az: ids[0] for az, ids in network.private.items()}


def test_listeners_and_target_groups_per_port(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client, network: Network
) -> None:
    state = backend.ensure(spec())

    listeners = elbv2_client.describe_listeners(LoadBalancerArn=state.arn)["Listeners"]
    by_port = {lst["Port"]: lst for lst in listeners}
    assert sorted(by_port) == [80, 443]
    groups = {g["TargetGroupArn"]: g for g in _all_tgs(elbv2_client)}
    for port, backend_port in ((80, 80), (443, 8443)):
        listener = by_port[port]
        assert listener["Protocol"] == "TCP"
        (action,) = listener["DefaultActions"]
        group = groups[action["TargetGroupArn"]]
        assert group["Protocol"] == "TCP"
        assert group["Port"] == backend_port
        assert group["TargetType"] == "ip"
        assert group["VpcId"] == network.vpc_id
        tags = elbv2_client.describe_tags(ResourceArns=[group["TargetGroupArn"]])
        assert {t["Key"]: t["Value"] for t in tags["TagDescriptions"][0]["Tags"]} == (
            ownership_tags(spec())
        )


def test_second_ensure_makes_no_change_calls(backend: Elbv2LoadBalancers, moto: MotoServer) -> None:
    first = backend.ensure(spec())
    moto.reset_calls()

    second = backend.ensure(spec())

    calls = moto.call_counts("elasticloadbalancing")
    assert second == first
    assert _creates(calls) == {}, calls
    assert sum(calls.values()) == 4, calls
    assert moto.call_counts("ec2") == Counter()


def test_deleted_listener_is_recreated(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client, moto: MotoServer
) -> None:
    state = backend.ensure(spec())
    listeners = elbv2_client.describe_listeners(LoadBalancerArn=state.arn)["Listeners"]
    https = next(lst for lst in listeners if lst["Port"] == 443)
    elbv2_client.delete_listener(ListenerArn=https["ListenerArn"])
    moto.reset_calls()

    backend.ensure(spec())

    listeners = elbv2_client.describe_listeners(LoadBalancerArn=state.arn)["Listeners"]
    assert sorted(lst["Port"] for lst in listeners) == [80, 443]
    calls = moto.call_counts("elasticloadbalancing")
    assert _creates(calls) == {"CreateListener": 1}, calls


def test_removed_port_loses_its_listener_and_target_group(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client
) -> None:
    state = backend.ensure(spec())
    backend.ensure(replace(spec(), ports=PORTS[:1]))

    listeners = elbv2_client.describe_listeners(LoadBalancerArn=state.arn)["Listeners"]
    assert [lst["Port"] for lst in listeners] == [80]
    assert [g["Port"] for g in _all_tgs(elbv2_client)] == [80]


def test_target_type_change_swaps_target_groups(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client
) -> None:
    state = backend.ensure(spec())
    backend.ensure(spec(target_type="instance"))

    groups = _all_tgs(elbv2_client)
    assert sorted(g["TargetType"] for g in groups) == ["instance", "instance"]
    listeners = elbv2_client.describe_listeners(LoadBalancerArn=state.arn)["Listeners"]
    arns = {g["TargetGroupArn"] for g in groups}
    assert {lst["DefaultActions"][0]["TargetGroupArn"] for lst in listeners} == arns


def test_owned_finds_only_ours(
    backend: Elbv2LoadBalancers,
    elbv2_client: ElasticLoadBalancingv2Client,
    ec2_client: EC2Client,
    network: Network,
) -> None:
    public = backend.ensure(spec())
    private = backend.ensure(spec("private", Scheme.INTERNAL))
    backend.ensure(spec("public", owner_id="someone-else"))
    elbv2_client.create_load_balancer(
        Name="theirs", Subnets=network.public["us-east-1b"], Type="network"
    )

    owned = backend.owned(CLUSTER, OWNER)

    assert [s.name for s in owned] == sorted([public.name, private.name])
    assert {s.fleet for s in owned} == {"public", "private"}


def test_delete_removes_listeners_nlb_and_target_groups(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client
) -> None:
    public = backend.ensure(spec())
    private = backend.ensure(spec("private", Scheme.INTERNAL))

    assert backend.delete(spec()) is True

    assert _all_lbs(elbv2_client) == [private.name]
    remaining = _all_tgs(elbv2_client)
    assert len(remaining) == 2
    for group in remaining:
        assert group["LoadBalancerArns"] == [private.arn]
    with pytest.raises(ClientError, match="LoadBalancerNotFound"):
        elbv2_client.describe_listeners(LoadBalancerArn=public.arn)
    assert backend.delete(spec()) is True  # idempotent


def test_untagged_load_balancer_and_target_group_are_never_touched(
    backend: Elbv2LoadBalancers,
    elbv2_client: ElasticLoadBalancingv2Client,
    network: Network,
    moto: MotoServer,
) -> None:
    name = load_balancer_name(spec())
    theirs = elbv2_client.create_load_balancer(
        Name=name, Subnets=network.public["us-east-1b"], Type="network", Scheme="internal"
    )["LoadBalancers"][0]
    group = elbv2_client.create_target_group(
        Name="their-group", Protocol="TCP", Port=80, VpcId=network.vpc_id, TargetType="ip"
    )["TargetGroups"][0]
    elbv2_client.create_listener(
        LoadBalancerArn=theirs["LoadBalancerArn"],
        Protocol="TCP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    moto.reset_calls()

    with pytest.raises(PermanentProviderError, match="without our ownership tags"):
        backend.ensure(spec())
    assert backend.delete(spec()) is True
    assert backend.owned(CLUSTER, OWNER) == ()

    calls = moto.call_counts("elasticloadbalancing")
    assert _creates(calls) == {}, calls
    assert _all_lbs(elbv2_client) == [name]
    assert [g["TargetGroupName"] for g in _all_tgs(elbv2_client)] == ["their-group"]
    listeners = elbv2_client.describe_listeners(LoadBalancerArn=theirs["LoadBalancerArn"])
    assert len(listeners["Listeners"]) == 1


def test_scheme_is_never_changed_in_place(
    backend: Elbv2LoadBalancers, elbv2_client: ElasticLoadBalancingv2Client
) -> None:
    state = backend.ensure(spec())

    with pytest.raises(PermanentProviderError, match="not changed in place"):
        backend.ensure(spec(scheme=Scheme.INTERNAL))
    assert _lb(elbv2_client, state.name)["Scheme"] == "internet-facing"


def test_no_tagged_subnet_is_a_permanent_error_naming_the_tags(
    elbv2_client: ElasticLoadBalancingv2Client, ec2_client: EC2Client, network: Network
) -> None:
    del network
    backend = Elbv2LoadBalancers(elbv2_client=elbv2_client, ec2_client=ec2_client)
    with pytest.raises(PermanentProviderError, match=r"kubernetes\.io/cluster/nowhere"):
        backend.ensure(spec(cluster_name="nowhere"))
    assert _all_lbs(elbv2_client) == []


def test_every_log_line_is_emittable(
    backend: Elbv2LoadBalancers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="providers.elbv2")
    backend.ensure(spec())
    backend.ensure(replace(spec(), ports=PORTS[:1]))
    backend.delete(spec())
    messages = {r.getMessage() for r in caplog.records}
    assert {
        "load balancer created",
        "target group created",
        "listener created",
        "listener deleted",
        "target group deleted",
        "load balancer deleted",
    } <= messages
