"""The ``coordination.k8s.io/v1`` Lease behind leader election (a :class:`LeaseStore`).

Reads and writes one Lease through :class:`reconciler.kube.client.KubeClient` (raw JSON).
Updates are full replacements carrying the resourceVersion that was read, so the apiserver
refuses (409) a write based on a stale read: the optimistic concurrency leader election relies
on. Every failure leaves as :class:`reconciler.model.errors.KubernetesError` (``status`` when the
apiserver answered; ``transient`` for timeouts, connection errors, 429 and 5xx): the client wraps
transport errors, this module wraps unreadable answers.

Times are written as MicroTime (``2006-01-02T15:04:05.000000Z``) by hand: ``isoformat()`` drops the
fraction when it is zero, and the apiserver's MicroTime parser then refuses the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from reconciler.kube.client import KubeClient
from reconciler.model.errors import KubernetesError
from reconciler.runtime.leader import LeaseRecord

__all__ = ["KubeLeaseStore", "format_micro_time", "parse_micro_time"]


def format_micro_time(value: datetime) -> str:
    """``value`` as Kubernetes MicroTime: UTC, always six fractional digits, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: str | None) -> datetime | None:
    """Parse MicroTime (or plain RFC 3339 Time) into an aware UTC datetime; None stays None."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _record_from_json(obj: Mapping[str, Any]) -> LeaseRecord:
    spec = obj.get("spec") or {}
    return LeaseRecord(
        holder_identity=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        lease_transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=str((obj.get("metadata") or {}).get("resourceVersion") or ""),
    )


class KubeLeaseStore:
    """One Lease ``namespace/name`` on the apiserver behind ``client``."""

    def __init__(
        self,
        *,
        client: KubeClient,
        namespace: str,
        name: str,
        request_timeout: float = 5.0,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._name = name
        self._timeout = request_timeout

    @property
    def reference(self) -> str:
        """``namespace/name`` of the Lease (for logs)."""
        return f"{self._namespace}/{self._name}"

    def get(self) -> LeaseRecord | None:
        """The Lease as stored now, or None if it does not exist."""
        try:
            return self._request("read", "GET", self._object_path(), None)
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create the Lease (409 if it exists)."""
        body = self._body(record, with_version=False)
        return self._request("create", "POST", self._collection_path(), body)

    def update(self, record: LeaseRecord) -> LeaseRecord:
        """Replace the Lease if ``record.resource_version`` is still current (else 409)."""
        body = self._body(record, with_version=True)
        return self._request("update", "PUT", self._object_path(), body)

    def _collection_path(self) -> str:
        return f"/apis/coordination.k8s.io/v1/namespaces/{quote(self._namespace, safe='')}/leases"

    def _object_path(self) -> str:
        return f"{self._collection_path()}/{quote(self._name, safe='')}"

    def _body(self, record: LeaseRecord, *, with_version: bool) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": record.holder_identity,
            "leaseDurationSeconds": record.lease_duration_seconds,
            "leaseTransitions": record.lease_transitions,
        }
        if record.acquire_time is not None:
            spec["acquireTime"] = format_micro_time(record.acquire_time)
        if record.renew_time is not None:
            spec["renewTime"] = format_micro_time(record.renew_time)
        metadata: dict[str, Any] = {"name": self._name, "namespace": self._namespace}
        if with_version and record.resource_version:
            metadata["resourceVersion"] = record.resource_version
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    def _request(
        self, verb: str, method: str, path: str, body: Mapping[str, Any] | None
    ) -> LeaseRecord:
        # KubeClient already turns every library failure into KubernetesError (status, transient).
        obj = self._client.request(method, path, body=body, timeout=self._timeout)
        try:
            return _record_from_json(obj)
        except (ValueError, TypeError, AttributeError) as exc:
            raise KubernetesError(
                f"{verb} lease {self.reference}: unreadable answer: {exc}", transient=True
            ) from exc
