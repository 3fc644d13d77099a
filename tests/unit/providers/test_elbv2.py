"""providers.elbv2 without a server: names, subnet choice, and error wrapping (botocore Stubber)."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from providers import elbv2
from providers.elbv2 import (
    Elbv2LoadBalancers,
    Subnet,
    choose_subnets,
    load_balancer_name,
    ownership_tags,
    target_group_name,
)
from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import PermanentProviderError, ProviderError, TransientProviderError
from reconciler.model.load_balancer import LoadBalancerPort, LoadBalancerSpec, Scheme

_AWS_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")


def spec(**kw: Any) -> LoadBalancerSpec:
    values: dict[str, Any] = {
        "fleet": "public",
        "cluster_name": "cluster-a",
        "scheme": Scheme.INTERNET_FACING,
        "ports": (LoadBalancerPort("http", 80),),
        "target_type": "ip",
        "owner_id": "owner-a",
    }
    values.update(kw)
    return LoadBalancerSpec(**values)


def subnet(
    subnet_id: str, az: str, tags: dict[str, str], free: int = 250, vpc: str = "vpc-1"
) -> Subnet:
    return Subnet(subnet_id, vpc, az, free, FrozenMap(tags))


PUBLIC = {"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/cluster-a": "owned"}
PRIVATE = {"kubernetes.io/role/internal-elb": "", "kubernetes.io/cluster/cluster-a": "shared"}


# --- names ------------------------------------------------------------------------------------

text = st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=80)


@given(cluster=text, fleet=text, owner=text, port=st.integers(1, 65535))
def test_names_are_valid_aws_names(cluster: str, fleet: str, owner: str, port: int) -> None:
    s = spec(cluster_name=cluster, fleet=fleet, owner_id=owner)
    lb = load_balancer_name(s)
    tg = target_group_name(s, LoadBalancerPort("p", port), "vpc-1")
    for name in (lb, tg):
        assert len(name) <= 32
        assert _AWS_NAME.match(name), name
    assert not lb.startswith("internal-")


def test_names_are_deterministic_and_distinct() -> None:
    assert load_balancer_name(spec()) == load_balancer_name(spec())
    assert load_balancer_name(spec()) == load_balancer_name(spec(ports=()))
    assert load_balancer_name(spec()) == load_balancer_name(spec(scheme=Scheme.INTERNAL))
    others = {
        load_balancer_name(spec(fleet="private")),
        load_balancer_name(spec(owner_id="owner-b")),
        load_balancer_name(spec(cluster_name="cluster-b")),
        load_balancer_name(spec(fleet="public-with-a-very-long-name-1")),
        load_balancer_name(spec(fleet="public-with-a-very-long-name-2")),
    }
    assert len(others) == 5
    assert load_balancer_name(spec()) not in others


def test_target_group_name_changes_with_immutable_attributes() -> None:
    port = LoadBalancerPort("http", 80)
    base = target_group_name(spec(), port, "vpc-1")
    assert base == target_group_name(spec(), port, "vpc-1")
    assert base != target_group_name(spec(target_type="instance"), port, "vpc-1")
    assert base != target_group_name(spec(), port, "vpc-2")
    assert base != target_group_name(spec(), LoadBalancerPort("http", 80, 8080), "vpc-1")


def test_ownership_tags() -> None:
    assert ownership_tags(spec()) == {
        "ingress-reconciler.io/cluster": "cluster-a",
        "ingress-reconciler.io/owner": "owner-a",
        "ingress-reconciler.io/fleet": "public",
    }


# --- subnets ----------------------------------------------------------------------------------


def test_one_subnet_per_zone_first_id_wins() -> None:
    subnets = [
        subnet("subnet-b2", "us-east-1b", PUBLIC),
        subnet("subnet-a9", "us-east-1a", PUBLIC),
        subnet("subnet-a1", "us-east-1a", PUBLIC),
        subnet("subnet-c1", "us-east-1c", PRIVATE),
    ]
    chosen = choose_subnets(subnets, scheme=Scheme.INTERNET_FACING, cluster_name="cluster-a")
    assert [s.subnet_id for s in chosen] == ["subnet-a1", "subnet-b2"]
    chosen = choose_subnets(subnets, scheme=Scheme.INTERNAL, cluster_name="cluster-a")
    assert [s.subnet_id for s in chosen] == ["subnet-c1"]


@pytest.mark.parametrize(
    "candidate",
    [
        subnet("subnet-x", "us-east-1a", {"kubernetes.io/role/elb": "1"}),
        subnet(
            "subnet-x",
            "us-east-1a",
            {"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/other": "owned"},
        ),
        subnet(
            "subnet-x",
            "us-east-1a",
            {"kubernetes.io/role/elb": "0", "kubernetes.io/cluster/cluster-a": "owned"},
        ),
        subnet(
            "subnet-x",
            "us-east-1a",
            {"kubernetes.io/role/elb": "1", "kubernetes.io/cluster/cluster-a": "unmanaged"},
        ),
        subnet("subnet-x", "us-east-1a", PUBLIC, free=7),
        subnet("subnet-x", "us-east-1a", PRIVATE),
    ],
    ids=["no cluster tag", "other cluster", "role 0", "bad cluster value", "full", "private"],
)
def test_ineligible_subnets_are_skipped(candidate: Subnet) -> None:
    assert (
        choose_subnets([candidate], scheme=Scheme.INTERNET_FACING, cluster_name="cluster-a") == ()
    )


def test_vpc_pin() -> None:
    subnets = [
        subnet("subnet-a", "us-east-1a", PUBLIC, vpc="vpc-1"),
        subnet("subnet-b", "us-east-1b", PUBLIC, vpc="vpc-2"),
    ]
    chosen = choose_subnets(
        subnets, scheme=Scheme.INTERNET_FACING, cluster_name="cluster-a", vpc_id="vpc-2"
    )
    assert [s.subnet_id for s in chosen] == ["subnet-b"]


@given(st.permutations(range(6)))
def test_subnet_choice_is_order_independent(order: list[int]) -> None:
    pool = [subnet(f"subnet-{i}", f"us-east-1{'abc'[i % 3]}", PUBLIC) for i in range(6)]
    shuffled = [pool[i] for i in order]
    assert choose_subnets(shuffled, scheme=Scheme.INTERNET_FACING, cluster_name="cluster-a") == (
        choose_subnets(pool, scheme=Scheme.INTERNET_FACING, cluster_name="cluster-a")
    )


# --- errors -----------------------------------------------------------------------------------


def _clients() -> tuple[Any, Any]:
    kwargs: dict[str, Any] = {
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",  # dummy value, never sent: Stubber answers
    }
    return boto3.client("elbv2", **kwargs), boto3.client("ec2", **kwargs)


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("Throttling", 400, True),
        ("InternalFailure", 500, True),
        ("AccessDenied", 403, False),
        ("ValidationError", 400, False),
        ("TooManyLoadBalancers", 400, False),
    ],
)
def test_client_errors_become_provider_errors(code: str, status: int, transient: bool) -> None:
    elb, ec2 = _clients()
    backend = Elbv2LoadBalancers(elbv2_client=elb, ec2_client=ec2)
    with Stubber(elb) as stub:
        stub.add_client_error(
            "describe_load_balancers", service_error_code=code, http_status_code=status
        )
        with pytest.raises(ProviderError) as caught:
            backend.ensure(spec())
    assert caught.value.transient is transient
    assert isinstance(caught.value, TransientProviderError if transient else PermanentProviderError)
    assert code in str(caught.value)
    assert caught.value.provider == "elbv2"


def test_not_found_is_absence_not_an_error() -> None:
    elb, ec2 = _clients()
    backend = Elbv2LoadBalancers(elbv2_client=elb, ec2_client=ec2)
    with Stubber(elb) as elb_stub, Stubber(ec2) as ec2_stub:
        elb_stub.add_client_error(
            "describe_load_balancers", service_error_code="LoadBalancerNotFound"
        )
        ec2_stub.add_response("describe_subnets", {"Subnets": []})
        with pytest.raises(PermanentProviderError, match="no subnet"):
            backend.ensure(spec())


def test_connection_errors_are_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    elb, ec2 = _clients()
    backend = Elbv2LoadBalancers(elbv2_client=elb, ec2_client=ec2)

    def refuse(**_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    monkeypatch.setattr(elb, "describe_load_balancers", refuse)
    with pytest.raises(TransientProviderError, match="EndpointConnectionError"):
        backend.owned("cluster-a", "owner-a")


def test_owned_filters_by_cluster_owner_and_type() -> None:
    elb, ec2 = _clients()
    backend = Elbv2LoadBalancers(elbv2_client=elb, ec2_client=ec2)

    def balancer(name: str, type_: str = "network") -> dict[str, Any]:
        return {
            "LoadBalancerName": name,
            "LoadBalancerArn": f"arn:aws:elasticloadbalancing:us-east-1:1:lb/net/{name}/1",
            "DNSName": f"{name}.elb.amazonaws.com",
            "Scheme": "internal",
            "Type": type_,
        }

    mine = dict(ownership_tags(spec(fleet="private")))
    tags = {
        "mine": mine,
        "other-owner": {**mine, "ingress-reconciler.io/owner": "owner-b"},
        "other-cluster": {**mine, "ingress-reconciler.io/cluster": "cluster-b"},
        "no-fleet": {k: v for k, v in mine.items() if k != "ingress-reconciler.io/fleet"},
        "untagged": {"Name": "theirs"},
    }
    network = [balancer(name) for name in tags]
    with Stubber(elb) as stub:
        stub.add_response(
            "describe_load_balancers",
            {"LoadBalancers": [*network, balancer("an-alb", "application")]},
        )
        stub.add_response(
            "describe_tags",
            {
                "TagDescriptions": [
                    {
                        "ResourceArn": b["LoadBalancerArn"],
                        "Tags": [
                            {"Key": k, "Value": v} for k, v in tags[b["LoadBalancerName"]].items()
                        ],
                    }
                    for b in network
                ]
            },
            {"ResourceArns": [b["LoadBalancerArn"] for b in network]},
        )
        owned = backend.owned("cluster-a", "owner-a")
    assert [(s.name, s.fleet, s.scheme) for s in owned] == [("mine", "private", "internal")]


def test_exported_surface() -> None:
    assert set(elbv2.__all__) == {
        "MIN_FREE_ADDRESSES",
        "PROVIDER",
        "Elbv2LoadBalancers",
        "Subnet",
        "choose_subnets",
        "load_balancer_name",
        "ownership_tags",
        "target_group_name",
    }
