"""WatchCache logic without a server: relist differences, 410 handling, bookmarks, backoff,
callbacks that fail. The client is a scripted stand-in for KubeClient."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from reconciler.kube.cache import Backoff, ClusterCache, WatchCache
from reconciler.kube.client import KubeClient, WatchStream
from reconciler.kube.resources import INGRESS, ResourceKind
from reconciler.model.cluster import ChangeType, ClusterState, JsonObject, ObjectChange
from reconciler.model.errors import KubernetesError

FAST = Backoff(initial=0.001, maximum=0.01)


def ing(name: str, rv: str, ns: str = "ns") -> JsonObject:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": rv},
    }


class ScriptedStream(WatchStream):
    """Yields scripted events, then blocks until closed (like an idle watch)."""

    def __init__(
        self, events: Sequence[JsonObject | Exception], on_idle: Callable[[], None]
    ) -> None:
        self.events = list(events)
        self.on_idle = on_idle
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[JsonObject]:
        for event in self.events:
            if isinstance(event, Exception):
                raise event
            yield event
        self.on_idle()
        self.closed.wait(5)

    def close(self) -> None:
        self.closed.set()


class ScriptedClient(KubeClient):
    """Answers list() and watch() from scripts; records the watch queries."""

    def __init__(
        self,
        lists: Sequence[tuple[list[JsonObject], str] | Exception],
        watches: Sequence[Sequence[JsonObject | Exception] | Exception],
    ) -> None:
        self.lists = list(lists)
        self.watches = list(watches)
        self.watch_queries: list[dict[str, str]] = []
        self.idle = threading.Event()

    def list(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
    ) -> tuple[list[JsonObject], str]:
        step = self.lists.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def watch(
        self,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        connect_timeout: float = 10.0,
        read_timeout: float = 330.0,
    ) -> WatchStream:
        self.watch_queries.append(dict(query))
        step = self.watches.pop(0) if self.watches else []
        if isinstance(step, Exception):
            raise step
        return ScriptedStream(step, self._on_idle)

    def _on_idle(self) -> None:
        # the cache waits on a watch with nothing left to say: the script has played out
        if not self.watches:
            self.idle.set()


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def run(client: ScriptedClient, changes: list[ObjectChange] | None = None) -> WatchCache:
    cache = WatchCache(
        client,
        INGRESS,
        namespace="ns",
        on_change=None if changes is None else changes.append,
        backoff=FAST,
    )
    cache.start()
    wait_for(client.idle.is_set)
    return cache


def test_list_then_watch_events_update_the_store() -> None:
    client = ScriptedClient(
        lists=[([ing("a", "1")], "10")],
        watches=[
            [
                {"type": "ADDED", "object": ing("b", "11")},
                {"type": "MODIFIED", "object": ing("a", "12")},
                {"type": "DELETED", "object": ing("b", "13")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "20"}}},
                {"type": "SOMETHING-NEW", "object": {}},
            ]
        ],
    )
    changes: list[ObjectChange] = []
    cache = run(client, changes)
    try:
        assert cache.has_synced()
        assert [o["metadata"]["name"] for o in cache.items()] == ["a"]
        assert cache.get("a", "ns") == ing("a", "12")
        # the first list is not reported (a reader waits for the sync and reads it all)
        assert [(c.type, c.name) for c in changes] == [
            (ChangeType.ADDED, "b"),
            (ChangeType.MODIFIED, "a"),
            (ChangeType.DELETED, "b"),
        ]
        # the first watch starts at the list's resourceVersion with bookmarks
        assert client.watch_queries[0]["resourceVersion"] == "10"
        assert client.watch_queries[0]["allowWatchBookmarks"] == "true"
        assert cache.stats().resource_version == "20"
    finally:
        cache.stop()


def test_watch_that_ends_resumes_from_the_last_resource_version() -> None:
    client = ScriptedClient(
        lists=[([], "5")],
        watches=[[{"type": "ADDED", "object": ing("a", "7")}]],
    )
    cache = run(client)
    cache.reconnect()  # the connection drops: the next watch starts where the last one ended
    wait_for(lambda: len(client.watch_queries) == 2)
    try:
        assert [q["resourceVersion"] for q in client.watch_queries] == ["5", "7"]
        assert cache.stats().lists == 1
    finally:
        cache.stop()


def test_410_in_the_stream_relists_and_reports_the_differences() -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    client = ScriptedClient(
        lists=[([ing("a", "1"), ing("b", "1")], "10"), ([ing("a", "2"), ing("c", "1")], "30")],
        watches=[[gone]],
    )
    changes: list[ObjectChange] = []
    cache = run(client, changes)
    try:
        assert sorted(o["metadata"]["name"] for o in cache.items()) == ["a", "c"]
        # the relist reports what differs from the first list, which was not reported itself
        assert [(c.type, c.name) for c in changes] == [
            (ChangeType.MODIFIED, "a"),
            (ChangeType.ADDED, "c"),
            (ChangeType.DELETED, "b"),
        ]
        stats = cache.stats()
        assert (stats.lists, stats.relists_after_gone, stats.errors) == (2, 1, 0)
        assert client.watch_queries[-1]["resourceVersion"] == "30"
    finally:
        cache.stop()


def test_410_on_the_watch_request_relists() -> None:
    client = ScriptedClient(
        lists=[([], "1"), ([ing("a", "5")], "6")],
        watches=[KubernetesError("too old", status=410)],
    )
    cache = run(client)
    try:
        assert cache.stats().relists_after_gone == 1
        assert cache.get("a", "ns") is not None
    finally:
        cache.stop()


def test_errors_back_off_and_retry_and_keep_what_was_cached() -> None:
    client = ScriptedClient(
        lists=[
            KubernetesError("refused", transient=True),
            ([ing("a", "1")], "1"),
        ],
        watches=[
            KubernetesError("reset", transient=True),
            [KubernetesError("stream broke", transient=True)],
            [{"type": "ERROR", "object": {"code": 500, "message": "etcd hiccup"}}],
        ],
    )
    cache = run(client)
    try:
        stats = cache.stats()
        assert stats.errors == 4
        assert "etcd hiccup" in stats.last_error
        assert cache.has_synced()
        assert cache.get("a", "ns") is not None
        assert all(q["resourceVersion"] == "1" for q in client.watch_queries)
    finally:
        cache.stop()


def test_not_synced_until_the_first_list_succeeds() -> None:
    client = ScriptedClient(lists=[], watches=[])
    gate = threading.Event()

    def slow_list(*args: Any, **kwargs: Any) -> tuple[list[JsonObject], str]:
        gate.wait(5)
        return [], "1"

    client.list = slow_list  # type: ignore[method-assign]
    cache = WatchCache(client, INGRESS, backoff=FAST)
    cache.start()
    try:
        assert not cache.has_synced()
        assert not cache.wait_synced(0.01)
        gate.set()
        assert cache.wait_synced(5)
    finally:
        cache.stop()


def test_a_failing_callback_does_not_stop_the_cache() -> None:
    client = ScriptedClient(
        lists=[([ing("a", "1")], "1")], watches=[[{"type": "ADDED", "object": ing("b", "2")}]]
    )

    def explode(change: ObjectChange) -> None:
        raise RuntimeError("bug in the callback")

    cache = WatchCache(client, INGRESS, on_change=explode, backoff=FAST)
    cache.start()
    wait_for(client.idle.is_set)
    try:
        assert {o["metadata"]["name"] for o in cache.items()} == {"a", "b"}
    finally:
        cache.stop()


def test_stop_interrupts_an_idle_watch_promptly() -> None:
    client = ScriptedClient(lists=[([], "1")], watches=[])
    cache = run(client)
    started = time.monotonic()
    cache.stop()
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("failures", [1, 2, 5, 50])
def test_backoff_grows_and_is_capped(failures: int) -> None:
    backoff = Backoff(initial=0.2, maximum=30.0)
    cap = min(30.0, 0.2 * 2 ** (failures - 1))
    assert backoff.delay(failures, rand=lambda: 0.0) == pytest.approx(cap / 2)
    assert backoff.delay(failures, rand=lambda: 1.0) == pytest.approx(cap)


def test_cluster_cache_is_a_cluster_state() -> None:
    client = ScriptedClient(lists=[], watches=[])
    state: ClusterState = ClusterCache(client)
    assert not state.has_synced()
    assert state.ingresses() == ()


def test_watches_that_end_at_once_are_backed_off_not_spun() -> None:
    class Empty(WatchStream):
        def __init__(self) -> None:
            pass

        def __iter__(self) -> Iterator[JsonObject]:
            return iter(())

        def close(self) -> None:
            pass

    class EmptyWatches(ScriptedClient):
        def watch(
            self,
            path: str,
            *,
            query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
            connect_timeout: float = 10.0,
            read_timeout: float = 330.0,
        ) -> WatchStream:
            self.watch_queries.append(dict(query))
            return Empty()

    client = EmptyWatches(lists=[([], "1")], watches=[])
    cache = WatchCache(client, INGRESS, backoff=Backoff(initial=0.05, maximum=0.1))
    cache.start()
    try:
        wait_for(lambda: len(client.watch_queries) >= 3)
        time.sleep(0.3)  # measuring a rate: how many watches fit in this span
        assert len(client.watch_queries) < 15
    finally:
        cache.stop()


def test_objects_are_cached_without_what_no_pass_reads() -> None:
    managed = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}]
    listed = ing("a", "1")
    listed["metadata"]["managedFields"] = managed
    watched = ing("b", "11")
    watched["metadata"]["managedFields"] = managed
    for obj in (listed, watched):
        obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
        # equal strings as distinct objects, as two decoded documents hold them
        obj["metadata"]["namespace"] = "".join(["n", "s"])
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ".".join(["192.0.2", "7"])}]}}
        obj["metadata"]["annotations"] = {
            "kubectl.kubernetes.io/last-applied-configuration": '{"kind": "Ingress"}',
            "external-dns.alpha.kubernetes.io/ttl": "60",
        }
        obj["spec"] = {
            "ingressClassName": "public",
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}},
            "rules": [{"host": "a.example.test", "http": {"paths": [{"path": "/"}]}}],
            "tls": [{"hosts": ["a.example.test"], "secretName": "tls"}],
        }
    client = ScriptedClient(
        lists=[([listed], "10")], watches=[[{"type": "ADDED", "object": watched}]]
    )
    changes: list[ObjectChange] = []
    cache = run(client, changes)
    try:
        for name in ("a", "b"):
            stored = cache.get(name, "ns")
            assert stored is not None
            assert "managedFields" not in stored["metadata"]
            assert stored["metadata"]["resourceVersion"]
            # what a pass reads stays: hosts, TLS hosts, the class, other annotations
            assert stored["metadata"]["annotations"] == {
                "external-dns.alpha.kubernetes.io/ttl": "60"
            }
            assert stored["spec"] == {
                "ingressClassName": "public",
                "rules": [{"host": "a.example.test"}],
                "tls": [{"hosts": ["a.example.test"], "secretName": "tls"}],
            }
        assert "managedFields" not in changes[0].obj["metadata"]
        a, b = cache.get("a", "ns"), cache.get("b", "ns")
        assert a is not None
        assert b is not None
        assert "creationTimestamp" not in a["metadata"]
        assert "creationTimestamp" not in b["metadata"]
        # what many Ingresses share is held once
        assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
        a_ip = a["status"]["loadBalancer"]["ingress"][0]["ip"]
        assert a_ip == "192.0.2.7"
        assert a_ip is b["status"]["loadBalancer"]["ingress"][0]["ip"]
    finally:
        cache.stop()
