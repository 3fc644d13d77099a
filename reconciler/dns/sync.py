"""One DNS pass: route desired endpoints to providers, plan per provider, apply (unless dry run).

Each desired endpoint goes to the provider(s) holding the longest zone that contains its name
(:func:`reconciler.model.zones.zone_for` over its candidate providers' zones; two providers holding
the
same zone both receive it). The candidates of a plain ``desired`` endpoint are every provider; an
:class:`EndpointGroup` names its own (split horizon: a fleet's endpoints may go only to that fleet's
``dnsProviders``, so a private name can never land in a public zone).

Safety: when a provider's ``zones()`` fails, nobody knows which names it holds, and routing without
it would send its names to another candidate holding a parent zone (and create them there). So every
other candidate provider of a non-empty group that includes the failed one is *held*: nothing is
planned or applied for it in this pass, and it reports an error (the pass does not converge).

Then, per provider, through the registry that owns it (the pass sees only registries):
``records()`` → ``screen`` (names whose ownership record cannot be written are refused as
conflicts, the rest go on) → ``adjust_endpoints`` (the provider's stored form) →
:func:`reconciler.dns.plan.calculate` → ``apply`` (skipped in a dry run). A provider that
fails is reported in its own result and never stops the others; when the failure is the write
(``apply``), the result keeps the planned changes and the planner's conflicts (``applied`` False,
the error set), so the pass still reports the conflicts (Events, ``--output json``). Providers and
registries are injected; nothing here builds a client.

In an incremental pass (``names``) providers are planned and written side by side (a thread each
when more than one has work), so one slow server never delays another's write; a full pass takes
them one after the other. The results keep the order of ``targets``.

Logging: one DEBUG line per provider (``dns pass done``) and a WARNING per failure; the pass's
single INFO summary is written by its caller (``pass finished`` in :mod:`reconciler.runtime.loop`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Protocol

from reconciler.dns.plan import Conflict, DomainFilter, Policy, calculate
from reconciler.model.endpoint import Changes, Endpoint
from reconciler.model.errors import ProviderError, ReconcilerError
from reconciler.model.zones import zone_for

__all__ = [
    "DnsPassResult",
    "EndpointGroup",
    "ProviderResult",
    "Registry",
    "route_endpoints",
    "route_groups",
    "sync_dns",
]

log = logging.getLogger(__name__)


class Registry(Protocol):
    """What the DNS pass needs: an ownership registry that owns its provider (the pass never sees
    the provider itself). Routing and shaping pass through to the provider; reads and writes
    add and read the ownership records."""

    @property
    def name(self) -> str:
        """The provider's configured name."""
        ...

    def zones(self) -> Sequence[str]:
        """The provider's zones (routing of desired endpoints)."""
        ...

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Desired endpoints in the provider's stored form."""
        ...

    def records(self) -> Sequence[Endpoint]:
        """Current record sets with ownership labels (TXT ownership records folded in)."""
        ...

    def records_at(self, names: Collection[str]) -> Sequence[Endpoint]:
        """What :meth:`records` returns, at these names only."""
        ...

    def generation(self) -> int:
        """The provider's generation (see :meth:`reconciler.dns.provider.Provider.generation`)."""
        ...

    def screen(self, endpoints: Sequence[Endpoint]) -> tuple[list[Endpoint], list[Conflict]]:
        """Desired endpoints whose ownership records can be written; the rest as conflicts."""
        ...

    def apply(self, changes: Changes) -> None:
        """Write the changes plus their ownership records."""
        ...


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
    held: bool = False
    """True when nothing was planned because a fellow candidate provider's zones were unknown."""
    records: tuple[tuple[str, int], ...] = ()
    """(record type, count) of the records this pass read from the provider (ownership TXTs
    folded in, claims left out), sorted by type: the ``registry_records`` metric."""

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


@dataclass(frozen=True, slots=True)
class EndpointGroup:
    """Desired endpoints and the providers they may be written to."""

    endpoints: tuple[Endpoint, ...]
    """The endpoints."""
    providers: tuple[str, ...] | None = None
    """Names of the candidate providers; None: every provider of the pass."""


def route_groups(
    groups: Sequence[EndpointGroup],
    zones_by_provider: Sequence[tuple[str, Collection[str]]],
    unknown: Collection[str] = (),
) -> tuple[dict[str, list[Endpoint]], list[Endpoint], dict[str, tuple[str, ...]]]:
    """Route each group among its candidates; say which providers to hold and why.

    Returns endpoints per provider name, endpoints with no zone among their candidates, and the
    held providers, each with the providers of unknown zones that caused the hold. ``unknown``
    names providers whose zones could not be read this pass.
    """
    known = {name for name, _ in zones_by_provider}
    everyone = tuple(sorted(known | set(unknown)))
    routed: dict[str, list[Endpoint]] = {name: [] for name, _ in zones_by_provider}
    unrouted: list[Endpoint] = []
    held: dict[str, set[str]] = {}
    for group in groups:
        candidates = everyone if group.providers is None else group.providers
        failed = {c for c in candidates if c in unknown}
        if failed and group.endpoints:
            for name in candidates:
                if name not in unknown:
                    held.setdefault(name, set()).update(failed)
        subset = [(n, z) for n, z in zones_by_provider if n in candidates]
        group_routed, group_unrouted = route_endpoints(group.endpoints, subset)
        for name, endpoints in group_routed.items():
            routed[name].extend(endpoints)
        if not failed:
            unrouted.extend(group_unrouted)
    return routed, unrouted, {name: tuple(sorted(why)) for name, why in held.items()}


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


def _plan_one(
    target: Registry,
    name: str,
    desired: Sequence[Endpoint],
    *,
    owner_id: str,
    policy: Policy,
    managed_types: Collection[str],
    domain_filter: DomainFilter,
    names: Collection[str] | None,
) -> ProviderResult:
    """Read, adjust and plan (nothing written): the result's ``applied`` is False."""
    current = target.records() if names is None else target.records_at(names)
    writable, refused = target.screen(desired)
    adjusted = target.adjust_endpoints(writable)
    plan = calculate(
        current=current,
        desired=adjusted,
        owner_id=owner_id,
        policy=policy,
        managed_types=frozenset(managed_types),
        domain_filter=domain_filter,
    )
    conflicts = sorted(
        (*refused, *plan.conflicts), key=lambda c: (c.name, c.record_type, c.resource, c.reason)
    )
    counts = Counter(r.record_type for r in current if r.targets)
    return ProviderResult(
        provider=name,
        changes=plan.changes,
        conflicts=tuple(conflicts),
        records=tuple(sorted(counts.items())),
    )


def _sync_one(
    target: Registry,
    desired: Sequence[Endpoint],
    *,
    owner_id: str,
    policy: Policy,
    managed_types: Collection[str],
    domain_filter: DomainFilter,
    names: Collection[str] | None,
    dry_run: bool,
) -> ProviderResult:
    """Plan one provider and (unless a dry run) apply; failures end up in the result."""
    name = target.name
    try:
        result = _plan_one(
            target,
            name,
            desired,
            owner_id=owner_id,
            policy=policy,
            managed_types=managed_types,
            domain_filter=domain_filter,
            names=names,
        )
    except Exception as exc:  # noqa: BLE001 - one provider's failure or bug must not stop the others
        result = _logged_failure(name, exc)
    else:
        if not dry_run and not result.changes.is_empty():
            try:
                target.apply(result.changes)
            except Exception as exc:  # noqa: BLE001 - the plan and its conflicts stay in the result
                result = _logged_failure(name, exc, result)
            else:
                result = replace(result, applied=True)
    # Detail only: the pass's one INFO summary is the loop's "pass finished" line.
    log.debug(
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
    return result


def _failure(
    name: str, exc: BaseException, planned: ProviderResult | None = None
) -> ProviderResult:
    """The result of a failed provider; a failed write keeps what was planned (and refused)."""
    transient = isinstance(exc, ReconcilerError) and exc.transient
    errors = (str(exc) or type(exc).__name__,)
    if planned is None:
        return ProviderResult(provider=name, errors=errors, transient=transient)
    return replace(planned, errors=errors, transient=transient, applied=False)


def _logged_failure(
    name: str, exc: Exception, planned: ProviderResult | None = None
) -> ProviderResult:
    """Log a provider's failure (warning; a crash with its traceback) and return its result."""
    if isinstance(exc, ProviderError):
        log.warning(
            "provider pass failed",
            extra={"provider": name, "error": str(exc), "transient": exc.transient},
        )
    elif isinstance(exc, ReconcilerError):
        log.warning("provider pass failed", extra={"provider": name, "error": str(exc)})
    else:
        log.error("provider pass crashed", extra={"provider": name}, exc_info=exc)
    return _failure(name, exc, planned)


def sync_dns(
    *,
    desired: Iterable[Endpoint] = (),
    groups: Sequence[EndpointGroup] = (),
    targets: Sequence[Registry],
    owner_id: str,
    policy: Policy,
    managed_types: Collection[str],
    domain_filter: DomainFilter,
    dry_run: bool = False,
    names: Collection[str] | None = None,
) -> DnsPassResult:
    """Run one DNS pass over every target; see the module docstring.

    ``desired`` endpoints may go to any provider; each of ``groups`` only to its own providers.
    With ``names`` (an incremental pass) only the rows at those names are planned: the desired
    endpoints must then be every endpoint desired at them, and the records are read at them
    only; the result's ``records`` counts are of those names.
    """
    zones_by_provider: list[tuple[str, Collection[str]]] = []
    failed: dict[str, ProviderResult] = {}
    for target in targets:
        name = target.name
        try:
            zones_by_provider.append((name, frozenset(target.zones())))
        except ReconcilerError as exc:
            log.warning("provider zones unavailable", extra={"provider": name, "error": str(exc)})
            failed[name] = _failure(name, exc)
        except Exception as exc:  # one provider's bug must not stop the others
            log.exception("provider zones crashed", extra={"provider": name})
            failed[name] = _failure(name, exc)
    all_groups = [EndpointGroup(tuple(desired)), *groups]
    routed, unrouted, held = route_groups(all_groups, zones_by_provider, failed)

    def one(target: Registry) -> ProviderResult:
        name = target.name
        if name in failed:
            return failed[name]
        if name in held:
            causes = held[name]
            log.warning(
                "provider held: zones of a fellow candidate unknown",
                extra={"provider": name, "unknown_zones_of": list(causes)},
            )
            return ProviderResult(
                provider=name,
                errors=(
                    f"held: zones of {', '.join(causes)} unknown this pass; nothing planned "
                    "so that no name lands in a parent zone here",
                ),
                transient=all(failed[c].transient for c in causes),
                held=True,
            )
        return _sync_one(
            target,
            routed.get(name, []),
            owner_id=owner_id,
            policy=policy,
            managed_types=managed_types,
            domain_filter=domain_filter,
            names=names,
            dry_run=dry_run,
        )

    busy = [t for t in targets if t.name not in failed and t.name not in held]
    if names is None or len(busy) < 2:
        # a full pass is CPU-bound: one provider after the other holds half the memory at once
        results = [one(t) for t in targets]
    else:
        # an incremental pass waits on servers: one never delays another's write
        with ThreadPoolExecutor(max_workers=len(busy), thread_name_prefix="dns") as pool:
            results = list(pool.map(one, targets))
    return DnsPassResult(providers=tuple(results), unrouted=tuple(unrouted))
