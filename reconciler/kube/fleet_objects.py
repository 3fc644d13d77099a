"""``KubeFleetObjects``: the fleet stage's ``FleetObjectWriter`` on a real API server.

- ``apply``: server-side apply through ``KubeWriter`` (field manager ``ingress-reconciler``,
  forced: the objects are ours, a hand edit is set back);
- ``list_owned``: every object of the fleet kinds carrying our managed-by label, the owner id and a
  fleet label (one label-selected list per kind; GatewayClasses and Gateways when the cluster
  serves them);
- ``get``: one object, or None (404);
- ``delete``: delete one object; a 404 (already gone) is no error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.fleets.spec import LABEL_FLEET, LABEL_MANAGED_BY, LABEL_OWNER, MANAGED_BY
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    CONFIG_MAP,
    DAEMON_SET,
    DEPLOYMENT,
    GATEWAY,
    GATEWAY_CLASS,
    HORIZONTAL_POD_AUTOSCALER,
    INGRESS_CLASS,
    NAMESPACE,
    POD_DISRUPTION_BUDGET,
    ROLE,
    ROLE_BINDING,
    SERVICE,
    SERVICE_ACCOUNT,
    ResourceKind,
    kind_for,
)
from reconciler.kube.writer import KubeWriter
from reconciler.model.cluster import JsonObject, ObjectRef
from reconciler.model.errors import KubernetesError

__all__ = ["FLEET_KINDS", "KubeFleetObjects", "owned_selector"]

FLEET_KINDS: tuple[ResourceKind, ...] = (
    NAMESPACE,
    SERVICE_ACCOUNT,
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    ROLE,
    ROLE_BINDING,
    INGRESS_CLASS,
    CONFIG_MAP,
    DEPLOYMENT,
    DAEMON_SET,
    POD_DISRUPTION_BUDGET,
    HORIZONTAL_POD_AUTOSCALER,
    SERVICE,
    GATEWAY_CLASS,
    GATEWAY,
)
"""The kinds a fleet is made of (what ``list_owned`` searches; the Gateway API kinds only where
the cluster serves them)."""


def owned_selector(owner_id: str) -> str:
    """The label selector of objects owned by ``owner_id`` that belong to some fleet."""
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_OWNER}={owner_id},{LABEL_FLEET}"


class KubeFleetObjects:
    """``FleetObjectWriter`` over one ``KubeClient`` (and its ``KubeWriter``)."""

    def __init__(self, client: KubeClient, *, writer: KubeWriter | None = None) -> None:
        self.client = client
        self.writer = writer or KubeWriter(client)

    def apply(self, obj: Mapping[str, Any]) -> JsonObject:
        """Server-side apply ``obj`` (forced, our field manager)."""
        return self.writer.apply(obj, force=True)

    def list_owned(self, owner_id: str) -> Sequence[JsonObject]:
        """Every fleet-kind object labelled as ours with ``owner_id``, across namespaces."""
        selector = owned_selector(owner_id)
        found: list[JsonObject] = []
        for kind in FLEET_KINDS:
            try:
                items, _ = self.client.list(kind, label_selector=selector)
            except KubernetesError as exc:
                if exc.status == 404 and kind.group == GATEWAY.group:
                    continue  # Gateway API not installed: nothing of ours there
                raise
            found.extend(items)
        return found

    def get(self, ref: ObjectRef) -> JsonObject | None:
        """The object ``ref`` names, or None when there is none."""
        kind = kind_for({"apiVersion": ref.api_version, "kind": ref.kind})
        try:
            return self.client.get(kind, ref.name, ref.namespace or None)
        except KubernetesError as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, ref: ObjectRef) -> None:
        """Delete the object ``ref`` names; nothing when it is already gone."""
        kind = kind_for({"apiVersion": ref.api_version, "kind": ref.kind})
        try:
            self.client.delete(kind, ref.name, ref.namespace or None)
        except KubernetesError as exc:
            if exc.status != 404:
                raise
