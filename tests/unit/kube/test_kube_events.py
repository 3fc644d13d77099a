"""KubeEventRecorder's de-duplication with time as a parameter: one Event per occurrence group,
series writes bounded by ``refresh``, expiry after ``window``, recreate after a 404."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.kube.client import JSON, KubeClient
from reconciler.kube.events import KubeEventRecorder, microtime
from reconciler.model.cluster import EventType, JsonObject, ObjectRef
from reconciler.model.errors import KubernetesError

T0 = datetime(2026, 11, 21, 6, 0, tzinfo=UTC)
REF = ObjectRef("networking.k8s.io/v1", "Ingress", "web", "shop", uid="u-1", resource_version="7")


class RecordingClient(KubeClient):
    """Records requests; fails them when told to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.fail_with: KubernetesError | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
    ) -> JsonObject:
        self.calls.append((method, path, body))
        if self.fail_with is not None:
            raise self.fail_with
        return dict(body or {})


def record(recorder: KubeEventRecorder, now: datetime, note: str = "no zone") -> None:
    recorder.record(
        REF, type=EventType.WARNING, reason="ZoneNotFound", note=note, action="PublishDNS", now=now
    )


def test_first_occurrence_creates_a_well_formed_event() -> None:
    client = RecordingClient()
    record(KubeEventRecorder(client, reporting_instance="pod-1"), T0)
    ((method, path, body),) = client.calls
    assert (method, path) == ("POST", "/apis/events.k8s.io/v1/namespaces/shop/events")
    assert body["metadata"]["namespace"] == "shop"
    assert body["metadata"]["name"].startswith("web.")
    assert body["eventTime"] == "2026-11-21T06:00:00.000000Z"
    assert body["regarding"] == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": "web",
        "namespace": "shop",
        "uid": "u-1",
        "resourceVersion": "7",
    }
    assert (body["type"], body["reason"], body["action"]) == (
        "Warning",
        "ZoneNotFound",
        "PublishDNS",
    )
    assert body["reportingController"] == "ingress-reconciler"
    assert body["reportingInstance"] == "pod-1"


def test_repeats_become_a_series_with_bounded_writes() -> None:
    client = RecordingClient()
    recorder = KubeEventRecorder(
        client, reporting_instance="p", window=timedelta(minutes=6), refresh=timedelta(minutes=5)
    )
    for second in range(0, 600, 10):  # every 10 s for 10 minutes: 60 occurrences
        record(recorder, T0 + timedelta(seconds=second))
    methods = [c[0] for c in client.calls]
    # create, first repeat (count 2), then one refresh after 5 minutes
    assert methods == ["POST", "PATCH", "PATCH"]
    assert client.calls[1][2] == {
        "series": {"count": 2, "lastObservedTime": microtime(T0 + timedelta(seconds=10))}
    }
    assert client.calls[2][2]["series"]["count"] == 32  # observed at 310 s
    recorder.flush(T0 + timedelta(minutes=11))
    assert client.calls[-1][2]["series"]["count"] == 60
    recorder.flush(T0 + timedelta(minutes=30))
    assert len(client.calls) == 4  # nothing new to write


def test_different_notes_are_different_events() -> None:
    client = RecordingClient()
    recorder = KubeEventRecorder(client, reporting_instance="p")
    record(recorder, T0, note="a")
    record(recorder, T0, note="b")
    assert [c[0] for c in client.calls] == ["POST", "POST"]


def test_quiet_for_longer_than_the_window_starts_a_new_event() -> None:
    client = RecordingClient()
    recorder = KubeEventRecorder(client, reporting_instance="p", window=timedelta(minutes=6))
    record(recorder, T0)
    record(recorder, T0 + timedelta(minutes=7))
    assert [c[0] for c in client.calls] == ["POST", "POST"]


def test_expired_event_on_the_server_is_recreated() -> None:
    client = RecordingClient()
    recorder = KubeEventRecorder(client, reporting_instance="p")
    record(recorder, T0)
    client.fail_with = KubernetesError("gone", status=404)
    record(recorder, T0 + timedelta(seconds=1))  # PATCH fails with 404, POST fails too
    client.fail_with = None
    record(recorder, T0 + timedelta(seconds=2))
    assert [c[0] for c in client.calls] == ["POST", "PATCH", "POST", "POST"]
    assert recorder.failures == 2


def test_failures_are_counted_not_raised() -> None:
    client = RecordingClient()
    client.fail_with = KubernetesError("forbidden", status=403)
    recorder = KubeEventRecorder(client, reporting_instance="p")
    record(recorder, T0)
    assert recorder.failures == 1
    assert recorder.writes == 0


def test_long_notes_are_cut_to_the_api_limit() -> None:
    client = RecordingClient()
    record(KubeEventRecorder(client, reporting_instance="p"), T0, note="é" * 2000)
    note = client.calls[0][2]["note"]
    assert len(note.encode()) <= 1024
    assert note.endswith("...")


def test_cluster_scoped_objects_get_events_in_default() -> None:
    client = RecordingClient()
    recorder = KubeEventRecorder(client, reporting_instance="p")
    recorder.record(
        ObjectRef("networking.k8s.io/v1", "IngressClass", "public"),
        type=EventType.NORMAL,
        reason="Applied",
        note="ok",
        action="ApplyFleet",
        now=T0,
    )
    assert client.calls[0][1] == "/apis/events.k8s.io/v1/namespaces/default/events"
    assert "namespace" not in client.calls[0][2]["regarding"]
