"""Fleets: spec validation, the pure desired objects, converge (apply, refuse, delete) and the class
findings, on the FakeCluster double."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.fleets import spec as fleets
from reconciler.fleets.converge import (
    DELETE_ORDER,
    FleetReport,
    converge_fleets,
    find_class_problems,
)
from reconciler.fleets.objects import desired_fleet_objects
from reconciler.fleets.options import Autoscaling, ControllerOptions, WorkloadShape
from reconciler.fleets.spec import (
    DEFAULT_CLASS_ANNOTATION,
    ELBV2_LOAD_BALANCER_CLASS,
    LABEL_FLEET,
    LABEL_MANAGED_BY,
    LABEL_OWNER,
    LB_TYPE_ANNOTATION,
    SCHEME_ANNOTATION,
    TARGET_TYPE_ANNOTATION,
    FleetGateway,
    FleetPort,
    FleetSpec,
    LoadBalancerMode,
    Reason,
    TargetType,
    fleet_labels,
    fleet_service_address,
    is_owned,
)
from reconciler.kube.fake import FakeCluster
from reconciler.kube.fleet_objects import FLEET_KINDS, owned_selector
from reconciler.model.cluster import EventType, JsonObject, ObjectRef
from reconciler.model.errors import ConfigError, KubernetesError
from reconciler.model.ingress import Visibility
from reconciler.model.k8s_json import IngressClassDict, IngressDict
from reconciler.model.load_balancer import scheme_for_visibility
from tests.doubles import undocumented

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)
OWNER = "cluster-a"

PUBLIC = FleetSpec.of(
    name="public", ingress_class_name="public", visibility="public", namespace="ingress-public"
)
PRIVATE = FleetSpec.of(
    name="private",
    ingress_class_name="private",
    visibility="private",
    namespace="ingress-private",
    lb_mode="elbv2",
    target_type="instance",
    profile="ingress-nginx",
)


class FakeFleetObjects:
    """FleetObjectWriter over a FakeCluster: apply and delete act on its objects."""

    def __init__(self, cluster: FakeCluster, *, failing_kinds: Sequence[str] = ()) -> None:
        self.cluster = cluster
        self.failing_kinds = set(failing_kinds)
        self.deleted: list[ObjectRef] = []
        self.gets: list[ObjectRef] = []

    def apply(self, obj: Mapping[str, Any]) -> JsonObject:
        if obj["kind"] in self.failing_kinds:
            raise KubernetesError("PATCH: 422 Invalid", status=422)
        return self.cluster.apply(obj)

    def list_owned(self, owner_id: str) -> Sequence[JsonObject]:
        return [o for o in self.cluster.objects.values() if is_owned(o, owner_id)]

    def delete(self, ref: ObjectRef) -> None:
        self.deleted.append(ref)
        self.cluster.delete(ref.kind, ref.name, ref.namespace)

    def get(self, ref: ObjectRef) -> JsonObject | None:
        self.gets.append(ref)
        return self.cluster.get(ref.kind, ref.name, ref.namespace)


def converge(
    cluster: FakeCluster, *specs: FleetSpec, kube: FakeFleetObjects | None = None
) -> FleetReport:
    return converge_fleets(
        specs=specs,
        owner_id=OWNER,
        state=cluster,
        kube=kube or FakeFleetObjects(cluster),
        events=cluster,
        now=NOW,
    )


def by_kind(objs: Sequence[JsonObject]) -> dict[str, JsonObject]:
    return {o["kind"]: o for o in objs}


def ingress(name: str, class_name: str | None, namespace: str = "app") -> IngressDict:
    spec: dict[str, Any] = {"rules": [{"host": f"{name}.example.test"}]}
    if class_name is not None:
        spec["ingressClassName"] = class_name
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    return cast(IngressDict, obj)


def ingress_class(
    name: str, controller: str, *, default: bool = False, created: str = "2026-01-01T00:00:00Z"
) -> IngressClassDict:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if default:
        meta["annotations"] = {DEFAULT_CLASS_ANNOTATION: "true"}
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": meta,
        "spec": {"controller": controller},
    }
    return cast(IngressClassDict, obj)


# --- surface and spec ----------------------------------------------------------------------------


def test_exported_names_exist_and_have_docstrings() -> None:
    assert undocumented(fleets) == []


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"name": "Public_1"}, r"fleets\[Public_1\]\.name"),
        ({"name": "a" * 56}, r"\.name: .* at most 55 characters"),
        ({"ingress_class_name": "Bad Class"}, r"\.ingressClassName"),
        ({"namespace": "ns/x"}, r"\.namespace"),
        ({"visibility": "internet"}, r"\.visibility: 'internet' must be 'public' or 'private'"),
        ({"lb_mode": "nlb"}, r"\.loadBalancer\.mode"),
        ({"target_type": "alb"}, r"\.loadBalancer\.targetType"),
        ({"profile": "haproxy"}, r"\.profile: unknown controller profile"),
        ({"replicas": -1}, r"\.replicas"),
        ({"ports": ()}, r"\.ports: a fleet needs at least one port"),
        ({"ports": (FleetPort("http", 80, 80), FleetPort("http", 81, 81))}, r"\.ports: .*unique"),
        ({"ports": (FleetPort("a", 80, 80), FleetPort("b", 80, 81))}, r"\.ports: .*unique"),
        ({"ports": (FleetPort("http", 70000, 80),)}, r"\.ports\[http\]\.port"),
    ],
)
def test_spec_validation_names_the_key(overrides: dict[str, Any], key: str) -> None:
    args: dict[str, Any] = {
        "name": "public",
        "ingress_class_name": "public",
        "visibility": "public",
        "namespace": "ingress-public",
        **overrides,
    }
    with pytest.raises(ConfigError, match=key):
        FleetSpec.of(**args)


def test_spec_defaults_and_enums() -> None:
    assert PUBLIC.visibility is Visibility.PUBLIC
    assert PUBLIC.lb_mode is LoadBalancerMode.SERVICE_ANNOTATIONS
    assert PUBLIC.target_type is TargetType.IP
    assert PUBLIC.profile == "traefik"
    assert PUBLIC.replicas == 2
    assert [p.port for p in PUBLIC.ports] == [80, 443]
    assert PRIVATE.lb_mode is LoadBalancerMode.ELBV2
    assert scheme_for_visibility("public") == "internet-facing"
    assert scheme_for_visibility(Visibility.PRIVATE) == "internal"


# --- desired objects -----------------------------------------------------------------------------


def test_desired_objects_are_the_fleet_kinds_in_apply_order() -> None:
    objs = desired_fleet_objects(PUBLIC, owner_id=OWNER)
    # traefik: no Role (no leader election, no namespaced rights), no ConfigMap without options
    assert [o["kind"] for o in objs] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "IngressClass",
        "Deployment",
        "Service",
    ]
    # ingress-nginx: its leader-election Role and its controller ConfigMap
    assert [o["kind"] for o in desired_fleet_objects(PRIVATE, owner_id=OWNER)] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "IngressClass",
        "ConfigMap",
        "Deployment",
        "Service",
    ]
    for obj in objs:
        assert obj["metadata"]["labels"] == fleet_labels("public", OWNER)
        assert "finalizers" not in obj["metadata"]
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding", "IngressClass"):
            assert obj["metadata"]["namespace"] == "ingress-public"
    json.dumps(objs)  # plain JSON, ready to send


def test_desired_objects_are_pure() -> None:
    first = desired_fleet_objects(PUBLIC, owner_id=OWNER)
    snapshot = copy.deepcopy(first)
    assert desired_fleet_objects(PUBLIC, owner_id=OWNER) == snapshot
    assert desired_fleet_objects(PUBLIC, owner_id="cluster-b") != snapshot


def test_ingress_class_controller_is_per_fleet_and_default_is_an_annotation() -> None:
    public = by_kind(desired_fleet_objects(PUBLIC, owner_id=OWNER))["IngressClass"]
    private = by_kind(desired_fleet_objects(PRIVATE, owner_id=OWNER))["IngressClass"]
    assert public["metadata"]["name"] == "public"
    assert public["spec"] == {"controller": "ingress-reconciler.io/public"}
    assert private["spec"] == {"controller": "ingress-reconciler.io/private"}
    assert "annotations" not in public["metadata"]
    default = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        is_default=True,
    )
    cls = by_kind(desired_fleet_objects(default, owner_id=OWNER))["IngressClass"]
    assert cls["metadata"]["annotations"] == {DEFAULT_CLASS_ANNOTATION: "true"}


@pytest.mark.parametrize(
    ("spec", "scheme", "target", "lb_class"),
    [
        (PUBLIC, "internet-facing", "ip", None),
        (PRIVATE, "internal", "instance", ELBV2_LOAD_BALANCER_CLASS),
    ],
)
def test_service_annotations_scheme_target_and_class(
    spec: FleetSpec, scheme: str, target: str, lb_class: str | None
) -> None:
    svc = by_kind(desired_fleet_objects(spec, owner_id=OWNER))["Service"]
    assert svc["metadata"]["annotations"] == {
        SCHEME_ANNOTATION: scheme,
        LB_TYPE_ANNOTATION: "external",
        TARGET_TYPE_ANNOTATION: target,
    }
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"].get("loadBalancerClass") == lb_class
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"},
    ]


def test_extra_annotations_are_added_but_never_override_the_scheme() -> None:
    spec = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        extra_annotations={SCHEME_ANNOTATION: "internal", "example.test/team": "web"},
    )
    annotations = by_kind(desired_fleet_objects(spec, owner_id=OWNER))["Service"]["metadata"][
        "annotations"
    ]
    assert annotations[SCHEME_ANNOTATION] == "internet-facing"
    assert annotations["example.test/team"] == "web"


def test_deployment_runs_the_profile_with_its_service_account_and_selector() -> None:
    objs = by_kind(desired_fleet_objects(PRIVATE, owner_id=OWNER))
    dep = objs["Deployment"]
    pod = dep["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert dep["spec"]["replicas"] == 2
    assert container["image"].startswith("registry.k8s.io/ingress-nginx/controller:v1.15.1@")
    assert "--controller-class=ingress-reconciler.io/private" in container["args"]
    assert "--ingress-class=private" in container["args"]
    assert "--election-id=ingress-reconciler-private" in container["args"]
    assert pod["spec"]["serviceAccountName"] == objs["ServiceAccount"]["metadata"]["name"]
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert objs["Service"]["spec"]["selector"] == selector
    # both bindings grant their role to the fleet's ServiceAccount
    subject = {"kind": "ServiceAccount", "name": "ingress-private", "namespace": "ingress-private"}
    assert objs["RoleBinding"]["subjects"] == [subject]
    assert objs["ClusterRoleBinding"]["subjects"] == [subject]
    assert objs["ClusterRoleBinding"]["roleRef"]["name"] == objs["ClusterRole"]["metadata"]["name"]
    assert objs["RoleBinding"]["roleRef"]["name"] == objs["Role"]["metadata"]["name"]


def test_image_override() -> None:
    spec = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        image="mirror.example.test/nginx:v1",
        replicas=3,
    )
    dep = by_kind(desired_fleet_objects(spec, owner_id=OWNER))["Deployment"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "mirror.example.test/nginx:v1"
    )
    assert dep["spec"]["replicas"] == 3


# --- converge ------------------------------------------------------------------------------------


def test_first_pass_creates_everything_and_second_pass_changes_nothing() -> None:
    cluster = FakeCluster()
    first = converge(cluster, PUBLIC, PRIVATE)
    total = len(desired_fleet_objects(PUBLIC, owner_id=OWNER)) + len(
        desired_fleet_objects(PRIVATE, owner_id=OWNER)
    )
    assert total == 17
    assert len(first.applied) == total
    assert len(first.changed) == total
    assert first.ok
    assert not first.refused
    assert not first.deleted
    assert cluster.get("IngressClass", "public") is not None
    assert cluster.get("Service", "ingress-private", "ingress-private") is not None
    second = converge(cluster, PUBLIC, PRIVATE)
    assert len(second.applied) == total
    assert second.changed == ()
    assert cluster.events == []


def test_drift_is_set_back_on_the_next_pass() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC)
    svc = copy.deepcopy(cluster.get("Service", "ingress-public", "ingress-public"))
    assert svc is not None
    svc["metadata"]["annotations"][TARGET_TYPE_ANNOTATION] = "instance"
    svc["spec"]["ports"] = svc["spec"]["ports"][:1]
    cluster.put(svc)
    report = converge(cluster, PUBLIC)
    assert [r.kind for r in report.changed] == ["Service"]
    fixed = cluster.get("Service", "ingress-public", "ingress-public")
    assert fixed is not None
    assert fixed["metadata"]["annotations"][TARGET_TYPE_ANNOTATION] == "ip"
    assert len(fixed["spec"]["ports"]) == 2


def test_scheme_flip_is_refused_with_a_warning_on_the_service() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC)
    flipped = FleetSpec.of(
        name="public", ingress_class_name="public", visibility="private", namespace="ingress-public"
    )
    report = converge(cluster, flipped)
    assert [(r.reason, r.ref.kind, r.fleet) for r in report.refused] == [
        (Reason.SCHEME_CHANGE_REFUSED, "Service", "public")
    ]
    svc = cluster.get("Service", "ingress-public", "ingress-public")
    assert svc is not None
    assert svc["metadata"]["annotations"][SCHEME_ANNOTATION] == "internet-facing"
    assert "Service" not in {r.kind for r in report.applied}
    assert len(report.applied) == 6  # the rest of the fleet still converges
    [event] = cluster.events
    assert event.type is EventType.WARNING
    assert event.reason == "SchemeChangeRefused"
    assert event.regarding.name == "ingress-public"
    assert "docs/fleets.md" in event.note


def test_load_balancer_mode_change_is_refused() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC)
    elbv2 = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        lb_mode="elbv2",
    )
    report = converge(cluster, elbv2)
    assert [r.reason for r in report.refused] == [Reason.LOAD_BALANCER_MODE_CHANGE_REFUSED]
    svc = cluster.get("Service", "ingress-public", "ingress-public")
    assert svc is not None
    assert "loadBalancerClass" not in svc["spec"]


def test_leaving_elbv2_mode_is_refused_too() -> None:
    elbv2 = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        lb_mode="elbv2",
    )
    cluster = FakeCluster()
    converge(cluster, elbv2)
    report = converge(cluster, PUBLIC)
    assert [r.reason for r in report.refused] == [Reason.LOAD_BALANCER_MODE_CHANGE_REFUSED]


def test_a_class_set_by_the_aws_load_balancer_controller_webhook_is_not_a_mode_change() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC)
    svc = copy.deepcopy(cluster.get("Service", "ingress-public", "ingress-public"))
    assert svc is not None
    svc["spec"]["loadBalancerClass"] = "service.k8s.aws/nlb"
    cluster.put(svc)
    report = converge(cluster, PUBLIC)
    assert report.refused == ()
    assert "Service" in {r.kind for r in report.applied}


def test_ingress_class_with_a_foreign_controller_is_refused_never_deleted() -> None:
    foreign = ingress_class("public", "k8s.io/ingress-nginx")
    cluster = FakeCluster([foreign])
    report = converge(cluster, PUBLIC)
    assert [(r.reason, r.ref.kind, r.ref.name) for r in report.refused] == [
        (Reason.INGRESS_CLASS_CONTROLLER_CONFLICT, "IngressClass", "public")
    ]
    kept = cluster.get("IngressClass", "public")
    assert kept is not None
    assert kept["spec"]["controller"] == "k8s.io/ingress-nginx"
    assert report.deleted == ()
    assert [e.reason for e in cluster.events] == ["IngressClassControllerConflict"]
    assert cluster.events[0].regarding.kind == "IngressClass"


def test_same_named_objects_without_our_labels_are_left_alone() -> None:
    theirs_svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ingress-public", "namespace": "ingress-public"},
        "spec": {"type": "ClusterIP"},
    }
    other_owner = ingress_class("public", "ingress-reconciler.io/public")
    other_owner["metadata"]["labels"] = fleet_labels("public", "cluster-b")
    cluster = FakeCluster([theirs_svc, other_owner])
    report = converge(cluster, PUBLIC)
    assert sorted((r.reason, r.ref.kind) for r in report.refused) == [
        (Reason.OBJECT_NOT_OWNED, "IngressClass"),
        (Reason.OBJECT_NOT_OWNED, "Service"),
    ]
    svc = cluster.get("Service", "ingress-public", "ingress-public")
    assert svc is not None
    assert svc["spec"] == {"type": "ClusterIP"}
    cls = cluster.get("IngressClass", "public")
    assert cls is not None
    assert cls["metadata"]["labels"][LABEL_OWNER] == "cluster-b"


def test_uncached_kinds_are_read_before_creation_and_foreign_ones_refused() -> None:
    theirs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ingress-public", "namespace": "ingress-public"},
        "spec": {"replicas": 1},
    }
    cluster = FakeCluster([theirs])
    kube = FakeFleetObjects(cluster)
    report = converge(cluster, PUBLIC, kube=kube)
    assert [(r.reason, r.ref.kind) for r in report.refused] == [
        (Reason.OBJECT_NOT_OWNED, "Deployment")
    ]
    dep = cluster.get("Deployment", "ingress-public", "ingress-public")
    assert dep is not None
    assert dep["spec"] == {"replicas": 1}
    # read only what the caches do not serve, and only while it is not ours yet
    assert sorted(r.kind for r in kube.gets) == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "ServiceAccount",
    ]
    kube.gets.clear()
    converge(cluster, PUBLIC, kube=kube)
    assert [r.kind for r in kube.gets] == ["Deployment"]


def test_a_namespace_made_by_someone_else_is_used_as_is() -> None:
    theirs = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ingress-public"}}
    cluster = FakeCluster([theirs])
    report = converge(cluster, PUBLIC)
    assert "Namespace" not in {r.kind for r in report.applied}
    assert len(report.applied) == 6
    assert not report.refused
    ns = cluster.get("Namespace", "ingress-public")
    assert ns is not None
    assert "labels" not in ns["metadata"]
    # removing the fleet never deletes that namespace
    converge(cluster)
    converge(cluster)
    assert cluster.get("Namespace", "ingress-public") is not None


def test_removed_fleet_objects_are_deleted_service_first_namespace_on_a_later_pass() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC, PRIVATE)
    kube = FakeFleetObjects(cluster)
    report = converge(cluster, PUBLIC, kube=kube)
    assert [r.kind for r in kube.deleted] == [
        "Service",
        "Deployment",
        "ConfigMap",
        "RoleBinding",
        "Role",
        "ClusterRoleBinding",
        "ClusterRole",
        "ServiceAccount",
        "IngressClass",
    ]
    names = {"ingress-private", "ingress-reconciler-private", "private"}
    assert {r.name for r in kube.deleted} <= names
    assert [(r.kind, r.name) for r in report.pending] == [("Namespace", "ingress-private")]
    again = converge(cluster, PUBLIC, kube=kube)
    assert [(r.kind, r.name) for r in again.deleted] == [("Namespace", "ingress-private")]
    assert cluster.get("Namespace", "ingress-private") is None
    assert cluster.get("Namespace", "ingress-public") is not None
    fleets_left = {
        o["metadata"].get("labels", {}).get(LABEL_FLEET) for o in cluster.objects.values()
    }
    assert fleets_left == {"public"}
    # no finding for the class that was just deleted
    assert not [f for f in report.findings if f.reason is Reason.INGRESS_CLASS_WITHOUT_FLEET]


def test_terminating_service_waits_and_blocks_its_namespace() -> None:
    cluster = FakeCluster()
    converge(cluster, PRIVATE)
    svc = copy.deepcopy(cluster.get("Service", "ingress-private", "ingress-private"))
    assert svc is not None
    svc["metadata"]["deletionTimestamp"] = "2026-11-21T06:00:00Z"
    svc["metadata"]["finalizers"] = ["ingress-reconciler.io/load-balancer"]
    cluster.put(svc)
    # still configured: a terminating Service is not re-applied
    report = converge(cluster, PRIVATE)
    assert ("Service", "ingress-private") in [(r.kind, r.name) for r in report.pending]
    # removed: the Service is not deleted again, its namespace waits
    kube = FakeFleetObjects(cluster)
    report = converge(cluster, kube=kube)
    assert "Service" not in [r.kind for r in kube.deleted]
    assert sorted((r.kind, r.name) for r in report.pending) == [
        ("Namespace", "ingress-private"),
        ("Service", "ingress-private"),
    ]


def test_objects_of_another_owner_are_never_deleted() -> None:
    cluster = FakeCluster()
    converge(cluster, PUBLIC)
    report = converge_fleets(
        specs=(),
        owner_id="cluster-b",
        state=cluster,
        kube=FakeFleetObjects(cluster),
        events=cluster,
        now=NOW,
    )
    assert report.deleted == ()
    assert len(cluster.objects) == 7


def test_fleets_sharing_a_namespace_apply_it_once() -> None:
    other = FleetSpec.of(
        name="internal",
        ingress_class_name="internal",
        visibility="private",
        namespace="ingress-public",
    )
    cluster = FakeCluster()
    report = converge(cluster, PUBLIC, other)
    assert [r.name for r in report.applied if r.kind == "Namespace"] == ["ingress-public"]
    ns = cluster.get("Namespace", "ingress-public")
    assert ns is not None
    assert ns["metadata"]["labels"][LABEL_FLEET] == "internal"
    # removing one fleet keeps the namespace the other still uses
    converge(cluster, PUBLIC)
    converge(cluster, PUBLIC)
    assert cluster.get("Namespace", "ingress-public") is not None
    assert cluster.get("Deployment", "ingress-public", "ingress-public") is not None
    assert cluster.get("Deployment", "ingress-internal", "ingress-public") is None


def test_a_failed_apply_is_reported_and_the_rest_goes_on() -> None:
    cluster = FakeCluster()
    report = converge(cluster, PUBLIC, kube=FakeFleetObjects(cluster, failing_kinds=["Deployment"]))
    assert not report.ok
    [error] = report.errors
    assert error.ref.kind == "Deployment"
    assert "422" in error.message
    assert not error.transient
    assert cluster.get("Service", "ingress-public", "ingress-public") is not None


def test_nothing_is_done_before_the_caches_have_synced() -> None:
    cluster = FakeCluster(synced=False)
    kube = FakeFleetObjects(cluster)
    report = converge(cluster, PUBLIC, kube=kube)
    assert report.synced is False
    assert not report.ok
    assert cluster.objects == {}
    assert cluster.applied == []


def test_list_failure_propagates() -> None:
    class Broken(FakeFleetObjects):
        def list_owned(self, owner_id: str) -> Sequence[JsonObject]:
            raise KubernetesError("GET: 503", status=503, transient=True)

    cluster = FakeCluster()
    with pytest.raises(KubernetesError):
        converge(cluster, PUBLIC, kube=Broken(cluster))
    assert cluster.objects == {}


# --- findings ------------------------------------------------------------------------------------


def test_two_default_classes_are_both_reported_naming_the_newest() -> None:
    classes = [
        ingress_class("a", "x.example/a", default=True, created="2026-01-01T00:00:00Z"),
        ingress_class("b", "x.example/b", default=True, created="2026-02-01T00:00:00Z"),
        ingress_class("c", "x.example/c"),
    ]
    findings = find_class_problems([PUBLIC], ingress_classes=classes, ingresses=[])
    assert [(f.reason, f.ref.name) for f in findings] == [
        (Reason.MULTIPLE_DEFAULT_INGRESS_CLASSES, "a"),
        (Reason.MULTIPLE_DEFAULT_INGRESS_CLASSES, "b"),
    ]
    assert "get the newest (b)" in findings[0].message


@pytest.mark.parametrize(
    ("classes", "ingresses", "expected"),
    [
        # an Ingress without class is a problem only while a default exists
        ([ingress_class("public", "ingress-reconciler.io/public")], [ingress("w", None)], []),
        (
            [ingress_class("public", "ingress-reconciler.io/public", default=True)],
            [ingress("w", None)],
            [(Reason.INGRESS_WITHOUT_CLASS, "Ingress", "w")],
        ),
        # a legacy annotation counts as a class
        (
            [ingress_class("public", "ingress-reconciler.io/public", default=True)],
            [
                {
                    **ingress("w", None),
                    "metadata": {
                        "name": "w",
                        "namespace": "app",
                        "annotations": {"kubernetes.io/ingress.class": "public"},
                    },
                }
            ],
            [],
        ),
        # a class of ours no fleet serves
        (
            [ingress_class("old", "ingress-reconciler.io/old")],
            [],
            [(Reason.INGRESS_CLASS_WITHOUT_FLEET, "IngressClass", "old")],
        ),
        # another controller's class is none of our business
        ([ingress_class("alb", "ingress.k8s.aws/alb")], [ingress("w", "alb")], []),
        # a class that exists nowhere
        ([], [ingress("w", "pubilc")], [(Reason.INGRESS_CLASS_NOT_FOUND, "Ingress", "w")]),
        # a fleet class not created yet is fine
        ([], [ingress("w", "public")], []),
    ],
)
def test_class_findings(
    classes: list[IngressClassDict],
    ingresses: list[IngressDict],
    expected: list[tuple[Reason, str, str]],
) -> None:
    findings = find_class_problems([PUBLIC], ingress_classes=classes, ingresses=ingresses)
    assert [(f.reason, f.ref.kind, f.ref.name) for f in findings] == expected


def test_findings_become_warning_events() -> None:
    cluster = FakeCluster(
        [
            ingress_class("a", "x.example/a", default=True),
            ingress_class("b", "x.example/b", default=True),
            ingress("w", None),
        ]
    )
    report = converge(cluster, PUBLIC)
    assert sorted(f.reason for f in report.findings) == sorted(
        [
            Reason.MULTIPLE_DEFAULT_INGRESS_CLASSES,
            Reason.MULTIPLE_DEFAULT_INGRESS_CLASSES,
            Reason.INGRESS_WITHOUT_CLASS,
        ]
    )
    assert {(e.type, e.reason, e.regarding.kind, e.regarding.name) for e in cluster.events} == {
        (EventType.WARNING, "MultipleDefaultIngressClasses", "IngressClass", "a"),
        (EventType.WARNING, "MultipleDefaultIngressClasses", "IngressClass", "b"),
        (EventType.WARNING, "IngressWithoutClass", "Ingress", "w"),
    }
    assert cluster.events[0].regarding.namespace in ("", "app")


# --- fleet service address -----------------------------------------------------------------------


def test_fleet_service_address_reads_our_service_status() -> None:
    cluster = FakeCluster()
    assert fleet_service_address(PUBLIC, cluster) == ()
    converge(cluster, PUBLIC)
    assert fleet_service_address(PUBLIC, cluster) == ()
    cluster.patch_service_status(
        "ingress-public", "ingress-public", [{"hostname": "lb-1.elb.example.test"}]
    )
    assert fleet_service_address(PUBLIC, cluster) == ({"hostname": "lb-1.elb.example.test"},)
    assert fleet_service_address(PRIVATE, cluster) == ()


def test_fleet_service_address_ignores_a_service_without_our_labels() -> None:
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ingress-public", "namespace": "ingress-public"},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    }
    assert fleet_service_address(PUBLIC, FakeCluster([svc])) == ()
    svc["metadata"]["labels"] = {LABEL_MANAGED_BY: "ingress-reconciler", LABEL_FLEET: "public"}
    assert fleet_service_address(PUBLIC, FakeCluster([svc])) == ({"ip": "192.0.2.1"},)


@given(
    st.lists(
        st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
        min_size=1,
        max_size=5,
        unique=True,
    ),
    st.booleans(),
)
def test_distinct_fleets_never_share_an_object_or_a_controller(
    names: list[str], shared_namespace: bool
) -> None:
    specs = [
        FleetSpec.of(
            name=n,
            ingress_class_name=f"class-{n}",
            visibility="public" if i % 2 else "private",
            namespace="ingress" if shared_namespace else f"ns-{n}",
        )
        for i, n in enumerate(names)
    ]
    seen: dict[tuple[str, str, str], str] = {}
    controllers: set[str] = set()
    for spec in specs:
        for obj in desired_fleet_objects(spec, owner_id=OWNER):
            meta = obj["metadata"]
            key = (obj["kind"], meta.get("namespace", ""), meta["name"])
            if key in seen and obj["kind"] != "Namespace":
                raise AssertionError(f"{key} of {spec.name} collides with {seen[key]}")
            seen[key] = spec.name
            if obj["kind"] == "IngressClass":
                controllers.add(obj["spec"]["controller"])
    assert len(controllers) == len(specs)
    # and converging them all settles in one pass
    cluster = FakeCluster()
    converge(cluster, *specs)
    assert converge(cluster, *specs).changed == ()


def test_the_adapter_lists_every_kind_a_fleet_is_made_of() -> None:
    shaped = FleetSpec.of(
        name="shaped",
        ingress_class_name="shaped",
        visibility="public",
        namespace="ingress-shaped",
        workload=WorkloadShape.of(key="k", min_available=1, autoscaling=Autoscaling(2, 4)),
    )
    daemons = FleetSpec.of(
        name="daemons",
        ingress_class_name="daemons",
        visibility="public",
        namespace="ingress-daemons",
        workload=WorkloadShape.of(key="k", kind="DaemonSet"),
    )
    gated = FleetSpec.of(
        name="gated",
        ingress_class_name="gated",
        visibility="private",
        namespace="ingress-gated",
        gateway=FleetGateway("gated", "gated"),
    )
    made = {
        (o["apiVersion"], o["kind"])
        for spec in (PRIVATE, shaped, daemons, gated)
        for o in desired_fleet_objects(spec, owner_id=OWNER)
    }
    assert {(k.api_version, k.kind) for k in FLEET_KINDS} == made
    # and the Service, deleted first, is listed as well as every kind of DELETE_ORDER
    assert set(DELETE_ORDER) == {kind for _, kind in made}
    assert owned_selector("cluster-a") == (
        "app.kubernetes.io/managed-by=ingress-reconciler,"
        "ingress-reconciler.io/owner=cluster-a,ingress-reconciler.io/fleet"
    )


# --- the fleet's Gateway ---------------------------------------------------------------------

GATED = FleetSpec.of(
    name="edge",
    ingress_class_name="edge",
    visibility="public",
    namespace="ingress-edge",
    options=ControllerOptions.of(key="fleets[edge]", default_certificate="fleet-default"),
    gateway=FleetGateway("edge-gw", "edge-class"),
)


def test_a_gated_fleet_keeps_its_gateway_class_and_gateway() -> None:
    objs = by_kind(list(desired_fleet_objects(GATED, owner_id=OWNER)))
    cls, gateway = objs["GatewayClass"], objs["Gateway"]
    assert cls["metadata"]["name"] == "edge-class"
    assert cls["spec"] == {"controllerName": "traefik.io/gateway-controller"}
    assert cls["metadata"]["labels"][LABEL_FLEET] == "edge"
    assert gateway["metadata"]["namespace"] == "ingress-edge"
    assert gateway["spec"]["gatewayClassName"] == "edge-class"
    listeners = {item["name"]: item for item in gateway["spec"]["listeners"]}
    assert (listeners["http"]["protocol"], listeners["http"]["port"]) == ("HTTP", 8000)
    assert listeners["https"]["tls"] == {
        "mode": "Terminate",
        "certificateRefs": [{"kind": "Secret", "name": "fleet-default"}],
    }
    annotations = gateway["spec"]["infrastructure"]["annotations"]
    assert annotations[SCHEME_ANNOTATION] == "internet-facing"
    assert len(annotations) <= 8  # Gateway API's limit
    # the controller serves its own GatewayClass only, and may write its Routes' status
    args = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--providers.kubernetesgateway.labelselector=ingress-reconciler.io/fleet=edge" in args
    assert "--providers.kubernetesgateway.statusaddress.service.name=ingress-edge" in args
    rules = objs["ClusterRole"]["rules"]
    assert any("httproutes/status" in r["resources"] for r in rules)
    # without a gateway: none of it
    plain = by_kind(list(desired_fleet_objects(PUBLIC, owner_id=OWNER)))
    assert "Gateway" not in plain
    assert "GatewayClass" not in plain
    plain_args = plain["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not [a for a in plain_args if "kubernetesgateway" in a]
    # converged once, a second pass changes nothing
    cluster = FakeCluster()
    converge(cluster, GATED)
    assert converge(cluster, GATED).changed == ()


def test_a_gateway_class_of_another_controller_is_refused_never_replaced() -> None:
    cluster = FakeCluster(
        [
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GatewayClass",
                "metadata": {"name": "edge-class"},
                "spec": {"controllerName": "example.net/other"},
            }
        ]
    )
    report = converge(cluster, GATED)
    assert [(r.reason, r.ref.kind) for r in report.refused] == [
        (Reason.GATEWAY_CLASS_CONTROLLER_CONFLICT, "GatewayClass")
    ]
    kept = cluster.get("GatewayClass", "edge-class")
    assert kept is not None
    assert kept["spec"]["controllerName"] == "example.net/other"
    assert "Gateway" in {r.kind for r in report.applied}  # the rest converges


def test_a_fleet_gateways_scheme_never_flips_in_place() -> None:
    cluster = FakeCluster()
    converge(cluster, GATED)
    flipped = FleetSpec.of(
        name="edge",
        ingress_class_name="edge",
        visibility="private",
        namespace="ingress-edge",
        options=GATED.options,
        gateway=GATED.gateway,
    )
    report = converge(cluster, flipped)
    refused = {(r.reason, r.ref.kind) for r in report.refused}
    assert (Reason.SCHEME_CHANGE_REFUSED, "Gateway") in refused
    gateway = cluster.get("Gateway", "edge-gw", "ingress-edge")
    assert gateway is not None
    assert gateway["spec"]["infrastructure"]["annotations"][SCHEME_ANNOTATION] == "internet-facing"


def test_the_gateway_objects_of_a_removed_gateway_are_deleted() -> None:
    cluster = FakeCluster()
    kube = FakeFleetObjects(cluster)
    converge(cluster, GATED, kube=kube)
    ungated = FleetSpec.of(
        name="edge",
        ingress_class_name="edge",
        visibility="public",
        namespace="ingress-edge",
        options=GATED.options,
    )
    converge(cluster, ungated, kube=kube)
    assert {(r.kind, r.name) for r in kube.deleted} == {
        ("Gateway", "edge-gw"),
        ("GatewayClass", "edge-class"),
    }
