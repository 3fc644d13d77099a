"""Kubernetes Events (events.k8s.io/v1) on the object concerned, without event storms.

``KubeEventRecorder`` implements ``EventRecorder`` the way client-go's events broadcaster does:
the first occurrence of an event creates an Event; a repeat of the same (object, type, reason,
action, note) within ``window`` of its last occurrence becomes a *series* on that one Event:
the first repeat writes ``series`` (count 2) at once, later repeats only count in memory and are
written at most once per ``refresh`` (or by ``flush(now)``). A failure repeated every pass thus
costs one write per ``refresh``, not one per pass.

Recording is best effort: an API failure is logged (and counted in ``failures``), never raised into
the reconcile pass. ``now`` is always a parameter (tests need no clock).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.kube.client import MERGE_PATCH, KubeClient
from reconciler.kube.resources import EVENT
from reconciler.model.cluster import EventType, JsonObject, ObjectRef
from reconciler.model.errors import KubernetesError

_EXPIRY_SWEEP = timedelta(seconds=1)
"""How often, at most, series older than the window are swept out."""

__all__ = ["REPORTING_CONTROLLER", "KubeEventRecorder", "microtime"]

log = logging.getLogger(__name__)

REPORTING_CONTROLLER = "ingress-reconciler"
"""``reportingController`` of every Event this project writes."""

MAX_NOTE = 1024
"""The API's limit on ``note`` (bytes); longer notes are cut."""


def microtime(now: datetime) -> str:
    """``now`` in the API's MicroTime format (UTC, microseconds, ``Z``)."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cut(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "..."


@dataclass(slots=True)
class _Series:
    """What the recorder remembers of one Event it wrote (mutable, private)."""

    namespace: str
    name: str
    count: int
    written_count: int
    last_observed: datetime
    last_written: datetime


_Key = tuple[str, str, str, str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class _Intent:
    """One occurrence to record (private)."""

    regarding: ObjectRef
    type: EventType
    reason: str
    note: str
    action: str

    @property
    def key(self) -> _Key:
        ref = self.regarding
        return (
            ref.api_version,
            ref.kind,
            ref.namespace,
            ref.name,
            str(self.type),
            self.reason,
            self.action,
            self.note,
        )


class KubeEventRecorder:
    """Writes Events through ``client``; ``reporting_instance`` names this replica (pod name)."""

    def __init__(
        self,
        client: KubeClient,
        *,
        reporting_instance: str,
        reporting_controller: str = REPORTING_CONTROLLER,
        window: timedelta = timedelta(minutes=6),
        refresh: timedelta = timedelta(minutes=5),
    ) -> None:
        self.client = client
        self.reporting_instance = reporting_instance[:128]
        self.reporting_controller = reporting_controller
        self.window = window
        self.refresh = refresh
        self.failures = 0
        self.writes = 0
        self._lock = threading.Lock()
        self._series: dict[_Key, _Series] = {}
        self._expired_at: datetime | None = None

    def record(
        self,
        regarding: ObjectRef,
        *,
        type: EventType,
        reason: str,
        note: str,
        action: str,
        now: datetime,
    ) -> None:
        """Record one occurrence (see the module docstring for de-duplication)."""
        intent = _Intent(regarding, type, reason[:128], _cut(note, MAX_NOTE), action[:128])
        key = intent.key
        with self._lock:
            self._expire(now)
            series = self._series.get(key)
            if series is not None:
                series.count += 1
                series.last_observed = now
                first_repeat = series.written_count == 1
                due = now - series.last_written >= self.refresh
                if first_repeat or due:
                    self._write_series(series, intent, now)
                return
            self._create(intent, now)

    def flush(self, now: datetime) -> None:
        """Write every series whose count changed and whose last write is ``refresh`` old."""
        with self._lock:
            self._expire(now)
            for series in list(self._series.values()):
                if (
                    series.count != series.written_count
                    and now - series.last_written >= self.refresh
                ):
                    self._patch_series(series, now)

    def _expire(self, now: datetime) -> None:
        # A pass records many events at nearly the same `now`: sweeping every series on each
        # record would make a pass with N findings cost O(N²). Sweep at most once per second.
        if self._expired_at is not None and now - self._expired_at < _EXPIRY_SWEEP:
            return
        self._expired_at = now
        for key, series in list(self._series.items()):
            if now - series.last_observed > self.window:
                if series.count != series.written_count:
                    self._patch_series(series, now)
                del self._series[key]

    def _create(self, intent: _Intent, now: datetime) -> None:
        regarding = intent.regarding
        # cluster-scoped objects get their Events in "default", as client-go does
        namespace = regarding.namespace or "default"
        nanos = int(now.timestamp() * 1_000_000) * 1000
        body: JsonObject = {
            "apiVersion": EVENT.api_version,
            "kind": EVENT.kind,
            "metadata": {"name": f"{regarding.name}.{nanos:x}", "namespace": namespace},
            "eventTime": microtime(now),
            "reportingController": self.reporting_controller,
            "reportingInstance": self.reporting_instance,
            "action": intent.action,
            "reason": intent.reason,
            "note": intent.note,
            "type": str(intent.type),
            "regarding": regarding.as_json(),
        }
        try:
            created = self.client.request("POST", EVENT.collection_path(namespace), body=body)
        except KubernetesError as exc:
            self.failures += 1
            log.warning(
                "event not recorded",
                extra={
                    "kind": regarding.kind,
                    "namespace": regarding.namespace,
                    "object": regarding.name,
                    "reason": intent.reason,
                    "error": str(exc),
                },
            )
            return
        self.writes += 1
        name = str((created.get("metadata") or {}).get("name", body["metadata"]["name"]))
        self._series[intent.key] = _Series(
            namespace=namespace,
            name=name,
            count=1,
            written_count=1,
            last_observed=now,
            last_written=now,
        )

    def _write_series(self, series: _Series, intent: _Intent, now: datetime) -> None:
        if self._patch_series(series, now) == 404:
            # the Event expired on the server (--event-ttl): start a new one
            del self._series[intent.key]
            self._create(intent, now)

    def _patch_series(self, series: _Series, now: datetime) -> int | None:
        """PATCH the series; return None on success, else the failure's HTTP status (or 0)."""
        patch = {"series": {"count": series.count, "lastObservedTime": microtime(now)}}
        try:
            self.client.patch(
                EVENT, series.name, patch, namespace=series.namespace, content_type=MERGE_PATCH
            )
        except KubernetesError as exc:
            self.failures += 1
            log.warning(
                "event series not recorded",
                extra={"namespace": series.namespace, "event": series.name, "error": str(exc)},
            )
            return exc.status or 0
        self.writes += 1
        series.written_count = series.count
        series.last_written = now
        return None
