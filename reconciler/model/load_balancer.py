"""Load-balancer contracts the core and providers/elbv2.py share (no Kubernetes, no boto3).

``reconciler.fleets.load_balancers`` (the consumer) re-exports every name here; this module exists
so
that providers can import the contract without importing ``reconciler.kube`` (an import-linter
rule keeps providers away from the Kubernetes layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from reconciler.model.endpoint import FrozenMap

__all__ = [
    "CLUSTER_TAG_KEY",
    "FLEET_TAG_KEY",
    "OWNER_TAG_KEY",
    "LoadBalancerBackend",
    "LoadBalancerPort",
    "LoadBalancerSpec",
    "LoadBalancerState",
    "Scheme",
    "scheme_for_visibility",
]

CLUSTER_TAG_KEY = "ingress-reconciler.io/cluster"
"""AWS tag on every load balancer and target group we create: the cluster's name."""
OWNER_TAG_KEY = "ingress-reconciler.io/owner"
"""AWS tag: the reconciler's ``ownerId``."""
FLEET_TAG_KEY = "ingress-reconciler.io/fleet"
"""AWS tag: the fleet's name."""


class Scheme(StrEnum):
    """The scheme of an AWS load balancer."""

    INTERNET_FACING = "internet-facing"
    INTERNAL = "internal"


def scheme_for_visibility(visibility: str) -> Scheme:
    """``public`` -> internet-facing, ``private`` -> internal; ValueError otherwise."""
    if visibility == "public":
        return Scheme.INTERNET_FACING
    if visibility == "private":
        return Scheme.INTERNAL
    raise ValueError(f"visibility must be public or private, not {visibility!r}")


@dataclass(frozen=True, slots=True)
class LoadBalancerPort:
    """One listener of a fleet's NLB and the target group behind it (protocol TCP)."""

    name: str
    """The Service port's name (e.g. ``http``)."""
    port: int
    """The listener port."""
    target_port: int | None = None
    """The target group's port; ``None``: the same as :attr:`port` (a named targetPort)."""

    @property
    def backend_port(self) -> int:
        """The port the target group forwards to."""
        return self.port if self.target_port is None else self.target_port


@dataclass(frozen=True, slots=True)
class LoadBalancerSpec:
    """What one elbv2-mode fleet needs from its load balancer."""

    fleet: str
    """The fleet's name (a DNS label)."""
    cluster_name: str
    """The cluster's name: subnet discovery (``kubernetes.io/cluster/<name>``) and tags."""
    scheme: Scheme
    """internet-facing (public fleet) or internal (private fleet)."""
    ports: tuple[LoadBalancerPort, ...]
    """One TCP listener + target group per port."""
    target_type: str
    """The target groups' target type: ``ip`` or ``instance``."""
    owner_id: str
    """The reconciler's ``ownerId`` (ownership tag)."""


@dataclass(frozen=True, slots=True)
class LoadBalancerState:
    """A load balancer as the backend found or made it."""

    name: str
    """The load balancer's name."""
    arn: str
    """Its ARN."""
    dns_name: str
    """Its DNS name (what the fleet Service's status publishes)."""
    canonical_hosted_zone_id: str
    """The hosted zone of its DNS name (Route53 ALIAS target zone)."""
    scheme: str
    """``internet-facing`` or ``internal``."""
    tags: FrozenMap
    """Its tags (ownership: cluster, owner, fleet)."""

    @property
    def fleet(self) -> str:
        """The fleet named by its ownership tag (empty when untagged)."""
        return self.tags.get(FLEET_TAG_KEY, "")


class LoadBalancerBackend(Protocol):
    """Provisions network load balancers (implemented by providers.elbv2.Elbv2LoadBalancers)."""

    def ensure(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        """Create or correct the fleet's NLB, listeners and target groups; return the NLB."""
        ...

    def delete(self, spec: LoadBalancerSpec) -> bool:
        """Delete the fleet's NLB, listeners and target groups; True once all are gone."""
        ...

    def owned(self, cluster_name: str, owner_id: str) -> Sequence[LoadBalancerState]:
        """Every NLB tagged as ours (this cluster, this owner)."""
        ...
