"""A cluster state read once: listed from the API, or taken from manifest files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from reconciler.dns.manifest_source import ingresses_among, read_objects
from reconciler.kube.client import KubeClient
from reconciler.kube.discovery import served_gateway_kinds
from reconciler.kube.resources import INGRESS, INGRESS_CLASS, NAMESPACE, SERVICE
from reconciler.model.cluster import (
    JsonObject,
)
from reconciler.model.gateway import ROUTE_KINDS
from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict


class ListedState:
    """A ClusterState read once: listed from the API (``once``/``plan`` against a cluster) or
    taken from manifest files (``--manifests``: Namespaces and fleet Services found there give
    tenant selectors their labels and fleets their addresses; Gateways, ListenerSets and Routes
    found there are read as listed).

    Listed from the API it is a :class:`~reconciler.app.pipeline.RefreshableState`: the pass lists
    again after a stage that wrote something, so ``once`` converges in one run."""

    def __init__(
        self,
        *,
        ingresses: Sequence[Mapping[str, Any]] = (),
        ingress_classes: Sequence[Mapping[str, Any]] = (),
        services: Sequence[Mapping[str, Any]] = (),
        namespaces: Sequence[Mapping[str, Any]] = (),
        gateway_api: Sequence[Mapping[str, Any]] = (),
        client: KubeClient | None = None,
    ) -> None:
        self._client = client
        self._ingresses = tuple(ingresses)
        self._classes = tuple(ingress_classes)
        self._services = tuple(services)
        self._namespaces = tuple(namespaces)
        self._gateway_api = tuple(gateway_api)

    @classmethod
    def from_client(cls, client: KubeClient) -> ListedState:
        """List the kinds a pass reads from the API server (the Gateway API kinds it serves)."""
        return cls(
            ingresses=client.list(INGRESS)[0],
            ingress_classes=client.list(INGRESS_CLASS)[0],
            services=client.list(SERVICE)[0],
            namespaces=client.list(NAMESPACE)[0],
            gateway_api=[
                obj
                for kind in served_gateway_kinds(client)
                if kind.kind != "GatewayClass"
                for obj in client.list(kind)[0]
            ],
            client=client,
        )

    def refreshed(self) -> ListedState:
        """Listed again from the API server; manifests do not change, so ``self`` for them."""
        if self._client is None:
            return self
        return ListedState.from_client(self._client)

    @classmethod
    def from_manifests(cls, path: str) -> ListedState:
        """Ingresses (as the manifest source reads them), Services and Namespaces of ``path``."""
        objects = read_objects(path)  # read once: the Ingresses come from the same objects

        def of_kind(kind: str) -> list[JsonObject]:
            return [o for o in objects if o.get("kind") == kind]

        return cls(
            ingresses=ingresses_among(objects),
            ingress_classes=of_kind("IngressClass"),
            services=of_kind("Service"),
            namespaces=of_kind("Namespace"),
            gateway_api=[
                o
                for o in objects
                if str(o.get("apiVersion", "")).startswith("gateway.networking.k8s.io/")
            ],
        )

    def has_synced(self) -> bool:
        """Always: everything was read at construction."""
        return True

    def ingresses(self) -> Sequence[IngressDict]:
        """The Ingresses."""
        return cast(Sequence[IngressDict], self._ingresses)

    def ingress_classes(self) -> Sequence[IngressClassDict]:
        """The IngressClasses."""
        return cast(Sequence[IngressClassDict], self._classes)

    def services(self) -> Sequence[ServiceDict]:
        """The Services."""
        return cast(Sequence[ServiceDict], self._services)

    def namespaces(self) -> Sequence[NamespaceDict]:
        """The Namespaces."""
        return cast(Sequence[NamespaceDict], self._namespaces)

    def _of_kind(self, *kinds: str) -> tuple[JsonObject, ...]:
        return tuple(dict(o) for o in self._gateway_api if o.get("kind") in kinds)

    def gateways(self) -> Sequence[JsonObject]:
        """The Gateways."""
        return self._of_kind("Gateway")

    def listener_sets(self) -> Sequence[JsonObject]:
        """The ListenerSets."""
        return self._of_kind("ListenerSet")

    def routes(self) -> Sequence[JsonObject]:
        """The Routes (every Route kind)."""
        return self._of_kind(*ROUTE_KINDS)
