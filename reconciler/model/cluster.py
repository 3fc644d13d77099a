"""What the rest of the core needs from Kubernetes, as Protocols (no kubernetes import here).

The core and its unit tests depend on these, never on the kubernetes client:

- ``ClusterState``: the watch-backed caches, read from memory during a pass.
- ``StatusWriter``: ``status.loadBalancer.ingress`` of Ingresses and Services, written whole.
- ``ObjectApplier``: server-side apply of the objects the reconciler owns.
- ``EventRecorder``: Kubernetes Events on the object concerned.

Objects are plain JSON dicts with the API's camelCase keys (``JsonObject``; the ClusterState
readers are typed with the TypedDicts of ``reconciler.model.k8s_json``); treat them as read-only.
``reconciler.kube.fake.FakeCluster`` implements all four in memory for unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict

__all__ = [
    "ChangeType",
    "ClusterState",
    "EventRecorder",
    "EventType",
    "JsonObject",
    "ObjectApplier",
    "ObjectChange",
    "ObjectRef",
    "StatusWriter",
]

JsonObject = dict[str, Any]
"""A Kubernetes object as the API serves it: decoded JSON, camelCase keys."""


class EventType(StrEnum):
    """The ``type`` of a Kubernetes Event."""

    NORMAL = "Normal"
    WARNING = "Warning"


class ChangeType(StrEnum):
    """What happened to an object in a cache."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A reference to one object (what an Event is about, what a log line names)."""

    api_version: str
    """The object's ``apiVersion``, e.g. ``"networking.k8s.io/v1"``."""
    kind: str
    """The object's ``kind``, e.g. ``"Ingress"``."""
    name: str
    """``metadata.name``."""
    namespace: str = ""
    """``metadata.namespace``; empty for cluster-scoped objects."""
    uid: str = ""
    """``metadata.uid`` when known."""
    resource_version: str = ""
    """``metadata.resourceVersion`` when known."""

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        """The reference of a JSON object (it must carry ``apiVersion`` and ``kind``)."""
        meta = obj.get("metadata") or {}
        return cls(
            api_version=str(obj.get("apiVersion", "")),
            kind=str(obj.get("kind", "")),
            name=str(meta.get("name", "")),
            namespace=str(meta.get("namespace", "") or ""),
            uid=str(meta.get("uid", "") or ""),
            resource_version=str(meta.get("resourceVersion", "") or ""),
        )

    def as_json(self) -> JsonObject:
        """The ``ObjectReference`` JSON form (only the fields that are set)."""
        ref: JsonObject = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            ref["namespace"] = self.namespace
        if self.uid:
            ref["uid"] = self.uid
        if self.resource_version:
            ref["resourceVersion"] = self.resource_version
        return ref


@dataclass(frozen=True, slots=True)
class ObjectChange:
    """One change a cache observed (passed to its ``on_change`` callback)."""

    type: ChangeType
    """Added, modified or deleted."""
    kind: str
    """The object's kind, e.g. ``"Ingress"``."""
    namespace: str
    """The object's namespace; empty for cluster-scoped objects."""
    name: str
    """The object's name."""
    obj: JsonObject
    """The object as now cached (for DELETED: its last known state)."""


class ClusterState(Protocol):
    """Read access to the cluster objects a pass needs, served from memory."""

    def has_synced(self) -> bool:
        """True once every cache has listed its objects at least once."""
        ...

    def ingresses(self) -> Sequence[IngressDict]:
        """Every cached Ingress (networking.k8s.io/v1)."""
        ...

    def ingress_classes(self) -> Sequence[IngressClassDict]:
        """Every cached IngressClass."""
        ...

    def services(self) -> Sequence[ServiceDict]:
        """Every cached Service."""
        ...

    def namespaces(self) -> Sequence[NamespaceDict]:
        """Every cached Namespace."""
        ...

    def gateways(self) -> Sequence[JsonObject]:
        """Every cached Gateway (gateway.networking.k8s.io/v1; none when not served)."""
        ...

    def listener_sets(self) -> Sequence[JsonObject]:
        """Every cached ListenerSet (none when not served)."""
        ...

    def routes(self) -> Sequence[JsonObject]:
        """Every cached Route of the kinds served at v1 (HTTPRoute, GRPCRoute, TLSRoute,
        TCPRoute, UDPRoute), each with its ``kind``."""
        ...


class StatusWriter(Protocol):
    """Writes the load-balancer status of Ingresses and Services (the ``status`` subresource)."""

    def patch_ingress_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set ``status.loadBalancer.ingress`` of an Ingress to exactly ``load_balancer``."""
        ...

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set ``status.loadBalancer.ingress`` of a Service to exactly ``load_balancer``."""
        ...


class ObjectApplier(Protocol):
    """Server-side apply for objects the reconciler owns."""

    def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> JsonObject:
        """Apply ``obj`` (a full intent with apiVersion, kind, metadata) and return the result."""
        ...


class EventRecorder(Protocol):
    """Records Kubernetes Events on the object concerned, without event storms."""

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
        """Record one occurrence; repeats within the recorder's window become one Event's series."""
        ...
