"""converge_load_balancers end to end: a real kube-apiserver (Services) and moto (ELBv2, EC2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pytest

from e2e.servers.moto import MotoServer
from providers.elbv2 import Elbv2LoadBalancers
from reconciler.fleets.load_balancers import (
    LbReport,
    LoadBalancerPort,
    LoadBalancerSpec,
    Scheme,
    converge_load_balancers,
)
from reconciler.fleets.spec import ELBV2_LOAD_BALANCER_CLASS as LOAD_BALANCER_CLASS
from reconciler.fleets.spec import LOAD_BALANCER_FINALIZER as FINALIZER
from reconciler.fleets.spec import SCHEME_ANNOTATION
from reconciler.kube.client import KubeClient
from reconciler.kube.fake import FakeCluster
from reconciler.kube.resources import SERVICE
from reconciler.kube.service_status import KubeServiceStatus
from reconciler.kube.writer import KubeWriter
from reconciler.model.cluster import JsonObject
from reconciler.model.errors import KubernetesError
from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict
from tests.integration.test_elbv2 import CLUSTER, OWNER, make_network

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
PORTS = (LoadBalancerPort("http", 80), LoadBalancerPort("https", 443))


class ListedState:
    """A ClusterState that lists Services straight from the API server (no watch lag)."""

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    def has_synced(self) -> bool:
        """Always."""
        return True

    def ingresses(self) -> Sequence[IngressDict]:
        """None needed here."""
        return ()

    def ingress_classes(self) -> Sequence[IngressClassDict]:
        """None needed here."""
        return ()

    def namespaces(self) -> Sequence[NamespaceDict]:
        """None needed here."""
        return ()

    def gateways(self) -> Sequence[JsonObject]:
        """None needed here."""
        return ()

    def listener_sets(self) -> Sequence[JsonObject]:
        """None needed here."""
        return ()

    def routes(self) -> Sequence[JsonObject]:
        """None needed here."""
        return ()

    def services(self) -> Sequence[ServiceDict]:
        """The test namespace's Services, fresh."""
        items, _ = self.client.list(SERVICE, self.namespace)
        return cast(Sequence[ServiceDict], items)


def fleet_service(
    namespace: str,
    fleet: str,
    scheme: str,
    *,
    owner: str = OWNER,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A fleet Service as the fleets stage makes it."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{fleet}-controller",
            "namespace": namespace,
            "labels": labels
            if labels is not None
            else {
                "app.kubernetes.io/managed-by": "ingress-reconciler",
                "ingress-reconciler.io/owner": owner,
                "ingress-reconciler.io/fleet": fleet,
            },
            "annotations": {SCHEME_ANNOTATION: scheme},
        },
        "spec": {
            "type": "LoadBalancer",
            "loadBalancerClass": LOAD_BALANCER_CLASS,
            "selector": {"app": fleet},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 80},
                {"name": "https", "port": 443, "targetPort": 443},
            ],
        },
    }


def lb_spec(fleet: str, scheme: Scheme) -> LoadBalancerSpec:
    """The fleet's load-balancer spec."""
    return LoadBalancerSpec(
        fleet=fleet,
        cluster_name=CLUSTER,
        scheme=scheme,
        ports=PORTS,
        target_type="ip",
        owner_id=OWNER,
    )


class Harness:
    """Everything one pass needs, wired to the real servers."""

    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        elbv2: ElasticLoadBalancingv2Client,
        ec2: EC2Client,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.elbv2 = elbv2
        self.state = ListedState(client, namespace)
        self.backend = Elbv2LoadBalancers(elbv2_client=elbv2, ec2_client=ec2)
        self.kube = KubeServiceStatus(client=client, writer=KubeWriter(client))
        self.events = FakeCluster()

    def converge(self, *specs: LoadBalancerSpec) -> LbReport:
        """One pass."""
        return converge_load_balancers(
            specs=specs,
            owner_id=OWNER,
            cluster_name=CLUSTER,
            state=self.state,
            backend=self.backend,
            kube=self.kube,
            events=self.events,
            now=NOW,
        )

    def service(self, fleet: str) -> dict[str, Any] | None:
        """The fleet Service, or None when gone."""
        try:
            return self.client.get(SERVICE, f"{fleet}-controller", self.namespace)
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def balancers(self) -> dict[str, dict[str, Any]]:
        """Every load balancer in moto by name."""
        return {
            b["LoadBalancerName"]: dict(b)
            for b in self.elbv2.describe_load_balancers()["LoadBalancers"]
        }


@pytest.fixture
def harness(
    api_client: KubeClient,
    namespace: str,
    elbv2_client: ElasticLoadBalancingv2Client,
    ec2_client: EC2Client,
) -> Iterator[Harness]:
    """A harness; afterwards strips leftover finalizers so the namespace can go."""
    make_network(ec2_client)
    harness = Harness(api_client, namespace, elbv2_client, ec2_client)
    try:
        yield harness
    finally:
        items, _ = api_client.list(SERVICE, namespace)
        for item in items:
            if item["metadata"].get("finalizers"):
                api_client.patch(
                    SERVICE,
                    item["metadata"]["name"],
                    {"metadata": {"finalizers": None}},
                    namespace=namespace,
                )


def _hostnames(service: dict[str, Any] | None) -> list[str]:
    assert service is not None
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return [str(i.get("hostname")) for i in ingress]


def test_nlb_per_fleet_with_scheme_finalizer_and_service_status(harness: Harness) -> None:
    harness.client.create(fleet_service(harness.namespace, "public", "internet-facing"))
    harness.client.create(fleet_service(harness.namespace, "private", "internal"))

    report = harness.converge(
        lb_spec("public", Scheme.INTERNET_FACING), lb_spec("private", Scheme.INTERNAL)
    )

    assert report.ok, report.failed
    assert sorted(report.created) == ["private", "public"]
    balancers = harness.balancers()
    by_fleet: dict[str, dict[str, Any]] = {}
    for balancer in balancers.values():
        tags = harness.elbv2.describe_tags(ResourceArns=[balancer["LoadBalancerArn"]])
        fleet = {t["Key"]: t["Value"] for t in tags["TagDescriptions"][0]["Tags"]}[
            "ingress-reconciler.io/fleet"
        ]
        by_fleet[fleet] = balancer
    assert by_fleet["public"]["Scheme"] == "internet-facing"
    assert by_fleet["private"]["Scheme"] == "internal"
    for fleet in ("public", "private"):
        service = harness.service(fleet)
        assert service is not None
        assert FINALIZER in service["metadata"]["finalizers"]
        assert _hostnames(service) == [by_fleet[fleet]["DNSName"]]
    reasons = Counter(e.reason for e in harness.events.events)
    assert reasons == {"LoadBalancerCreated": 2}


def test_second_pass_is_quiet_on_both_sides(harness: Harness, moto: MotoServer) -> None:
    harness.client.create(fleet_service(harness.namespace, "public", "internet-facing"))
    spec = lb_spec("public", Scheme.INTERNET_FACING)
    harness.converge(spec)
    before = harness.service("public")
    assert before is not None
    moto.reset_calls()

    report = harness.converge(spec)

    calls = moto.call_counts()
    assert {k: v for k, v in calls.items() if not k.startswith("Describe")} == {}, calls
    assert report.status_written == ()
    assert report.finalizers_added == ()
    assert report.created == ()
    after = harness.service("public")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_deleted_fleet_service_deletes_nlb_then_releases_finalizer(
    harness: Harness, moto: MotoServer
) -> None:
    harness.client.create(fleet_service(harness.namespace, "public", "internet-facing"))
    harness.client.create(fleet_service(harness.namespace, "private", "internal"))
    public = lb_spec("public", Scheme.INTERNET_FACING)
    private = lb_spec("private", Scheme.INTERNAL)
    harness.converge(public, private)
    assert len(harness.balancers()) == 2

    # the fleet is removed from the config and the fleets stage deletes its Service
    harness.client.delete(SERVICE, "public-controller", harness.namespace)
    waiting = harness.service("public")
    assert waiting is not None
    assert waiting["metadata"].get("deletionTimestamp")  # held by our finalizer
    moto.reset_calls()

    report = harness.converge(private)

    assert report.deleted == ("public",)
    assert harness.service("public") is None
    (left,) = harness.balancers().values()
    assert left["Scheme"] == "internal"
    groups = harness.elbv2.describe_target_groups()["TargetGroups"]
    assert {g["LoadBalancerArns"][0] for g in groups} == {left["LoadBalancerArn"]}
    assert len(groups) == 2
    calls = moto.call_counts("elasticloadbalancing")
    assert calls["DeleteLoadBalancer"] == 1
    assert calls["DeleteListener"] == 2
    assert calls["DeleteTargetGroup"] == 2


def test_scheme_flip_is_refused_and_the_nlb_kept(harness: Harness, moto: MotoServer) -> None:
    harness.client.create(fleet_service(harness.namespace, "public", "internet-facing"))
    harness.converge(lb_spec("public", Scheme.INTERNET_FACING))
    (before,) = harness.balancers().values()
    moto.reset_calls()

    report = harness.converge(lb_spec("public", Scheme.INTERNAL))

    assert [r.reason for r in report.refused] == ["SchemeChangeRefused"]
    calls = moto.call_counts()
    assert {k: v for k, v in calls.items() if not k.startswith("Describe")} == {}, calls
    (after,) = harness.balancers().values()
    assert after["LoadBalancerArn"] == before["LoadBalancerArn"]
    assert after["Scheme"] == "internet-facing"
    assert _hostnames(harness.service("public")) == [before["DNSName"]]
    warning = harness.events.events[-1]
    assert warning.reason == "SchemeChangeRefused"
    assert warning.regarding.name == "public-controller"
    assert str(warning.type) == "Warning"


def test_services_not_ours_are_left_alone(harness: Harness, moto: MotoServer) -> None:
    harness.client.create(
        fleet_service(harness.namespace, "public", "internet-facing", owner="someone-else")
    )
    moto.reset_calls()

    report = harness.converge(lb_spec("public", Scheme.INTERNET_FACING))

    assert report.waiting == ("public",)
    assert harness.balancers() == {}
    service = harness.service("public")
    assert service is not None
    assert not service["metadata"].get("finalizers")
    assert _hostnames(service) == []
    calls = moto.call_counts()
    assert {k: v for k, v in calls.items() if not k.startswith("Describe")} == {}, calls


def test_someone_elses_load_balancer_survives_a_fleet_removal(
    harness: Harness, ec2_client: EC2Client
) -> None:
    subnets = ec2_client.describe_subnets()["Subnets"]
    theirs = harness.elbv2.create_load_balancer(
        Name="theirs", Subnets=[subnets[0]["SubnetId"]], Type="network"
    )["LoadBalancers"][0]
    harness.client.create(fleet_service(harness.namespace, "public", "internet-facing"))
    harness.converge(lb_spec("public", Scheme.INTERNET_FACING))
    harness.client.delete(SERVICE, "public-controller", harness.namespace)

    report = harness.converge()

    assert report.deleted == ("public",)
    assert list(harness.balancers()) == ["theirs"]
    assert harness.balancers()["theirs"]["LoadBalancerArn"] == theirs["LoadBalancerArn"]


def test_finalizers_of_others_are_kept(harness: Harness) -> None:
    obj = fleet_service(harness.namespace, "public", "internet-facing")
    obj["metadata"]["finalizers"] = ["example.com/other"]
    harness.client.create(obj)
    spec = lb_spec("public", Scheme.INTERNET_FACING)

    harness.converge(spec)
    service = harness.service("public")
    assert service is not None
    assert service["metadata"]["finalizers"] == ["example.com/other", FINALIZER]

    harness.client.delete(SERVICE, "public-controller", harness.namespace)
    report = harness.converge()

    assert report.deleted == ("public",)
    service = harness.service("public")
    assert service is not None  # still held by the other finalizer, ours is gone
    assert service["metadata"]["finalizers"] == ["example.com/other"]
    assert harness.balancers() == {}


def test_adapter_retries_a_conflicting_finalizer_write(
    api_client: KubeClient, namespace: str
) -> None:
    api_client.create(fleet_service(namespace, "public", "internet-facing"))
    stale = api_client.get(SERVICE, "public-controller", namespace)

    class RacingClient(KubeClient):
        """Changes the Service between the adapter's read and its patch, once."""

        raced = False

        def get(self, kind: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
            got = super().get(kind, name, namespace)
            if not RacingClient.raced:
                RacingClient.raced = True
                super().patch(
                    SERVICE,
                    name,
                    {"metadata": {"finalizers": ["example.com/racer"]}},
                    namespace=namespace,
                )
            return got

    racing = RacingClient(api_client._api)
    adapter = KubeServiceStatus(client=racing, writer=KubeWriter(racing))
    adapter.add_finalizer(namespace, "public-controller", FINALIZER)

    got = api_client.get(SERVICE, "public-controller", namespace)
    assert got["metadata"]["finalizers"] == ["example.com/racer", FINALIZER]
    assert got["metadata"]["resourceVersion"] != stale["metadata"]["resourceVersion"]
    adapter.remove_finalizer(namespace, "public-controller", FINALIZER)
    adapter.remove_finalizer(namespace, "public-controller", FINALIZER)  # no-op
    assert api_client.get(SERVICE, "public-controller", namespace)["metadata"]["finalizers"] == [
        "example.com/racer"
    ]
    api_client.patch(
        SERVICE, "public-controller", {"metadata": {"finalizers": None}}, namespace=namespace
    )
