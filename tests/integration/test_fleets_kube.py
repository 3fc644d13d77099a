"""Fleets and Ingress status against a real kube-apiserver (no controller-manager, no kubelet):
objects declared and accepted by the API, drift set back, refusals with Events, removal, status."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from e2e.servers.apiserver import ApiServer
from reconciler.fleets.converge import FleetReport, converge_fleets
from reconciler.fleets.ingress_status import publish_ingress_status
from reconciler.fleets.options import Autoscaling, WorkloadShape
from reconciler.fleets.spec import (
    ELBV2_LOAD_BALANCER_CLASS,
    LABEL_OWNER,
    LB_TYPE_ANNOTATION,
    SCHEME_ANNOTATION,
    TARGET_TYPE_ANNOTATION,
    FleetSpec,
    Reason,
    fleet_service_address,
)
from reconciler.kube.client import MERGE_PATCH, KubeClient
from reconciler.kube.events import KubeEventRecorder
from reconciler.kube.fleet_objects import KubeFleetObjects
from reconciler.kube.listed import ListedState
from reconciler.kube.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CONFIG_MAP,
    DAEMON_SET,
    DEPLOYMENT,
    EVENT,
    HORIZONTAL_POD_AUTOSCALER,
    INGRESS,
    INGRESS_CLASS,
    NAMESPACE,
    POD_DISRUPTION_BUDGET,
    ROLE,
    ROLE_BINDING,
    SERVICE,
    SERVICE_ACCOUNT,
    ResourceKind,
)
from reconciler.kube.writer import KubeWriter
from reconciler.model.errors import KubernetesError
from tests.fixtures.kube import wait_until

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 21, 6, 30, tzinfo=UTC)


class Fleets:
    """Runs passes for one owner id; removes everything it made afterwards."""

    def __init__(self, apiserver: ApiServer, client: KubeClient) -> None:
        self.apiserver = apiserver
        self.client = client
        self.owner = f"owner-{secrets.token_hex(3)}"
        self.kube = KubeFleetObjects(client)
        self.events = KubeEventRecorder(client, reporting_instance="test")
        self.namespaces: set[str] = set()
        self.extra: list[tuple[ResourceKind, str]] = []

    def spec(self, fleet: str, visibility: str = "public", **kw: Any) -> FleetSpec:
        spec = FleetSpec.of(
            name=fleet,
            ingress_class_name=kw.pop("ingress_class_name", fleet),
            visibility=visibility,
            namespace=kw.pop("namespace", f"ing-{fleet}"),
            **kw,
        )
        self.namespaces.add(spec.namespace)
        return spec

    def converge(self, *specs: FleetSpec, owner: str | None = None) -> FleetReport:
        return converge_fleets(
            specs=specs,
            owner_id=owner or self.owner,
            state=ListedState.from_client(self.client),
            kube=self.kube,
            events=self.events,
            now=NOW,
        )

    def cleanup(self) -> None:
        self.converge()
        self.converge()
        for ns in self.namespaces:
            self.apiserver.delete_namespace(ns)
        for kind, name in self.extra:
            try:
                self.client.delete(kind, name)
            except KubernetesError as exc:
                if exc.status != 404:
                    raise


@pytest.fixture
def fleets(apiserver: ApiServer, api_client: KubeClient) -> Iterator[Fleets]:
    helper = Fleets(apiserver, api_client)
    try:
        yield helper
    finally:
        helper.cleanup()


def cls_of(fleet: str) -> str:
    return f"ingress-reconciler.io/{fleet}"


def name() -> str:
    return f"f{secrets.token_hex(3)}"


def get_or_none(client: KubeClient, kind: ResourceKind, obj: str, ns: str | None = None) -> Any:
    try:
        return client.get(kind, obj, ns)
    except KubernetesError as exc:
        if exc.status == 404:
            return None
        raise


def events_about(client: KubeClient, namespace: str, obj: str) -> list[dict[str, Any]]:
    items = client.request("GET", EVENT.collection_path(namespace))["items"]
    return [e for e in items if e["regarding"]["name"] == obj]


def test_declared_fleet_objects_exist_with_the_right_fields(
    fleets: Fleets, api_client: KubeClient
) -> None:
    pub, priv = name(), name()
    specs = (
        fleets.spec(pub, "public", profile="ingress-nginx"),
        fleets.spec(priv, "private", lb_mode="elbv2"),
    )
    report = fleets.converge(*specs)
    assert report.ok, report.errors
    assert len(report.changed) == 17  # ingress-nginx 10 objects, traefik 7 (no Role, ConfigMap)
    assert not report.refused

    cls = api_client.get(INGRESS_CLASS, pub)
    assert cls["spec"]["controller"] == f"ingress-reconciler.io/{pub}"
    assert cls["metadata"]["labels"][LABEL_OWNER] == fleets.owner
    dep = api_client.get(DEPLOYMENT, f"ingress-{pub}", f"ing-{pub}")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--controller-class=ingress-reconciler.io/{pub}" in args
    assert "--update-status=false" in args
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == f"ingress-{pub}"
    traefik = api_client.get(DEPLOYMENT, f"ingress-{priv}", f"ing-{priv}")
    args = traefik["spec"]["template"]["spec"]["containers"][0]["args"]
    assert (
        f"--providers.kubernetesingressnginx.controllerclass=ingress-reconciler.io/{priv}" in args
    )

    svc = api_client.get(SERVICE, f"ingress-{pub}", f"ing-{pub}")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["metadata"]["annotations"][SCHEME_ANNOTATION] == "internet-facing"
    assert svc["metadata"]["annotations"][LB_TYPE_ANNOTATION] == "external"
    assert svc["metadata"]["annotations"][TARGET_TYPE_ANNOTATION] == "ip"
    assert "loadBalancerClass" not in svc["spec"]
    internal = api_client.get(SERVICE, f"ingress-{priv}", f"ing-{priv}")
    assert internal["metadata"]["annotations"][SCHEME_ANNOTATION] == "internal"
    # the API accepts the marker class, so no other load-balancer controller takes the Service
    assert internal["spec"]["loadBalancerClass"] == ELBV2_LOAD_BALANCER_CLASS

    for kind, obj, ns in [
        (NAMESPACE, f"ing-{pub}", None),
        (SERVICE_ACCOUNT, f"ingress-{pub}", f"ing-{pub}"),
        (ROLE, f"ingress-{pub}", f"ing-{pub}"),
        (ROLE_BINDING, f"ingress-{pub}", f"ing-{pub}"),
        (CLUSTER_ROLE, f"ingress-reconciler-{pub}", None),
        (CLUSTER_ROLE_BINDING, f"ingress-reconciler-{pub}", None),
    ]:
        assert api_client.get(kind, obj, ns)["metadata"]["labels"][LABEL_OWNER] == fleets.owner

    # a second pass is a no-op for the API server: no resourceVersion moves
    again = fleets.converge(*specs)
    assert len(again.applied) == 17
    assert again.changed == ()


def test_drift_edited_by_hand_is_set_back_next_pass(fleets: Fleets, api_client: KubeClient) -> None:
    fleet = name()
    spec = fleets.spec(fleet, "public")
    fleets.converge(spec)
    ns, svc_name = f"ing-{fleet}", f"ingress-{fleet}"
    api_client.patch(
        SERVICE,
        svc_name,
        {"metadata": {"annotations": {TARGET_TYPE_ANNOTATION: "instance"}}},
        namespace=ns,
        content_type=MERGE_PATCH,
        query={"fieldManager": "kubectl-edit"},
    )
    api_client.patch(
        DEPLOYMENT,
        svc_name,
        {"spec": {"replicas": 7}},
        namespace=ns,
        content_type=MERGE_PATCH,
        query={"fieldManager": "kubectl-edit"},
    )
    edited = api_client.get(SERVICE, svc_name, ns)
    assert edited["metadata"]["annotations"][TARGET_TYPE_ANNOTATION] == "instance"

    report = fleets.converge(spec)
    assert sorted(r.kind for r in report.changed) == ["Deployment", "Service"]
    fixed = api_client.get(SERVICE, svc_name, ns)
    assert fixed["metadata"]["annotations"][TARGET_TYPE_ANNOTATION] == "ip"
    assert api_client.get(DEPLOYMENT, svc_name, ns)["spec"]["replicas"] == 2


def test_scheme_flip_is_refused_with_an_event(fleets: Fleets, api_client: KubeClient) -> None:
    fleet = name()
    fleets.converge(fleets.spec(fleet, "public"))
    report = fleets.converge(fleets.spec(fleet, "private"))
    assert [(r.reason, r.ref.kind) for r in report.refused] == [
        (Reason.SCHEME_CHANGE_REFUSED, "Service")
    ]
    ns, svc_name = f"ing-{fleet}", f"ingress-{fleet}"
    svc = api_client.get(SERVICE, svc_name, ns)
    assert svc["metadata"]["annotations"][SCHEME_ANNOTATION] == "internet-facing"
    [event] = events_about(api_client, ns, svc_name)
    assert event["type"] == "Warning"
    assert event["reason"] == "SchemeChangeRefused"
    assert event["regarding"]["kind"] == "Service"
    assert event["regarding"]["uid"] == svc["metadata"]["uid"]


def test_ingress_class_with_a_foreign_controller_is_refused_and_kept(
    fleets: Fleets, api_client: KubeClient
) -> None:
    fleet = name()
    api_client.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": fleet},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    )
    fleets.extra.append((INGRESS_CLASS, fleet))
    report = fleets.converge(fleets.spec(fleet, "public"))
    assert [(r.reason, r.ref.kind, r.ref.name) for r in report.refused] == [
        (Reason.INGRESS_CLASS_CONTROLLER_CONFLICT, "IngressClass", fleet)
    ]
    kept = api_client.get(INGRESS_CLASS, fleet)
    assert kept["spec"]["controller"] == "k8s.io/ingress-nginx"
    assert "labels" not in kept["metadata"]
    # the rest of the fleet is there; the class survives removing the fleet too
    assert get_or_none(api_client, DEPLOYMENT, f"ingress-{fleet}", f"ing-{fleet}") is not None
    fleets.converge()
    assert get_or_none(api_client, INGRESS_CLASS, fleet) is not None
    # cluster-scoped objects get their Events in "default"
    [event] = events_about(api_client, "default", fleet)
    assert event["reason"] == "IngressClassControllerConflict"
    assert event["type"] == "Warning"


def test_removed_fleet_objects_are_deleted_and_other_owners_kept(
    fleets: Fleets, api_client: KubeClient
) -> None:
    gone, stays = name(), name()
    gone_spec = fleets.spec(gone, "public", profile="ingress-nginx")
    fleets.converge(gone_spec)
    stays_spec = fleets.spec(stays, "private")
    other_owner = f"{fleets.owner}-b"
    fleets.converge(stays_spec, owner=other_owner)

    first = fleets.converge()
    assert [r.kind for r in first.deleted] == [
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
    assert [(r.kind, r.name) for r in first.pending] == [("Namespace", f"ing-{gone}")]
    ns = f"ing-{gone}"
    for kind, obj, obj_ns in [
        (SERVICE, f"ingress-{gone}", ns),
        (DEPLOYMENT, f"ingress-{gone}", ns),
        (ROLE_BINDING, f"ingress-{gone}", ns),
        (ROLE, f"ingress-{gone}", ns),
        (SERVICE_ACCOUNT, f"ingress-{gone}", ns),
        (CLUSTER_ROLE_BINDING, f"ingress-reconciler-{gone}", None),
        (CLUSTER_ROLE, f"ingress-reconciler-{gone}", None),
        (INGRESS_CLASS, gone, None),
    ]:
        assert get_or_none(api_client, kind, obj, obj_ns) is None, (kind.kind, obj)

    second = fleets.converge()
    assert [(r.kind, r.name) for r in second.deleted] == [("Namespace", ns)]
    namespace = get_or_none(api_client, NAMESPACE, ns)
    # no namespace controller runs here: the namespace stays Terminating until finalized
    assert namespace is None or namespace["metadata"].get("deletionTimestamp")
    # the other owner's fleet is untouched
    assert get_or_none(api_client, INGRESS_CLASS, stays) is not None
    assert get_or_none(api_client, SERVICE, f"ingress-{stays}", f"ing-{stays}") is not None
    fleets.converge(owner=other_owner)
    fleets.converge(owner=other_owner)
    assert get_or_none(api_client, INGRESS_CLASS, stays) is None


def test_ingress_status_comes_from_the_fleet_service_status(
    fleets: Fleets, api_client: KubeClient, namespace: str
) -> None:
    fleet = name()
    spec = fleets.spec(fleet, "public")
    fleets.converge(spec)
    writer = KubeWriter(api_client)
    api_client.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": namespace},
            "spec": {"ingressClassName": fleet, "rules": [{"host": "web.example.test"}]},
        }
    )
    api_client.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "other", "namespace": namespace},
            "spec": {"ingressClassName": "not-a-fleet", "rules": [{"host": "o.example.test"}]},
        }
    )

    def publish() -> Any:
        state = ListedState.from_client(api_client)
        return publish_ingress_status(
            specs=[spec],
            state=state,
            writer=writer,
            addresses={fleet: fleet_service_address(spec, state)},
        )

    # no Service address yet: nothing written
    assert publish().written == ()
    # the Service's status set by hand (what a load-balancer controller does); the API server
    # adds ipMode to an IP entry, which an Ingress status does not have
    writer.patch_service_status(
        f"ing-{fleet}",
        f"ingress-{fleet}",
        [{"hostname": "lb-1.elb.example.test"}, {"ip": "192.0.2.10"}],
    )
    svc = api_client.get(SERVICE, f"ingress-{fleet}", f"ing-{fleet}")
    assert svc["status"]["loadBalancer"]["ingress"][1] == {"ip": "192.0.2.10", "ipMode": "VIP"}
    first = publish()
    assert [r.name for r in first.written] == ["web"]
    web = api_client.get(INGRESS, "web", namespace)
    assert web["status"]["loadBalancer"]["ingress"] == [
        {"hostname": "lb-1.elb.example.test"},
        {"ip": "192.0.2.10"},
    ]
    rv = web["metadata"]["resourceVersion"]
    other = api_client.get(INGRESS, "other", namespace)
    assert not other.get("status", {}).get("loadBalancer", {}).get("ingress")

    second = publish()
    assert second.written == ()
    assert second.unchanged == 1
    assert api_client.get(INGRESS, "web", namespace)["metadata"]["resourceVersion"] == rv

    # the Service loses its address: the Ingress keeps the last one
    writer.patch_service_status(f"ing-{fleet}", f"ingress-{fleet}", [])
    kept = publish()
    assert [r.name for r in kept.kept] == ["web"]
    assert api_client.get(INGRESS, "web", namespace)["status"]["loadBalancer"]["ingress"] == [
        {"hostname": "lb-1.elb.example.test"},
        {"ip": "192.0.2.10"},
    ]

    # a new address replaces the list whole
    writer.patch_service_status(f"ing-{fleet}", f"ingress-{fleet}", [{"ip": "192.0.2.20"}])
    assert [r.name for r in publish().written] == ["web"]
    assert api_client.get(INGRESS, "web", namespace)["status"]["loadBalancer"]["ingress"] == [
        {"ip": "192.0.2.20"}
    ]


def can(client: KubeClient, sa: str, ns: str, verb: str, resource: str, **attrs: str) -> bool:
    """What RBAC decides for the ServiceAccount ``ns/sa`` (a SubjectAccessReview)."""
    group, _, plural = resource.rpartition("/")
    review = client.request(
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": f"system:serviceaccount:{ns}:{sa}",
                "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}"],
                "resourceAttributes": {"verb": verb, "group": group, "resource": plural, **attrs},
            },
        },
    )
    return bool(review["status"].get("allowed"))


def test_controller_rbac_grants_what_ingress_nginx_needs_and_no_status_write(
    fleets: Fleets, api_client: KubeClient
) -> None:
    fleet = name()
    fleets.converge(fleets.spec(fleet, "private", profile="ingress-nginx"))
    sa, ns = f"ingress-{fleet}", f"ing-{fleet}"
    lease = f"ingress-reconciler-{fleet}"
    # the bindings take effect once the authorizer's informers see them
    wait_until(
        lambda: can(api_client, sa, ns, "watch", "networking.k8s.io/ingresses"),
        what="the fleet's ClusterRoleBinding",
    )
    wait_until(
        lambda: can(
            api_client, sa, ns, "update", "coordination.k8s.io/leases", namespace=ns, name=lease
        ),
        what="the fleet's RoleBinding",
    )
    for verb, resource in [
        ("list", "networking.k8s.io/ingressclasses"),
        ("watch", "discovery.k8s.io/endpointslices"),
        ("list", "secrets"),
        ("watch", "services"),
        ("create", "events"),
    ]:
        assert can(api_client, sa, ns, verb, resource), (verb, resource)
    assert can(api_client, sa, ns, "create", "coordination.k8s.io/leases", namespace=ns)
    # not granted: Ingress status (we publish it), another fleet's lease, writing Secrets
    assert not can(
        api_client, sa, ns, "update", "networking.k8s.io/ingresses", subresource="status"
    )
    assert not can(
        api_client, sa, ns, "update", "coordination.k8s.io/leases", namespace=ns, name="other"
    )
    assert not can(api_client, sa, ns, "update", "secrets", namespace=ns)


def test_traefik_rbac_is_reads_only_and_no_status_write(
    fleets: Fleets, api_client: KubeClient
) -> None:
    fleet = name()
    fleets.converge(fleets.spec(fleet, "public"))
    sa, ns = f"ingress-{fleet}", f"ing-{fleet}"
    wait_until(
        lambda: can(api_client, sa, ns, "watch", "networking.k8s.io/ingresses"),
        what="the fleet's ClusterRoleBinding",
    )
    for verb, resource in [
        ("list", "networking.k8s.io/ingressclasses"),
        ("watch", "discovery.k8s.io/endpointslices"),
        ("list", "secrets"),
        ("watch", "configmaps"),
        ("watch", "services"),
    ]:
        assert can(api_client, sa, ns, verb, resource), (verb, resource)
    for verb, resource in [
        ("update", "networking.k8s.io/ingresses"),
        ("create", "events"),
        ("create", "coordination.k8s.io/leases"),
        ("get", "secrets"),
        ("update", "secrets"),
    ]:
        assert not can(api_client, sa, ns, verb, resource, namespace=ns), (verb, resource)
    assert not can(
        api_client, sa, ns, "update", "networking.k8s.io/ingresses", subresource="status"
    )


def test_a_fleet_changes_shape_and_profile_in_place(fleets: Fleets, api_client: KubeClient) -> None:
    fleet = name()
    ns, obj = f"ing-{fleet}", f"ingress-{fleet}"
    nginx = fleets.converge(fleets.spec(fleet, "public", profile="ingress-nginx"))
    assert nginx.ok, nginx.errors
    assert get_or_none(api_client, ROLE, obj, ns) is not None
    assert get_or_none(api_client, CONFIG_MAP, obj, ns) is not None
    # to traefik with a budget and an autoscaler: the nginx Role and ConfigMap go
    shaped = fleets.spec(
        fleet,
        "public",
        workload=WorkloadShape.of(key="k", max_unavailable=1, autoscaling=Autoscaling(2, 5)),
    )
    report = fleets.converge(shaped)
    assert report.ok, report.errors
    assert {r.kind for r in report.deleted} == {"Role", "RoleBinding", "ConfigMap"}
    assert get_or_none(api_client, POD_DISRUPTION_BUDGET, obj, ns)["spec"]["maxUnavailable"] == 1
    hpa = get_or_none(api_client, HORIZONTAL_POD_AUTOSCALER, obj, ns)
    assert hpa["spec"]["scaleTargetRef"]["name"] == obj
    dep = api_client.get(DEPLOYMENT, obj, ns)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].startswith(
        "docker.io/library/traefik:"
    )
    # to a DaemonSet: the Deployment, its autoscaler and its budget go; the Service stays
    service_uid = api_client.get(SERVICE, obj, ns)["metadata"]["uid"]
    daemons = fleets.spec(fleet, "public", workload=WorkloadShape.of(key="k", kind="DaemonSet"))
    report = fleets.converge(daemons)
    assert report.ok, report.errors
    assert {r.kind for r in report.deleted} == {
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    assert get_or_none(api_client, DAEMON_SET, obj, ns) is not None
    assert api_client.get(SERVICE, obj, ns)["metadata"]["uid"] == service_uid
    assert fleets.converge(daemons).changed == ()


def test_a_namespace_made_by_someone_else_is_used_and_never_deleted(
    fleets: Fleets, api_client: KubeClient, namespace: str
) -> None:
    fleet = name()
    spec = fleets.spec(fleet, "public", namespace=namespace)
    report = fleets.converge(spec)
    assert report.ok, report.errors
    assert "Namespace" not in {r.kind for r in report.applied}
    assert get_or_none(api_client, DEPLOYMENT, f"ingress-{fleet}", namespace) is not None
    labels = api_client.get(NAMESPACE, namespace)["metadata"].get("labels", {})
    assert LABEL_OWNER not in labels
    fleets.converge()
    fleets.converge()
    assert get_or_none(api_client, DEPLOYMENT, f"ingress-{fleet}", namespace) is None
    ns = api_client.get(NAMESPACE, namespace)
    assert not ns["metadata"].get("deletionTimestamp")


def test_same_named_objects_of_someone_else_are_left_alone(
    fleets: Fleets, api_client: KubeClient
) -> None:
    fleet = name()
    role = f"ingress-reconciler-{fleet}"
    api_client.create(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": role},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        }
    )
    fleets.extra.append((CLUSTER_ROLE, role))
    report = fleets.converge(fleets.spec(fleet, "public"))
    assert [(r.reason, r.ref.kind, r.ref.name) for r in report.refused] == [
        (Reason.OBJECT_NOT_OWNED, "ClusterRole", role)
    ]
    kept = api_client.get(CLUSTER_ROLE, role)
    assert kept["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    assert "labels" not in kept["metadata"]
    # removing the fleet leaves it too
    fleets.converge()
    assert get_or_none(api_client, CLUSTER_ROLE, role) is not None
