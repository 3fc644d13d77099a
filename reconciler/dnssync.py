"""One DNS pass: route desired endpoints to providers, plan per provider, apply (unless dry run).

Each desired endpoint goes to the provider(s) holding the longest zone that contains its name
(:func:`reconciler.zones.zone_for` over every provider's zones; two providers holding the same zone
both receive it). Then, per provider: ``registry.records()`` → ``provider.adjust_endpoints`` →
:func:`reconciler.plan.calculate` → ``registry.apply`` (skipped in a dry run). A provider that
fails is reported in its own result and never stops the others. Providers and registries are
injected; nothing here builds a client.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.endpoint import Changes, Endpoint
from reconciler.errors import ProviderError, ReconcilerError
from reconciler.plan import Conflict, DomainFilter, Policy, calculate
from reconciler.provider import Provider
from reconciler.zones import zone_for

__all__ = [
    "DnsPassResult",
    "DnsTarget",
    "ProviderResult",
    "Registry",
    "route_endpoints",
    "sync_dns",
]

log = logging.getLogger(__name__)


class Registry(Protocol):
    """What the DNS pass needs from an ownership registry wrapping a provider."""

    def records(self) -> Sequence[Endpoint]:
        """Current record sets with ownership labels (TXT ownership records folded in)."""
        ...

    def apply(self, changes: Changes) -> None:
        """Write the changes plus their ownership records."""
        ...


@dataclass(frozen=True, slots=True)
class DnsTarget:
    """A provider and the registry that wraps it."""

    provider: Provider
    """Routing (zones) and shaping (adjust_endpoints) of desired endpoints."""
    registry: Registry
    """Reads current records with owners and writes changes with ownership records."""


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """What one pass planned, refused, applied or failed at in one provider."""

    provider: str
    """The provider's configured name."""
    changes: Changes = field(default_factory=Changes)
    """The planned changes (applied unless ``applied`` is False)."""
    conflicts: tuple[Conflict, ...] = ()
    """What the planner refused, and why."""
    errors: tuple[str, ...] = ()
    """Failures of this provider in this pass (empty when it went well)."""
    transient: bool = False
    """True when every error may go away on retry (the next pass tries again)."""
    applied: bool = False
    """True when the changes were written (False in a dry run, on failure, or with no changes)."""

    @property
    def ok(self) -> bool:
        """Did this provider's part of the pass succeed?"""
        return not self.errors


@dataclass(frozen=True, slots=True)
class DnsPassResult:
    """The outcome of one DNS pass, one result per provider."""

    providers: tuple[ProviderResult, ...] = ()
    """Per provider, in the order given."""
    unrouted: tuple[Endpoint, ...] = ()
    """Desired endpoints no provider holds a zone for (nothing written for them)."""

    @property
    def ok(self) -> bool:
        """Did every provider succeed?"""
        return all(r.ok for r in self.providers)


def route_endpoints(
    endpoints: Iterable[Endpoint], zones_by_provider: Sequence[tuple[str, Collection[str]]]
) -> tuple[dict[str, list[Endpoint]], list[Endpoint]]:
    """Endpoints per provider name (longest containing zone wins), and those with no zone at all."""
    all_zones = {z for _, zones in zones_by_provider for z in zones}
    routed: dict[str, list[Endpoint]] = {name: [] for name, _ in zones_by_provider}
    unrouted: list[Endpoint] = []
    for endpoint in endpoints:
        zone = zone_for(endpoint.name, all_zones)
        if zone is None:
            unrouted.append(endpoint)
            continue
        for name, zones in zones_by_provider:
            if zone in zones:
                routed[name].append(endpoint)
    return routed, unrouted


def _sync_one(
    target: DnsTarget,
    name: str,
    desired: Sequence[Endpoint],
    *,
    owner_id: str,
    policy: Policy,
    managed_types: Collection[str],
    domain_filter: DomainFilter,
    dry_run: bool,
) -> ProviderResult:
    current = target.registry.records()
    adjusted = target.provider.adjust_endpoints(desired)
    plan = calculate(
        current=current,
        desired=adjusted,
        owner_id=owner_id,
        policy=policy,
        managed_types=frozenset(managed_types),
        domain_filter=domain_filter,
    )
    applied = False
    if not dry_run and not plan.changes.is_empty():
        target.registry.apply(plan.changes)
        applied = True
    return ProviderResult(
        provider=name, changes=plan.changes, conflicts=tuple(plan.conflicts), applied=applied
    )


def _failure(name: str, exc: BaseException) -> ProviderResult:
    transient = bool(getattr(exc, "transient", False))
    return ProviderResult(
        provider=name, errors=(str(exc) or type(exc).__name__,), transient=transient
    )


def sync_dns(
    *,
    desired: Iterable[Endpoint],
    targets: Sequence[DnsTarget],
    owner_id: str,
    policy: Policy,
    managed_types: Collection[str],
    domain_filter: DomainFilter,
    dry_run: bool = False,
) -> DnsPassResult:
    """Run one DNS pass over every target; see the module docstring."""
    zones_by_provider: list[tuple[str, Collection[str]]] = []
    failed: dict[str, ProviderResult] = {}
    for target in targets:
        name = target.provider.name
        try:
            zones_by_provider.append((name, frozenset(target.provider.zones())))
        except ReconcilerError as exc:
            log.warning("provider zones unavailable", extra={"provider": name, "error": str(exc)})
            failed[name] = _failure(name, exc)
    routed, unrouted = route_endpoints(desired, zones_by_provider)

    results: list[ProviderResult] = []
    for target in targets:
        name = target.provider.name
        if name in failed:
            results.append(failed[name])
            continue
        try:
            result = _sync_one(
                target,
                name,
                routed.get(name, []),
                owner_id=owner_id,
                policy=policy,
                managed_types=managed_types,
                domain_filter=domain_filter,
                dry_run=dry_run,
            )
        except ProviderError as exc:
            log.warning(
                "provider pass failed",
                extra={"provider": name, "error": str(exc), "transient": exc.transient},
            )
            result = _failure(name, exc)
        except ReconcilerError as exc:
            log.warning("provider pass failed", extra={"provider": name, "error": str(exc)})
            result = _failure(name, exc)
        except Exception as exc:  # one provider's bug must not stop the others
            log.exception("provider pass crashed", extra={"provider": name})
            result = _failure(name, exc)
        results.append(result)
        log.info(
            "dns pass done",
            extra={
                "provider": name,
                "create": len(result.changes.create),
                "update": len(result.changes.update),
                "delete": len(result.changes.delete),
                "conflicts": len(result.conflicts),
                "applied": result.applied,
                "dry_run": dry_run,
                "ok": result.ok,
            },
        )
    return DnsPassResult(providers=tuple(results), unrouted=tuple(unrouted))
