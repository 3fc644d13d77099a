"""Kubernetes access: the one package that talks to the official kubernetes client.

The package root exports only what the core may depend on without importing the kubernetes client:
the Protocols and value types (``reconciler.kube.protocols``) and the resource table. The
implementations live in submodules the composition root imports:

- ``reconciler.kube.client``: ``load_client`` and ``KubeClient`` (raw JSON, typed errors);
- ``reconciler.kube.cache``: ``ClusterCache``/``WatchCache`` (list + watch; a ClusterState);
- ``reconciler.kube.writer``: ``KubeWriter`` (status patches, server-side apply);
- ``reconciler.kube.events``: ``KubeEventRecorder`` (Events with series de-duplication);
- ``reconciler.kube.fake``: ``FakeCluster``, the in-memory double for unit tests.
"""

from reconciler.kube.protocols import (
    ChangeType,
    ClusterState,
    EventRecorder,
    EventType,
    JsonObject,
    ObjectApplier,
    ObjectChange,
    ObjectRef,
    StatusWriter,
)

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
