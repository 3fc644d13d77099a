"""``ServiceStatusWriter`` on the real API: Service status patches and finalizers.

``KubeServiceStatus`` implements ``reconciler.fleets.load_balancers.ServiceStatusWriter``:

- ``patch_service_status`` delegates to a ``StatusWriter`` (``KubeWriter``: the status
  subresource, ``status.loadBalancer.ingress`` written whole);
- ``add_finalizer`` / ``remove_finalizer`` read the Service, then merge-patch
  ``metadata.finalizers`` *with the resourceVersion read*: the API server refuses the patch
  (409 Conflict) when someone changed the Service in between, so another controller's finalizer
  is never lost; a conflict is retried with a fresh read. Finalizers are not written by
  server-side apply on purpose: the fleet stage applies the same Service with the same field
  manager, and an apply that does not mention the finalizer would remove it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.kube.client import MERGE_PATCH, KubeClient
from reconciler.kube.resources import SERVICE
from reconciler.model.cluster import JsonObject, StatusWriter
from reconciler.model.errors import KubernetesError

__all__ = ["KubeServiceStatus"]


class KubeServiceStatus:
    """Service writes of the load-balancer stage through ``client`` and ``writer``."""

    def __init__(self, *, client: KubeClient, writer: StatusWriter, attempts: int = 5) -> None:
        self.client = client
        self.writer = writer
        self.attempts = attempts

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set ``status.loadBalancer.ingress`` of a Service to exactly ``load_balancer``."""
        return self.writer.patch_service_status(namespace, name, load_balancer)

    def add_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Add ``finalizer`` to the Service (no-op when present)."""
        self._update(namespace, name, finalizer, add=True)

    def remove_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        """Remove ``finalizer`` from the Service (no-op when absent or the Service is gone)."""
        self._update(namespace, name, finalizer, add=False)

    def _update(self, namespace: str, name: str, finalizer: str, *, add: bool) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                current = self.client.get(SERVICE, name, namespace)
            except KubernetesError as exc:
                if exc.status == 404 and not add:
                    return
                raise
            meta = current.get("metadata") or {}
            finalizers = [str(f) for f in meta.get("finalizers") or ()]
            if (finalizer in finalizers) == add:
                return
            updated = [*finalizers, finalizer] if add else [f for f in finalizers if f != finalizer]
            patch = {
                "metadata": {
                    "finalizers": updated,
                    "resourceVersion": str(meta.get("resourceVersion", "")),
                }
            }
            try:
                self.client.patch(
                    SERVICE, name, patch, namespace=namespace, content_type=MERGE_PATCH
                )
            except KubernetesError as exc:
                if exc.status == 409 and attempt < self.attempts:
                    continue
                if exc.status == 404 and not add:
                    return
                raise
            return
