"""Raw Kubernetes JSON at the edge, as the API serves it (camelCase), typed for mypy only.

Every class is ``TypedDict(total=False)``: the API may omit any field, so readers use ``.get``.
Only the fields this project reads or writes are declared.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = [
    "IngressBackendDict",
    "IngressClassDict",
    "IngressClassSpecDict",
    "IngressDict",
    "IngressRuleDict",
    "IngressSpecDict",
    "IngressStatusDict",
    "IngressTLSDict",
    "LoadBalancerIngressDict",
    "LoadBalancerStatusDict",
    "NamespaceDict",
    "ObjectMetaDict",
    "PortStatusDict",
    "ServiceDict",
    "ServicePortDict",
    "ServiceSpecDict",
    "ServiceStatusDict",
]


class ObjectMetaDict(TypedDict, total=False):
    """``metadata`` of any object."""

    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    labels: dict[str, str]
    annotations: dict[str, str]
    deletionTimestamp: str
    creationTimestamp: str


class PortStatusDict(TypedDict, total=False):
    """One entry of a load balancer ingress's ``ports``."""

    port: int
    protocol: str
    error: str


class LoadBalancerIngressDict(TypedDict, total=False):
    """One address of a load balancer: an IP, a hostname, or both."""

    ip: str
    hostname: str
    ipMode: str
    ports: list[PortStatusDict]


class LoadBalancerStatusDict(TypedDict, total=False):
    """``status.loadBalancer`` of a Service or Ingress."""

    ingress: list[LoadBalancerIngressDict]


class IngressBackendDict(TypedDict, total=False):
    """A backend (service or resource); kept opaque beyond its presence."""

    service: dict[str, object]
    resource: dict[str, object]


class IngressRuleDict(TypedDict, total=False):
    """One ``spec.rules[]`` entry."""

    host: str
    http: dict[str, object]


class IngressTLSDict(TypedDict, total=False):
    """One ``spec.tls[]`` entry."""

    hosts: list[str]
    secretName: str


class IngressSpecDict(TypedDict, total=False):
    """``spec`` of a networking.k8s.io/v1 Ingress."""

    ingressClassName: str
    defaultBackend: IngressBackendDict
    rules: list[IngressRuleDict]
    tls: list[IngressTLSDict]


class IngressStatusDict(TypedDict, total=False):
    """``status`` of an Ingress."""

    loadBalancer: LoadBalancerStatusDict


class IngressDict(TypedDict, total=False):
    """A networking.k8s.io/v1 Ingress."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaDict
    spec: IngressSpecDict
    status: IngressStatusDict


class IngressClassSpecDict(TypedDict, total=False):
    """``spec`` of an IngressClass."""

    controller: str
    parameters: dict[str, object]


class IngressClassDict(TypedDict, total=False):
    """A networking.k8s.io/v1 IngressClass."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaDict
    spec: IngressClassSpecDict


class ServicePortDict(TypedDict, total=False):
    """One ``spec.ports[]`` entry of a Service."""

    name: str
    port: int
    targetPort: int | str
    protocol: str
    nodePort: int


class ServiceSpecDict(TypedDict, total=False):
    """``spec`` of a Service."""

    type: str
    selector: dict[str, str]
    ports: list[ServicePortDict]
    loadBalancerClass: str
    externalTrafficPolicy: str


class ServiceStatusDict(TypedDict, total=False):
    """``status`` of a Service."""

    loadBalancer: LoadBalancerStatusDict


class ServiceDict(TypedDict, total=False):
    """A core/v1 Service."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaDict
    spec: ServiceSpecDict
    status: ServiceStatusDict


class NamespaceDict(TypedDict, total=False):
    """A core/v1 Namespace."""

    apiVersion: str
    kind: str
    metadata: ObjectMetaDict
