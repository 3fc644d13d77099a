"""The exported surface of the reconciler.kube modules, the resource table, ObjectRef, and the
FakeCluster double (which must satisfy the same Protocols the real implementations do)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from reconciler.kube import cache, client, events, fake, resources, writer
from reconciler.kube.fake import FakeCluster
from reconciler.kube.resources import DEPLOYMENT, INGRESS, INGRESS_CLASS, NAMESPACE, kind_for
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
    EventType,
    ObjectApplier,
    ObjectRef,
    StatusWriter,
)
from reconciler.model.errors import KubernetesError


def test_exported_surface_is_pinned() -> None:
    assert set(client.__all__) >= {"KubeClient", "load_client", "translate_error", "WatchStream"}
    assert set(cache.__all__) == {"Backoff", "CacheStats", "ClusterCache", "WatchCache"}
    assert set(writer.__all__) == {"FIELD_MANAGER", "KubeWriter"}
    assert set(events.__all__) == {"REPORTING_CONTROLLER", "KubeEventRecorder", "microtime"}
    assert set(fake.__all__) == {"FakeCluster", "RecordedEvent"}


def test_package_root_does_not_import_the_kubernetes_client() -> None:
    code = (
        "import sys, reconciler.kube, reconciler.kube.fake, reconciler.kube.resources; "
        "print(any(m == 'kubernetes' or m.startswith('kubernetes.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("kind", "namespace", "name", "sub", "path"),
    [
        (INGRESS, "shop", "web", "", "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"),
        (
            INGRESS,
            "shop",
            "web",
            "status",
            "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web/status",
        ),
        (INGRESS_CLASS, None, "public", "", "/apis/networking.k8s.io/v1/ingressclasses/public"),
        (NAMESPACE, None, "shop", "", "/api/v1/namespaces/shop"),
        (DEPLOYMENT, "x", "d", "", "/apis/apps/v1/namespaces/x/deployments/d"),
    ],
)
def test_resource_paths(
    kind: resources.ResourceKind, namespace: str | None, name: str, sub: str, path: str
) -> None:
    assert kind.object_path(name, namespace, sub) == path


def test_collection_paths_and_lookup() -> None:
    assert INGRESS.collection_path() == "/apis/networking.k8s.io/v1/ingresses"
    assert INGRESS.collection_path("a b") == "/apis/networking.k8s.io/v1/namespaces/a%20b/ingresses"
    assert kind_for({"apiVersion": "apps/v1", "kind": "Deployment"}) is DEPLOYMENT
    with pytest.raises(KubernetesError):
        kind_for({"apiVersion": "v1", "kind": "Pod"})
    with pytest.raises(KubernetesError):
        INGRESS.object_path("web")  # namespaced without a namespace


def test_object_ref_round_trip() -> None:
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "3"},
    }
    ref = ObjectRef.of(obj)
    assert ref == ObjectRef("networking.k8s.io/v1", "Ingress", "web", "shop", "u", "3")
    assert ref.as_json() == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": "web",
        "namespace": "shop",
        "uid": "u",
        "resourceVersion": "3",
    }
    assert ObjectRef("v1", "Namespace", "shop").as_json() == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "name": "shop",
    }


def test_fake_cluster_implements_every_protocol() -> None:
    cluster = FakeCluster(
        [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"ingressClassName": "public"},
            },
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
        ]
    )
    state: ClusterState = cluster
    status: StatusWriter = cluster
    applier: ObjectApplier = cluster
    recorder: EventRecorder = cluster
    assert state.has_synced()
    assert [i["metadata"]["name"] for i in state.ingresses()] == ["web"]
    assert [n["metadata"]["name"] for n in state.namespaces()] == ["shop"]
    assert state.services() == ()

    status.patch_ingress_status("shop", "web", [{"hostname": "lb.example"}])
    got = cluster.get("Ingress", "web", "shop")
    assert got is not None
    assert got["status"]["loadBalancer"]["ingress"] == [{"hostname": "lb.example"}]
    with pytest.raises(KubernetesError) as err:
        status.patch_service_status("shop", "missing", [])
    assert err.value.status == 404

    intent = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "public"},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }
    first = applier.apply(intent)
    second = applier.apply(intent)
    assert first["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]
    assert len(cluster.applied) == 2

    now = datetime(2026, 1, 1, tzinfo=UTC)
    recorder.record(
        ObjectRef.of(got),
        type=EventType.WARNING,
        reason="R",
        note="n",
        action="A",
        now=now,
    )
    assert cluster.events[0].reason == "R"
    assert cluster.events[0].now == now
