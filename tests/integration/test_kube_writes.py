"""Writes against a real kube-apiserver: status patches, server-side apply, Events, and errors
arriving as KubernetesError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from e2e.servers.apiserver import ApiServer, free_tcp_port
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.events import KubeEventRecorder
from reconciler.kube.resources import (
    DEPLOYMENT,
    EVENT,
    INGRESS,
    INGRESS_CLASS,
    SERVICE,
)
from reconciler.kube.writer import FIELD_MANAGER, KubeWriter
from reconciler.model.cluster import EventType, ObjectRef
from reconciler.model.errors import KubernetesError
from tests.fixtures.kube import wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)


def ingress(namespace: str, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ingressClassName": "public", "rules": [{"host": f"{name}.example.test"}]},
    }


def ingress_class(name: str, controller: str = "k8s.io/ingress-nginx") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER}},
        "spec": {"controller": controller},
    }


def events_in(client: KubeClient, namespace: str) -> list[dict[str, Any]]:
    return list(client.request("GET", EVENT.collection_path(namespace))["items"])


# --- status -------------------------------------------------------------------------------


def test_ingress_status_is_written_whole(api_client: KubeClient, namespace: str) -> None:
    writer = KubeWriter(api_client)
    api_client.create(ingress(namespace))
    writer.patch_ingress_status(
        namespace, "web", [{"hostname": "lb-1.elb.example"}, {"ip": "192.0.2.10"}]
    )
    got = api_client.get(INGRESS, "web", namespace)
    assert got["status"]["loadBalancer"]["ingress"] == [
        {"hostname": "lb-1.elb.example"},
        {"ip": "192.0.2.10"},
    ]
    # a second write replaces the list, it does not merge into it
    result = writer.patch_ingress_status(namespace, "web", [{"ip": "192.0.2.20"}])
    assert result["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.20"}]
    assert api_client.get(INGRESS, "web", namespace)["status"]["loadBalancer"]["ingress"] == [
        {"ip": "192.0.2.20"}
    ]
    # and the spec was not touched by the status subresource
    assert got["spec"]["rules"] == [{"host": "web.example.test"}]
    writer.patch_ingress_status(namespace, "web", [])
    status = api_client.get(INGRESS, "web", namespace).get("status", {})
    assert status.get("loadBalancer", {}).get("ingress") in (None, [])


def test_service_status_is_written(api_client: KubeClient, namespace: str) -> None:
    writer = KubeWriter(api_client)
    api_client.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "fleet", "namespace": namespace},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 443}], "selector": {"a": "b"}},
        }
    )
    writer.patch_service_status(namespace, "fleet", [{"hostname": "nlb.example"}])
    got = api_client.get(SERVICE, "fleet", namespace)
    assert got["status"]["loadBalancer"]["ingress"] == [{"hostname": "nlb.example"}]


# --- server-side apply ----------------------------------------------------------------------


def test_apply_is_idempotent_and_corrects_drift(api_client: KubeClient, namespace: str) -> None:
    writer = KubeWriter(api_client)
    name = f"public-{namespace}"
    try:
        first = writer.apply(ingress_class(name))
        second = writer.apply(ingress_class(name))
        # an unchanged intent changes nothing: same resourceVersion
        assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        managers = {m["manager"]: m["operation"] for m in second["metadata"]["managedFields"]}
        assert managers == {FIELD_MANAGER: "Apply"}

        # someone else changes a label we own (as kubectl edit would)
        api_client.patch(
            INGRESS_CLASS,
            name,
            {"metadata": {"labels": {"app.kubernetes.io/managed-by": "someone"}}},
            query={"fieldManager": "kubectl-edit"},
        )
        drifted = api_client.get(INGRESS_CLASS, name)
        assert drifted["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "someone"

        fixed = writer.apply(ingress_class(name))
        assert fixed["metadata"]["labels"]["app.kubernetes.io/managed-by"] == FIELD_MANAGER
        assert int(fixed["metadata"]["resourceVersion"]) > int(
            drifted["metadata"]["resourceVersion"]
        )
        again = writer.apply(ingress_class(name))
        assert again["metadata"]["resourceVersion"] == fixed["metadata"]["resourceVersion"]
    finally:
        api_client.delete(INGRESS_CLASS, name)


def test_apply_without_force_reports_the_conflict(api_client: KubeClient, namespace: str) -> None:
    name = f"private-{namespace}"
    theirs = ingress_class(name)
    theirs["metadata"]["labels"] = {"tier": "theirs"}
    ours = ingress_class(name)
    ours["metadata"]["labels"] = {"tier": "ours"}
    try:
        KubeWriter(api_client, field_manager="other-tool").apply(theirs)
        with pytest.raises(KubernetesError) as err:
            KubeWriter(api_client).apply(ours, force=False)
        assert err.value.status == 409
        assert not err.value.transient
        assert "conflict" in str(err.value).lower()
        taken = KubeWriter(api_client).apply(ours, force=True)
        assert taken["metadata"]["labels"]["tier"] == "ours"
    finally:
        api_client.delete(INGRESS_CLASS, name)


def test_apply_namespaced_deployment(api_client: KubeClient, namespace: str) -> None:
    writer = KubeWriter(api_client)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ingress-public", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "ingress-public"}},
            "template": {
                "metadata": {"labels": {"app": "ingress-public"}},
                "spec": {"containers": [{"name": "controller", "image": "nginx:1"}]},
            },
        },
    }
    first = writer.apply(deployment)
    assert (
        writer.apply(deployment)["metadata"]["resourceVersion"]
        == (first["metadata"]["resourceVersion"])
    )
    assert api_client.get(DEPLOYMENT, "ingress-public", namespace)["spec"]["replicas"] == 2


# --- events ----------------------------------------------------------------------------


def test_event_is_created_on_the_object(api_client: KubeClient, namespace: str) -> None:
    created = api_client.create(ingress(namespace))
    recorder = KubeEventRecorder(api_client, reporting_instance="test-pod")
    ref = ObjectRef.of(created)
    recorder.record(
        ref,
        type=EventType.WARNING,
        reason="HostnameRejected",
        note="web.example.test is not under the tenant's domains",
        action="PublishDNS",
        now=T0,
    )
    (event,) = events_in(api_client, namespace)
    assert event["reason"] == "HostnameRejected"
    assert event["type"] == "Warning"
    assert event["note"] == "web.example.test is not under the tenant's domains"
    assert event["action"] == "PublishDNS"
    assert event["reportingController"] == "ingress-reconciler"
    assert event["reportingInstance"] == "test-pod"
    assert event["regarding"]["uid"] == created["metadata"]["uid"]
    assert event["regarding"]["kind"] == "Ingress"
    assert recorder.failures == 0


def test_repeated_event_becomes_one_series(api_client: KubeClient, namespace: str) -> None:
    created = api_client.create(ingress(namespace))
    recorder = KubeEventRecorder(
        api_client, reporting_instance="test-pod", refresh=timedelta(minutes=5)
    )
    ref = ObjectRef.of(created)
    for i in range(20):  # a failure repeated every pass
        recorder.record(
            ref,
            type=EventType.WARNING,
            reason="ZoneNotFound",
            note="no zone for web.example.test",
            action="PublishDNS",
            now=T0 + timedelta(seconds=10 * i),
        )
    (event,) = events_in(api_client, namespace)
    assert event["series"]["count"] == 2  # first repeat written, later ones counted in memory
    assert recorder.writes == 2
    recorder.flush(T0 + timedelta(minutes=10))
    (event,) = events_in(api_client, namespace)
    assert event["series"]["count"] == 20
    assert recorder.writes == 3

    recorder.record(
        ref,
        type=EventType.NORMAL,
        reason="Published",
        note="2 records",
        action="PublishDNS",
        now=T0 + timedelta(minutes=10),
    )
    assert len(events_in(api_client, namespace)) == 2


def test_event_on_cluster_scoped_object_goes_to_default(
    api_client: KubeClient, namespace: str
) -> None:
    name = f"evt-{namespace}"
    created = api_client.create(ingress_class(name))
    try:
        recorder = KubeEventRecorder(api_client, reporting_instance="test-pod")
        recorder.record(
            ObjectRef.of(created),
            type=EventType.NORMAL,
            reason="Applied",
            note=f"class {name}",
            action="ApplyFleet",
            now=T0,
        )
        mine = [
            e
            for e in events_in(api_client, "default")
            if e.get("regarding", {}).get("name") == name
        ]
        assert len(mine) == 1
        assert recorder.failures == 0
    finally:
        api_client.delete(INGRESS_CLASS, name)


def test_event_failure_is_logged_not_raised(api_client: KubeClient) -> None:
    recorder = KubeEventRecorder(api_client.impersonating("nobody"), reporting_instance="x")
    recorder.record(
        ObjectRef("networking.k8s.io/v1", "Ingress", "web", "default"),
        type=EventType.NORMAL,
        reason="Published",
        note="n",
        action="PublishDNS",
        now=T0,
    )
    assert recorder.failures == 1


# --- errors ----------------------------------------------------------------------------


def test_not_found_is_a_permanent_kubernetes_error(api_client: KubeClient, namespace: str) -> None:
    with pytest.raises(KubernetesError) as err:
        api_client.get(INGRESS, "missing", namespace)
    assert err.value.status == 404
    assert not err.value.transient
    assert "NotFound" in str(err.value)
    assert '"missing" not found' in str(err.value)


def test_already_exists_is_409(api_client: KubeClient, namespace: str) -> None:
    api_client.create(ingress(namespace))
    with pytest.raises(KubernetesError) as err:
        api_client.create(ingress(namespace))
    assert err.value.status == 409


def test_invalid_object_is_422(api_client: KubeClient, namespace: str) -> None:
    bad = ingress(namespace, "Not_A_Valid_Name")
    with pytest.raises(KubernetesError) as err:
        api_client.create(bad)
    assert err.value.status == 422
    assert not err.value.transient


def test_impersonated_identity_without_rbac_gets_403(
    api_client: KubeClient, namespace: str
) -> None:
    nobody = api_client.impersonating("nobody", groups=["system:authenticated"])
    with pytest.raises(KubernetesError) as err:
        nobody.list(INGRESS, namespace)
    assert err.value.status == 403
    assert not err.value.transient
    assert "Forbidden" in str(err.value)
    with pytest.raises(KubernetesError) as err:
        KubeWriter(nobody).patch_ingress_status(namespace, "web", [{"ip": "192.0.2.1"}])
    assert err.value.status == 403


def test_service_account_without_rbac_gets_403_then_200_once_bound(
    apiserver: ApiServer, api_client: KubeClient, namespace: str
) -> None:
    path = apiserver.service_account_kubeconfig(namespace, "reconciler")
    client = load_client(kubeconfig=path)
    try:
        with pytest.raises(KubernetesError) as err:
            client.list(INGRESS, namespace)
        assert err.value.status == 403
        assert f"system:serviceaccount:{namespace}:reconciler" in str(err.value)

        writer = KubeWriter(api_client)
        writer.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "read-ingresses", "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": ["networking.k8s.io"],
                        "resources": ["ingresses"],
                        "verbs": ["list", "watch"],
                    }
                ],
            }
        )
        writer.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "read-ingresses", "namespace": namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "read-ingresses",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "reconciler", "namespace": namespace}
                ],
            }
        )

        # the RBAC authorizer reads bindings from its own informer: poll until it has caught up
        def allowed() -> bool:
            try:
                items, rv = client.list(INGRESS, namespace)
            except KubernetesError as exc:
                if exc.status != 403:
                    raise
                return False
            return items == [] and bool(rv)

        wait_until(allowed, what="the RoleBinding to take effect")
    finally:
        client.close()


def test_connection_refused_is_transient() -> None:
    import kubernetes.client  # noqa: PLC0415 - a deliberately unreachable client, built by hand

    configuration = kubernetes.client.Configuration()
    configuration.host = f"https://127.0.0.1:{free_tcp_port()}"
    configuration.retries = False
    client = KubeClient(kubernetes.client.ApiClient(configuration), timeout=2)
    with pytest.raises(KubernetesError) as err:
        client.get(INGRESS, "web", "default")
    assert err.value.transient
    assert err.value.status is None


def test_impersonation_sends_each_group(api_client: KubeClient) -> None:
    review = api_client.impersonating("alice", ["devs", "ops"]).request(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    user = review["status"]["userInfo"]
    assert user["username"] == "alice"
    assert {"devs", "ops"} <= set(user["groups"])
