"""In-memory test double for the core's Kubernetes Protocols (no kubernetes import).

``FakeCluster`` implements ``ClusterState``, ``StatusWriter``, ``ObjectApplier`` and
``EventRecorder``: seed it with JSON objects, run the code under test, then read what it wrote
(``status_patches``, ``applied``, ``events``) or the objects themselves (``get``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from reconciler.model.cluster import EventType, JsonObject, ObjectRef
from reconciler.model.errors import KubernetesError
from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict

__all__ = ["FakeCluster", "RecordedEvent"]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """One ``record`` call the fake received."""

    regarding: ObjectRef
    """The object the Event is about."""
    type: EventType
    """Normal or Warning."""
    reason: str
    """Machine-readable reason (UpperCamelCase)."""
    note: str
    """Human-readable note."""
    action: str
    """What the reconciler did or failed to do."""
    now: datetime
    """The time passed in."""


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return str(obj.get("kind", "")), str(meta.get("namespace", "") or ""), str(meta["name"])


class FakeCluster:
    """Objects in a dict; every write is recorded. Not thread-safe (unit tests only)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = (), *, synced: bool = True) -> None:
        self.objects: dict[tuple[str, str, str], JsonObject] = {}
        self.synced = synced
        self.status_patches: list[tuple[str, str, str, list[dict[str, Any]]]] = []
        self.applied: list[JsonObject] = []
        self.events: list[RecordedEvent] = []
        self._rv = 0
        for obj in objects:
            self.put(obj)

    def put(self, obj: Mapping[str, Any]) -> JsonObject:
        """Add or replace an object (a deep copy, with a new resourceVersion)."""
        stored = copy.deepcopy(dict(obj))
        self._rv += 1
        stored.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self.objects[_key(stored)] = stored
        return stored

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        """Remove an object (no error when absent)."""
        self.objects.pop((kind, namespace, name), None)

    def get(self, kind: str, name: str, namespace: str = "") -> JsonObject | None:
        """One object, or None."""
        return self.objects.get((kind, namespace, name))

    def _of_kind(self, kind: str) -> tuple[JsonObject, ...]:
        return tuple(obj for key, obj in sorted(self.objects.items()) if key[0] == kind)

    # --- ClusterState ----------------------------------------------------------------------

    def has_synced(self) -> bool:
        """As set by the test (default True)."""
        return self.synced

    def ingresses(self) -> Sequence[IngressDict]:
        """Every Ingress."""
        return cast(Sequence[IngressDict], self._of_kind("Ingress"))

    def ingress_classes(self) -> Sequence[IngressClassDict]:
        """Every IngressClass."""
        return cast(Sequence[IngressClassDict], self._of_kind("IngressClass"))

    def services(self) -> Sequence[ServiceDict]:
        """Every Service."""
        return cast(Sequence[ServiceDict], self._of_kind("Service"))

    def namespaces(self) -> Sequence[NamespaceDict]:
        """Every Namespace."""
        return cast(Sequence[NamespaceDict], self._of_kind("Namespace"))

    def gateways(self) -> tuple[JsonObject, ...]:
        """Gateways put in."""
        return self._of_kind("Gateway")

    def listener_sets(self) -> tuple[JsonObject, ...]:
        """ListenerSets put in."""
        return self._of_kind("ListenerSet")

    def routes(self) -> tuple[JsonObject, ...]:
        """Routes put in (every Route kind)."""
        kinds = ("GRPCRoute", "HTTPRoute", "TCPRoute", "TLSRoute", "UDPRoute")
        return tuple(obj for key, obj in sorted(self.objects.items()) if key[0] in kinds)

    # --- StatusWriter ----------------------------------------------------------------------

    def _patch_lb(
        self, kind: str, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        obj = self.get(kind, name, namespace)
        if obj is None:
            raise KubernetesError(f"{kind} {namespace}/{name} not found", status=404)
        ingress = [dict(i) for i in load_balancer]
        self.status_patches.append((kind, namespace, name, ingress))
        updated = copy.deepcopy(obj)
        updated.setdefault("status", {})["loadBalancer"] = {"ingress": ingress}
        return self.put(updated)

    def patch_ingress_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set an Ingress's ``status.loadBalancer.ingress`` and record the patch."""
        return self._patch_lb("Ingress", namespace, name, load_balancer)

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set a Service's ``status.loadBalancer.ingress`` and record the patch."""
        return self._patch_lb("Service", namespace, name, load_balancer)

    # --- ObjectApplier ---------------------------------------------------------------------

    def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> JsonObject:
        """Record the intent; store it merged over the existing object (top-level keys)."""
        del force
        self.applied.append(copy.deepcopy(dict(obj)))
        kind, namespace, name = _key(obj)
        existing = self.get(kind, name, namespace)
        merged = {**(existing or {}), **copy.deepcopy(dict(obj))}
        if existing is not None and {k: v for k, v in existing.items() if k != "metadata"} == {
            k: v for k, v in merged.items() if k != "metadata"
        }:
            return existing
        return self.put(merged)

    # --- EventRecorder ---------------------------------------------------------------------

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
        """Record the call."""
        self.events.append(RecordedEvent(regarding, type, reason, note, action, now))
