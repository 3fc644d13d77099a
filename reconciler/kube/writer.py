"""Writes to the API server: load-balancer status of Ingresses/Services, server-side apply.

``KubeWriter`` implements ``StatusWriter`` and ``ObjectApplier``:

- ``patch_ingress_status`` / ``patch_service_status`` merge-patch the ``status`` subresource with
  ``status.loadBalancer.ingress`` written whole (a merge patch replaces a list entirely).
- ``apply(obj)`` is server-side apply (``application/apply-patch+yaml``) with
  ``fieldManager=ingress-reconciler``; ``force=True`` takes over fields another manager set,
  which is right for objects the reconciler owns. An unchanged intent leaves the object (and its
  resourceVersion) untouched; a drifted field is set back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.kube.client import APPLY_PATCH, MERGE_PATCH, KubeClient
from reconciler.kube.resources import INGRESS, SERVICE, ResourceKind, kind_for
from reconciler.model.cluster import JsonObject

__all__ = ["FIELD_MANAGER", "KubeWriter"]

FIELD_MANAGER = "ingress-reconciler"
"""The field manager name of every write this project makes."""


class KubeWriter:
    """Status patches and server-side apply through one ``KubeClient``."""

    def __init__(self, client: KubeClient, *, field_manager: str = FIELD_MANAGER) -> None:
        self.client = client
        self.field_manager = field_manager

    def patch_status(
        self, kind: ResourceKind, namespace: str, name: str, status: Mapping[str, Any]
    ) -> JsonObject:
        """Merge-patch ``status`` into the object's status subresource; return the object."""
        return self.client.patch(
            kind,
            name,
            {"status": dict(status)},
            namespace=namespace,
            subresource="status",
            content_type=MERGE_PATCH,
            query={"fieldManager": self.field_manager},
        )

    def patch_ingress_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set ``status.loadBalancer.ingress`` of an Ingress to exactly ``load_balancer``."""
        return self.patch_status(
            INGRESS,
            namespace,
            name,
            {"loadBalancer": {"ingress": [dict(i) for i in load_balancer]}},
        )

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        """Set ``status.loadBalancer.ingress`` of a Service to exactly ``load_balancer``."""
        return self.patch_status(
            SERVICE,
            namespace,
            name,
            {"loadBalancer": {"ingress": [dict(i) for i in load_balancer]}},
        )

    def apply(
        self, obj: Mapping[str, Any], *, force: bool = True, dry_run: bool = False
    ) -> JsonObject:
        """Server-side apply ``obj`` (apiVersion, kind, metadata name/namespace, owned fields)."""
        kind = kind_for(obj)
        meta = obj.get("metadata") or {}
        query = [("fieldManager", self.field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        return self.client.patch(
            kind,
            str(meta.get("name", "")),
            obj,
            namespace=meta.get("namespace") or None,
            content_type=APPLY_PATCH,
            query=query,
        )
