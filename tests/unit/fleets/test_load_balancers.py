"""The load-balancer stage with fakes: pure decisions, then converge_load_balancers' I/O."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import reconciler.fleets.load_balancers as lbs
from reconciler.fleets.load_balancers import (
    CLASS_MISMATCH_REFUSED,
    LbAction,
    LoadBalancerPort,
    LoadBalancerSpec,
    LoadBalancerState,
    Scheme,
    converge_load_balancers,
    decide_load_balancers,
    desired_service_status,
    scheme_for_visibility,
)
from reconciler.fleets.spec import ELBV2_LOAD_BALANCER_CLASS as LOAD_BALANCER_CLASS
from reconciler.fleets.spec import LOAD_BALANCER_FINALIZER as FINALIZER
from reconciler.fleets.spec import SCHEME_ANNOTATION
from reconciler.kube.fake import FakeCluster
from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import KubernetesError, PermanentProviderError, TransientProviderError
from reconciler.model.k8s_json import ServiceDict
from reconciler.model.load_balancer import CLUSTER_TAG_KEY, FLEET_TAG_KEY, OWNER_TAG_KEY
from tests.doubles import undocumented

NOW = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
OWNER = "cluster-a"
CLUSTER = "cluster-a"


def spec(fleet: str = "public", scheme: Scheme = Scheme.INTERNET_FACING) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        fleet=fleet,
        cluster_name=CLUSTER,
        scheme=scheme,
        ports=(LoadBalancerPort("http", 80),),
        target_type="ip",
        owner_id=OWNER,
    )


def service(
    fleet: str = "public",
    *,
    scheme: str | None = "internet-facing",
    owner: str = OWNER,
    finalizers: Sequence[str] = (),
    deleting: bool = False,
    hostname: str = "",
    type_: str = "LoadBalancer",
    managed: bool = True,
    lb_class: str | None = LOAD_BALANCER_CLASS,
) -> dict[str, Any]:
    labels = {"ingress-reconciler.io/owner": owner, "ingress-reconciler.io/fleet": fleet}
    if managed:
        labels["app.kubernetes.io/managed-by"] = "ingress-reconciler"
    meta: dict[str, Any] = {
        "name": f"{fleet}-controller",
        "namespace": f"ingress-{fleet}",
        "labels": labels,
        "annotations": {SCHEME_ANNOTATION: scheme} if scheme else {},
    }
    if finalizers:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2026-11-21T06:59:00Z"
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {"type": type_, "ports": [{"name": "http", "port": 80}]},
    }
    if lb_class is not None:
        obj["spec"]["loadBalancerClass"] = lb_class
    if hostname:
        obj["status"] = {"loadBalancer": {"ingress": [{"hostname": hostname}]}}
    return obj


def lb_state(fleet: str = "public", scheme: str = "internet-facing") -> LoadBalancerState:
    return LoadBalancerState(
        name=f"ir-{fleet}",
        arn=f"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/ir-{fleet}/1",
        dns_name=f"ir-{fleet}.elb.us-east-1.amazonaws.com",
        canonical_hosted_zone_id="Z26RNL4JYFTOTI",
        scheme=scheme,
        tags=FrozenMap({CLUSTER_TAG_KEY: CLUSTER, OWNER_TAG_KEY: OWNER, FLEET_TAG_KEY: fleet}),
    )


class FakeBackend:
    """LoadBalancerBackend in memory; records calls; can fail on demand."""

    def __init__(self, *existing: LoadBalancerState) -> None:
        self.balancers = {s.fleet: s for s in existing}
        self.calls: list[tuple[str, str]] = []
        self.fail: dict[str, Exception] = {}
        self.fail_fleets: dict[str, Exception] = {}
        self.delete_finishes = True

    def ensure(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        self.calls.append(("ensure", spec.fleet))
        if "ensure" in self.fail:
            raise self.fail["ensure"]
        if spec.fleet in self.fail_fleets:
            raise self.fail_fleets[spec.fleet]
        if spec.fleet not in self.balancers:
            self.balancers[spec.fleet] = lb_state(spec.fleet, str(spec.scheme))
        return self.balancers[spec.fleet]

    def delete(self, spec: LoadBalancerSpec) -> bool:
        self.calls.append(("delete", spec.fleet))
        if "delete" in self.fail:
            raise self.fail["delete"]
        if not self.delete_finishes:
            return False
        self.balancers.pop(spec.fleet, None)
        return True

    def owned(self, cluster_name: str, owner_id: str) -> Sequence[LoadBalancerState]:
        self.calls.append(("owned", ""))
        if "owned" in self.fail:
            raise self.fail["owned"]
        return tuple(self.balancers.values())


class FakeServiceStatus:
    """ServiceStatusWriter over a FakeCluster: status via the cluster, finalizers in place."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.finalizer_calls: list[tuple[str, str, str]] = []

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> Any:
        return self.cluster.patch_service_status(namespace, name, load_balancer)

    def _edit(self, namespace: str, name: str, finalizer: str, *, add: bool) -> None:
        obj = self.cluster.get("Service", name, namespace)
        if obj is None:
            if add:
                raise KubernetesError("not found", status=404)
            return
        updated = copy.deepcopy(obj)
        finalizers = [f for f in updated["metadata"].get("finalizers", []) if f != finalizer]
        if add:
            finalizers.append(finalizer)
        updated["metadata"]["finalizers"] = finalizers
        if not finalizers and updated["metadata"].get("deletionTimestamp"):
            self.cluster.delete("Service", name, namespace)
        else:
            self.cluster.put(updated)

    def add_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self.finalizer_calls.append(("add", namespace, name))
        self._edit(namespace, name, finalizer, add=True)

    def remove_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self.finalizer_calls.append(("remove", namespace, name))
        self._edit(namespace, name, finalizer, add=False)


def converge(
    cluster: FakeCluster, backend: FakeBackend, *specs: LoadBalancerSpec
) -> tuple[lbs.LbReport, FakeServiceStatus]:
    kube = FakeServiceStatus(cluster)
    report = converge_load_balancers(
        specs=specs,
        owner_id=OWNER,
        cluster_name=CLUSTER,
        state=cluster,
        backend=backend,
        kube=kube,
        events=cluster,
        now=NOW,
    )
    return report, kube


def decide(
    specs: Sequence[LoadBalancerSpec],
    services: Sequence[dict[str, Any]],
    owned: Sequence[LoadBalancerState] = (),
) -> dict[str, lbs.LbDecision]:
    decisions = decide_load_balancers(
        specs=specs,
        services=[ServiceDict(**s) for s in services],  # type: ignore[typeddict-item]
        owned=owned,
        owner_id=OWNER,
        cluster_name=CLUSTER,
    )
    return {d.fleet: d for d in decisions}


# --- pure decisions -------------------------------------------------------------------------


def test_scheme_for_visibility() -> None:
    assert scheme_for_visibility("public") is Scheme.INTERNET_FACING
    assert scheme_for_visibility("private") is Scheme.INTERNAL
    with pytest.raises(ValueError, match="public or private"):
        scheme_for_visibility("internal")


def test_desired_status_is_the_dns_name() -> None:
    assert desired_service_status(lb_state()) == (
        {"hostname": "ir-public.elb.us-east-1.amazonaws.com"},
    )
    assert desired_service_status(replace(lb_state(), dns_name="")) == ()


@pytest.mark.parametrize(
    ("name", "specs", "services", "owned", "expected"),
    [
        ("new fleet", [spec()], [service()], [], (LbAction.ENSURE, True)),
        (
            "steady",
            [spec()],
            [service(finalizers=[FINALIZER])],
            [lb_state()],
            (LbAction.ENSURE, False),
        ),
        ("no service yet", [spec()], [], [], (LbAction.WAIT, False)),
        ("no service yet, nlb kept", [spec()], [], [lb_state()], (LbAction.WAIT, False)),
        (
            "service deleted",
            [spec()],
            [service(finalizers=[FINALIZER], deleting=True)],
            [lb_state()],
            (LbAction.RELEASE, False),
        ),
        (
            "fleet removed, service going",
            [],
            [service(finalizers=[FINALIZER], deleting=True)],
            [lb_state()],
            (LbAction.RELEASE, False),
        ),
        (
            "fleet left elbv2 mode",
            [],
            [service(finalizers=[FINALIZER])],
            [lb_state()],
            (LbAction.RELEASE, False),
        ),
        ("orphan nlb", [], [], [lb_state()], (LbAction.DELETE_ORPHAN, False)),
        (
            "annotation flip refused",
            [spec(scheme=Scheme.INTERNAL)],
            [service(finalizers=[FINALIZER])],
            [lb_state()],
            (LbAction.REFUSE, False),
        ),
        (
            "nlb scheme differs",
            [spec(scheme=Scheme.INTERNAL)],
            [service(scheme=None)],
            [lb_state()],
            (LbAction.REFUSE, True),
        ),
        (
            "annotation differs, no nlb",
            [spec(scheme=Scheme.INTERNAL)],
            [service()],
            [],
            (LbAction.REFUSE, False),
        ),
    ],
)
def test_decisions(
    name: str,
    specs: list[LoadBalancerSpec],
    services: list[dict[str, Any]],
    owned: list[LoadBalancerState],
    expected: tuple[LbAction, bool],
) -> None:
    action, needs_finalizer = expected
    decision = decide(specs, services, owned)["public"]
    assert decision.action is action, name
    assert decision.needs_finalizer is needs_finalizer, name


@pytest.mark.parametrize(
    "svc",
    [
        service(owner="someone-else"),
        service(managed=False),
        service(type_="ClusterIP"),
        service(owner="someone-else", finalizers=[FINALIZER], deleting=True),
    ],
    ids=["other owner", "not managed", "not a load balancer", "other owner deleting"],
)
def test_services_not_ours_are_ignored(svc: dict[str, Any]) -> None:
    assert decide([spec()], [svc])["public"].action is LbAction.WAIT
    assert decide([], [svc]) == {}


def test_service_without_finalizer_and_without_spec_keeps_its_nlb() -> None:
    # e.g. a fleet switched to service-annotations mode before it ever got our finalizer
    assert decide([], [service()], [lb_state()]) == {}


def test_decisions_do_not_depend_on_input_order_nor_mutate_inputs() -> None:
    specs = [spec("a"), spec("b", Scheme.INTERNAL), spec("c")]
    services = [
        service("a", finalizers=[FINALIZER]),
        service("b", scheme="internal"),
        service("d", finalizers=[FINALIZER], deleting=True),
    ]
    owned = [lb_state("a"), lb_state("d"), lb_state("e")]
    snapshot = copy.deepcopy(services)
    first = decide_load_balancers(
        specs=specs,
        services=services,  # type: ignore[arg-type]
        owned=owned,
        owner_id=OWNER,
        cluster_name=CLUSTER,
    )
    rng = random.Random(7)
    for _ in range(5):
        rng.shuffle(specs)
        rng.shuffle(services)
        rng.shuffle(owned)
        again = decide_load_balancers(
            specs=specs,
            services=services,  # type: ignore[arg-type]
            owned=owned,
            owner_id=OWNER,
            cluster_name=CLUSTER,
        )
        assert again == first
    assert sorted(services, key=lambda s: s["metadata"]["name"]) == sorted(
        snapshot, key=lambda s: s["metadata"]["name"]
    )
    assert [(d.fleet, d.action) for d in first] == [
        ("a", LbAction.ENSURE),
        ("b", LbAction.ENSURE),
        ("c", LbAction.WAIT),
        ("d", LbAction.RELEASE),
        ("e", LbAction.DELETE_ORPHAN),
    ]


def test_release_of_unconfigured_fleet_rebuilds_its_spec_from_the_tags() -> None:
    decision = decide([], [], [lb_state("gone", "internal")])["gone"]
    assert decision.spec.fleet == "gone"
    assert decision.spec.scheme is Scheme.INTERNAL
    assert decision.spec.owner_id == OWNER
    assert decision.spec.cluster_name == CLUSTER


fleet_names = st.sampled_from(["a", "b", "c"])
service_strategy = st.builds(
    service,
    fleet_names,
    scheme=st.sampled_from(["internet-facing", "internal", None]),
    owner=st.sampled_from([OWNER, "other"]),
    finalizers=st.sampled_from([(), (FINALIZER,), ("example.com/x",)]),
    deleting=st.booleans(),
    type_=st.sampled_from(["LoadBalancer", "ClusterIP"]),
    managed=st.booleans(),
    lb_class=st.sampled_from([LOAD_BALANCER_CLASS, None]),
)
spec_strategy = st.builds(
    spec, fleet_names, st.sampled_from([Scheme.INTERNET_FACING, Scheme.INTERNAL])
)
state_strategy = st.builds(lb_state, fleet_names, st.sampled_from(["internet-facing", "internal"]))


@given(
    specs=st.lists(spec_strategy, max_size=3, unique_by=lambda s: s.fleet),
    services=st.lists(service_strategy, max_size=4, unique_by=lambda s: s["metadata"]["name"]),
    owned=st.lists(state_strategy, max_size=3, unique_by=lambda s: s.fleet),
)
def test_decision_invariants(
    specs: list[LoadBalancerSpec],
    services: list[dict[str, Any]],
    owned: list[LoadBalancerState],
) -> None:
    decisions = decide(specs, services, owned)
    ours = {
        (s["metadata"]["namespace"], s["metadata"]["name"]): s
        for s in services
        if s["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "ingress-reconciler"
        and s["metadata"]["labels"]["ingress-reconciler.io/owner"] == OWNER
        and s["spec"]["type"] == "LoadBalancer"
    }
    configured = {s.fleet: s for s in specs}
    for fleet, decision in decisions.items():
        # only our Services are ever written
        for ref in (decision.service, *decision.stale):
            if ref is not None:
                assert (ref.namespace, ref.name) in ours
        live = [
            s
            for s in ours.values()
            if s["metadata"]["labels"]["ingress-reconciler.io/fleet"] == fleet
            and "deletionTimestamp" not in s["metadata"]
        ]
        if decision.action in (LbAction.RELEASE, LbAction.DELETE_ORPHAN):
            # never delete the load balancer of a configured fleet that has a live Service
            assert not (fleet in configured and live)
        if decision.action is LbAction.DELETE_ORPHAN:
            assert fleet not in configured
            assert decision.existing is not None
            assert not any(
                s["metadata"]["labels"]["ingress-reconciler.io/fleet"] == fleet
                for s in ours.values()
            )
        if decision.action is LbAction.ENSURE:
            # only Services of our load-balancer class get an NLB
            assert decision.service is not None
            served = ours[(decision.service.namespace, decision.service.name)]
            assert served["spec"].get("loadBalancerClass") == LOAD_BALANCER_CLASS
            # never ensure against the scheme of an existing load balancer
            assert decision.existing is None or decision.existing.scheme == decision.spec.scheme
            assert decision.spec == configured[fleet]


# --- converge ---------------------------------------------------------------------------------


def test_first_pass_adds_finalizer_creates_nlb_and_publishes() -> None:
    cluster = FakeCluster([service()])
    backend = FakeBackend()

    report, _ = converge(cluster, backend, spec())

    assert report.created == ("public",)
    assert report.finalizers_added == ("public",)
    assert report.status_written == ("public",)
    stored = cluster.get("Service", "public-controller", "ingress-public")
    assert stored is not None
    assert stored["metadata"]["finalizers"] == [FINALIZER]
    assert stored["status"]["loadBalancer"]["ingress"] == [
        {"hostname": "ir-public.elb.us-east-1.amazonaws.com"}
    ]
    assert [e.reason for e in cluster.events] == ["LoadBalancerCreated"]


def test_second_pass_writes_nothing() -> None:
    cluster = FakeCluster([service()])
    backend = FakeBackend()
    converge(cluster, backend, spec())
    patches = len(cluster.status_patches)
    events = len(cluster.events)

    report, kube = converge(cluster, backend, spec())

    assert report.ensured == ("public",)
    assert report.status_written == ()
    assert report.created == ()
    assert kube.finalizer_calls == []
    assert len(cluster.status_patches) == patches
    assert len(cluster.events) == events


def test_changed_dns_name_is_republished_whole() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER], hostname="old.elb.example")])
    backend = FakeBackend(lb_state())

    report, _ = converge(cluster, backend, spec())

    assert report.status_written == ("public",)
    assert cluster.status_patches[-1][3] == [{"hostname": "ir-public.elb.us-east-1.amazonaws.com"}]


def test_deleting_service_deletes_nlb_then_drops_finalizer() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER], deleting=True)])
    backend = FakeBackend(lb_state())

    report, kube = converge(cluster, backend)

    assert report.deleted == ("public",)
    assert backend.calls == [("owned", ""), ("delete", "public")]
    assert kube.finalizer_calls == [("remove", "ingress-public", "public-controller")]
    assert cluster.get("Service", "public-controller", "ingress-public") is None
    assert [e.reason for e in cluster.events] == ["LoadBalancerDeleted"]


def test_finalizer_kept_while_deletion_is_in_progress() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER], deleting=True)])
    backend = FakeBackend(lb_state())
    backend.delete_finishes = False

    report, kube = converge(cluster, backend)

    assert report.pending == ("public",)
    assert kube.finalizer_calls == []
    assert cluster.get("Service", "public-controller", "ingress-public") is not None


def test_failed_deletion_keeps_the_finalizer_and_reports() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER], deleting=True)])
    backend = FakeBackend(lb_state())
    backend.fail["delete"] = TransientProviderError("Throttling", provider="elbv2")

    report, kube = converge(cluster, backend)

    assert not report.ok
    assert report.failed[0].transient is True
    assert kube.finalizer_calls == []
    assert [e.reason for e in cluster.events] == ["LoadBalancerFailed"]


def test_renamed_service_keeps_the_nlb_and_frees_the_old_one() -> None:
    old = service(finalizers=[FINALIZER], deleting=True)
    old["metadata"]["name"] = "old-controller"
    cluster = FakeCluster([old, service(finalizers=[FINALIZER])])
    backend = FakeBackend(lb_state())

    report, kube = converge(cluster, backend, spec())

    assert report.deleted == ()
    assert ("delete", "public") not in backend.calls
    assert kube.finalizer_calls == [("remove", "ingress-public", "old-controller")]
    assert cluster.get("Service", "old-controller", "ingress-public") is None
    assert "public" in backend.balancers


def test_orphan_nlb_is_deleted() -> None:
    cluster = FakeCluster()
    backend = FakeBackend(lb_state("gone"))

    report, _ = converge(cluster, backend)

    assert report.deleted == ("gone",)
    assert backend.balancers == {}


def test_scheme_flip_refused_with_warning_and_existing_address_kept() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER])])
    backend = FakeBackend(lb_state())

    report, _ = converge(cluster, backend, spec(scheme=Scheme.INTERNAL))

    assert [r.reason for r in report.refused] == ["SchemeChangeRefused"]
    assert ("ensure", "public") not in backend.calls
    (event,) = cluster.events
    assert event.reason == "SchemeChangeRefused"
    assert str(event.type) == "Warning"
    assert event.regarding.name == "public-controller"
    assert "delete the Service" in event.note
    stored = cluster.get("Service", "public-controller", "ingress-public")
    assert stored is not None
    assert stored["status"]["loadBalancer"]["ingress"] == [
        {"hostname": "ir-public.elb.us-east-1.amazonaws.com"}
    ]


@pytest.mark.parametrize("lb_class", [None, "service.k8s.aws/nlb"])
def test_service_of_another_load_balancer_class_gets_nothing_from_us(lb_class: str | None) -> None:
    # e.g. the fleet switched to elbv2 mode but the fleet stage refused the (immutable) class
    cluster = FakeCluster([service(lb_class=lb_class, hostname="k8s-aws-lbc.elb.example")])
    backend = FakeBackend(lb_state())

    report, kube = converge(cluster, backend, spec())

    assert [r.reason for r in report.refused] == [CLASS_MISMATCH_REFUSED]
    assert backend.calls == [("owned", "")]
    assert kube.finalizer_calls == []
    assert cluster.status_patches == []
    (event,) = cluster.events
    assert event.reason == CLASS_MISMATCH_REFUSED
    assert "delete the Service" in event.note


def test_one_failing_fleet_does_not_stop_the_others() -> None:
    cluster = FakeCluster([service("a"), service("b")])
    backend = FakeBackend()
    backend.fail_fleets["a"] = PermanentProviderError("no subnet", provider="elbv2")

    report, _ = converge(cluster, backend, spec("a"), spec("b"))

    assert [f.fleet for f in report.failed] == ["a"]
    assert report.failed[0].transient is False
    assert report.created == ("b",)
    reasons = sorted((e.regarding.name, e.reason) for e in cluster.events)
    assert reasons == [
        ("a-controller", "LoadBalancerFailed"),
        ("b-controller", "LoadBalancerCreated"),
    ]


def test_unlistable_backend_stops_the_stage_before_any_change() -> None:
    cluster = FakeCluster([service(finalizers=[FINALIZER], deleting=True), service("b")])
    backend = FakeBackend(lb_state())
    backend.fail["owned"] = TransientProviderError("timeout", provider="elbv2")

    report, kube = converge(cluster, backend, spec("b"))

    assert [f.fleet for f in report.failed] == ["b"]
    assert backend.calls == [("owned", "")]
    assert kube.finalizer_calls == []
    assert cluster.status_patches == []


def test_exported_surface() -> None:
    assert set(lbs.__all__) == {
        "CLASS_MISMATCH_REFUSED",
        "SCHEME_CHANGE_REFUSED",
        "CLUSTER_TAG_KEY",
        "FLEET_TAG_KEY",
        "OWNER_TAG_KEY",
        "LbAction",
        "LbDecision",
        "LbFailure",
        "ServiceStatusWriter",
        "LbRefusal",
        "LbReport",
        "LoadBalancerBackend",
        "LoadBalancerPort",
        "LoadBalancerSpec",
        "LoadBalancerState",
        "Scheme",
        "converge_load_balancers",
        "decide_load_balancers",
        "desired_service_status",
        "fleet_services",
        "scheme_for_visibility",
        "service_status",
    }
    assert undocumented(lbs) == []


def test_every_log_line_is_emittable(caplog: pytest.LogCaptureFixture) -> None:
    # extra keys that clash with LogRecord attributes (created, name, msg...) raise at emit time
    caplog.set_level(logging.DEBUG, logger="reconciler.fleets.load_balancers")
    cluster = FakeCluster([service("a"), service("b", finalizers=[FINALIZER])])
    backend = FakeBackend(lb_state("b"), lb_state("orphan"))
    converge(cluster, backend, spec("a"), spec("b", Scheme.INTERNAL))
    backend.fail_fleets["a"] = TransientProviderError("Throttling", provider="elbv2")
    converge(cluster, backend, spec("a"))
    backend.fail["owned"] = TransientProviderError("timeout", provider="elbv2")
    converge(cluster, backend, spec("a"))

    messages = {r.getMessage() for r in caplog.records}
    assert {
        "load balancer address published",
        "load balancer change refused",
        "load balancer deleted",
        "load balancer reconcile failed",
        "load balancers unavailable",
        "load balancers reconciled",
    } <= messages
