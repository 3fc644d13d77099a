"""The watch caches against a real kube-apiserver + etcd: create/update/delete, 410 relists,
apiserver restarts, raw camelCase JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.servers.apiserver import ApiServer
from e2e.servers.gateway_api import GatewayApiMissingError, install_gateway_api
from reconciler.kube.cache import Backoff, ClusterCache, WatchCache
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.discovery import served_gateway_kinds
from reconciler.kube.resources import GATEWAY_SOURCES, INGRESS, INGRESS_CLASS, NAMESPACE
from reconciler.model.cluster import ChangeType, ObjectChange
from tests.fixtures.kube import wait_until

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, maximum=0.5)


def ingress(namespace: str, name: str, host: str, cls: str = "public") -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": cls,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def names(cache: WatchCache) -> set[str]:
    return {obj["metadata"]["name"] for obj in cache.items()}


@pytest.fixture
def changes() -> list[ObjectChange]:
    return []


@pytest.fixture
def ingress_cache(
    api_client: KubeClient, namespace: str, changes: list[ObjectChange]
) -> Iterator[WatchCache]:
    cache = WatchCache(
        api_client, INGRESS, namespace=namespace, on_change=changes.append, backoff=FAST
    )
    cache.start()
    assert cache.wait_synced(15)
    yield cache
    cache.stop()


def test_cache_sees_create_update_delete_as_raw_json(
    api_client: KubeClient,
    namespace: str,
    ingress_cache: WatchCache,
    changes: list[ObjectChange],
) -> None:
    assert ingress_cache.items() == ()
    api_client.create(ingress(namespace, "web", "web.example.test"))
    wait_until(lambda: names(ingress_cache) == {"web"}, what="ADDED")

    cached = ingress_cache.get("web", namespace)
    assert cached is not None
    # the API's JSON exactly: camelCase keys, apiVersion/kind present, no snake_case model
    assert cached["apiVersion"] == "networking.k8s.io/v1"
    assert cached["kind"] == "Ingress"
    assert cached["spec"]["ingressClassName"] == "public"
    assert cached["spec"]["rules"][0]["host"] == "web.example.test"
    assert "http" not in cached["spec"]["rules"][0]  # paths and backends: no pass reads them
    assert "creationTimestamp" not in cached["metadata"]  # nor its age
    assert cached["metadata"]["resourceVersion"]
    assert cached["metadata"]["uid"]  # Events name their object by it
    assert "ingress_class_name" not in cached["spec"]

    api_client.patch(
        INGRESS,
        "web",
        {"metadata": {"annotations": {"external-dns.alpha.kubernetes.io/ttl": "60"}}},
        namespace=namespace,
    )
    wait_until(
        lambda: (
            (ingress_cache.get("web", namespace) or {})
            .get("metadata", {})
            .get("annotations", {})
            .get("external-dns.alpha.kubernetes.io/ttl")
            == "60"
        ),
        what="MODIFIED",
    )

    api_client.delete(INGRESS, "web", namespace)
    wait_until(lambda: ingress_cache.items() == (), what="DELETED")

    seen = [(c.type, c.name) for c in changes]
    assert seen == [
        (ChangeType.ADDED, "web"),
        (ChangeType.MODIFIED, "web"),
        (ChangeType.DELETED, "web"),
    ]
    assert all(c.kind == "Ingress" and c.namespace == namespace for c in changes)
    assert ingress_cache.stats().lists == 1


def test_initial_list_pages_through_everything(api_client: KubeClient, namespace: str) -> None:
    for i in range(7):
        api_client.create(ingress(namespace, f"i{i}", f"i{i}.example.test"))
    cache = WatchCache(api_client, INGRESS, namespace=namespace, page_size=3, backoff=FAST)
    cache.start()
    try:
        assert cache.wait_synced(15)
        assert names(cache) == {f"i{i}" for i in range(7)}
        assert cache.has_synced()
    finally:
        cache.stop()


def test_cache_relists_after_apiserver_restart(
    apiserver: ApiServer,
    api_client: KubeClient,
    namespace: str,
    ingress_cache: WatchCache,
    changes: list[ObjectChange],
) -> None:
    api_client.create(ingress(namespace, "before", "before.example.test"))
    wait_until(lambda: names(ingress_cache) == {"before"}, what="first ingress")
    # a write the ingress watch does not see moves etcd past the cache's resourceVersion, so the
    # restarted apiserver's fresh watch cache no longer holds it: the watch gets 410 Gone
    api_client.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "bump", "namespace": namespace},
        }
    )
    watches_before = ingress_cache.stats().watches

    apiserver.restart()
    api_client.create(ingress(namespace, "after", "after.example.test"))

    wait_until(lambda: names(ingress_cache) == {"before", "after"}, timeout=30, what="relist")
    stats = ingress_cache.stats()
    assert stats.relists_after_gone >= 1
    assert stats.lists >= 2
    assert stats.watches > watches_before
    assert ingress_cache.has_synced()
    # the relist found nothing new for "before"; "after" arrived once
    assert [(c.type, c.name) for c in changes].count((ChangeType.ADDED, "after")) == 1
    assert [(c.type, c.name) for c in changes].count((ChangeType.ADDED, "before")) == 1


def test_cache_rides_out_an_apiserver_outage(
    apiserver: ApiServer, api_client: KubeClient, namespace: str, ingress_cache: WatchCache
) -> None:
    apiserver.stop_apiserver()
    try:
        # first the open watch breaks, then reconnects are refused (and backed off)
        wait_until(
            lambda: "Connection refused" in ingress_cache.stats().last_error,
            what="a refused reconnect",
        )
        assert ingress_cache.stats().errors >= 2
        assert ingress_cache.has_synced()  # still serves what it had
    finally:
        apiserver.start_apiserver()
    api_client.create(ingress(namespace, "back", "back.example.test"))
    wait_until(lambda: names(ingress_cache) == {"back"}, timeout=30, what="watch resumed")


def test_cluster_cache_serves_all_four_kinds(api_client: KubeClient, namespace: str) -> None:
    pokes: list[ObjectChange] = []
    cache = ClusterCache(api_client, namespace=namespace, on_change=pokes.append, backoff=FAST)
    cache.start()
    try:
        assert cache.wait_synced(15)
        assert cache.has_synced()
        assert namespace in {n["metadata"]["name"] for n in cache.namespaces()}
        api_client.create(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "IngressClass",
                "metadata": {"name": f"cls-{namespace}"},
                "spec": {"controller": "k8s.io/ingress-nginx"},
            }
        )
        api_client.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}},
            }
        )
        api_client.create(ingress(namespace, "web", "web.example.test"))
        wait_until(
            lambda: len(cache.ingresses()) == 1 and len(cache.services()) == 1,
            what="ingress and service",
        )
        wait_until(
            lambda: f"cls-{namespace}" in {c["metadata"]["name"] for c in cache.ingress_classes()},
            what="ingress class",
        )
        # the first list reported nothing; a Namespace's new label is reported like the rest
        api_client.patch(NAMESPACE, namespace, {"metadata": {"labels": {"team": "b"}}})
        wait_until(lambda: "Namespace" in {p.kind for p in pokes}, what="namespace change")
        assert {p.kind for p in pokes} >= {"Ingress", "Service", "IngressClass", "Namespace"}
    finally:
        cache.stop()
        api_client.delete(INGRESS_CLASS, f"cls-{namespace}")


def test_cluster_cache_discovers_and_watches_the_gateway_api_kinds_served(
    apiserver: ApiServer, api_client: KubeClient, namespace: str
) -> None:
    try:
        install_gateway_api(apiserver)
    except GatewayApiMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    served = {k.kind for k in served_gateway_kinds(api_client)}
    # the v1.6.1 standard channel serves every kind read at v1 (TCPRoute and UDPRoute too)
    assert served == {
        "GatewayClass",
        "Gateway",
        "ListenerSet",
        "HTTPRoute",
        "GRPCRoute",
        "TLSRoute",
        "TCPRoute",
        "UDPRoute",
    }
    pokes: list[ObjectChange] = []
    cache = ClusterCache(
        api_client,
        namespace=namespace,
        on_change=pokes.append,
        backoff=FAST,
        gateway_kinds=served_gateway_kinds(api_client, GATEWAY_SOURCES),
    )
    cache.start()
    try:
        assert cache.wait_synced(15)
        api_client.create(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "edge", "namespace": namespace},
                "spec": {
                    "gatewayClassName": "x",
                    "listeners": [{"name": "http", "protocol": "HTTP", "port": 80}],
                },
            }
        )
        api_client.create(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"parentRefs": [{"name": "edge"}], "hostnames": ["web.example.test"]},
            }
        )
        wait_until(
            lambda: len(cache.routes()) == 1 and len(cache.gateways()) == 1,
            what="the Route and the Gateway",
        )
        (cached,) = cache.routes()
        assert cached["kind"] == "HTTPRoute"  # a pass tells Route kinds apart by it
        assert "managedFields" not in cached["metadata"]
        wait_until(lambda: "HTTPRoute" in {p.kind for p in pokes}, what="the Route's change")
        assert {"Gateway", "HTTPRoute"} <= {p.kind for p in pokes}
    finally:
        cache.stop()


@pytest.fixture(scope="module")
def uncached_apiserver() -> Iterator[ApiServer]:
    """An apiserver without its watch cache: watches go to etcd, so etcd compaction bites."""
    with ApiServer(extra_args=["--watch-cache=false"]) as server:
        yield server


def test_cache_relists_after_etcd_compaction(uncached_apiserver: ApiServer) -> None:
    api = uncached_apiserver
    client = load_client(kubeconfig=api.kubeconfig)
    try:
        api.must("POST", "/api/v1/namespaces", {"metadata": {"name": "compact"}})
        client.create(ingress("compact", "a", "a.example.test"))
        cache = WatchCache(client, INGRESS, namespace="compact", backoff=FAST)
        cache.start()
        try:
            assert cache.wait_synced(15)
            # writes the ingress watch does not see, then compaction past them (etcd keeps the
            # compaction revision itself, so two writes put the watch's start below it)
            for name in ("x", "y"):
                client.create(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": name, "namespace": "compact"},
                    }
                )
            api.etcd_compact()
            cache.reconnect()  # the next watch starts from a compacted revision
            wait_until(lambda: cache.stats().relists_after_gone >= 1, what="410 Gone relist")
            client.create(ingress("compact", "b", "b.example.test"))
            wait_until(lambda: names(cache) == {"a", "b"}, what="watch after relist")
            assert cache.stats().lists >= 2
        finally:
            cache.stop()
    finally:
        client.close()


def test_namespace_fixture_cleans_up_after_itself(apiserver: ApiServer) -> None:
    apiserver.create_namespace("cleanup-check")
    apiserver.must(
        "POST",
        "/apis/networking.k8s.io/v1/namespaces/cleanup-check/ingresses",
        ingress("cleanup-check", "web", "web.example.test"),
    )
    apiserver.delete_namespace("cleanup-check")
    status, _ = apiserver.request("GET", "/api/v1/namespaces/cleanup-check")
    assert status == 404
    items = apiserver.must("GET", "/apis/networking.k8s.io/v1/namespaces/cleanup-check/ingresses")
    assert items["items"] == []
