"""The controller loop: when passes run, and what each one reports.

A pass (the injected ``run_pass`` function: fleets → load balancers → status → DNS) runs:

- every ``interval`` as an apscheduler interval job (one instance at a time, coalesced): a full
  pass (``PassRequest.changes`` is None);
- early, when watch events call :meth:`Controller.trigger`: the first event after a quiet
  ``debounce`` (0.02 s by default) runs its pass at once; events while a pass is due or running
  are coalesced (the pass runs ``debounce`` after the last one, and at most ``max_debounce``
  after the first), so a burst of events is one or two passes. Each event carries the object
  that changed; the early pass receives every change since the last pass (the latest per object)
  and may reconcile only those. A trigger without a change (leadership gained), or an early
  pass after one that did not converge, asks for a full pass instead.

How long a provider trusts what it remembers of its zones is the provider's own business (Route53
re-lists after ``resyncPeriod``; RFC2136 reads a zone again only when its SOA serial moved).

Passes never overlap. Only the leader runs passes (``may_write``); the request carries the same
check so a pass can stop writing the moment the lease is lost. :func:`once` runs one pass and says
whether it converged; :func:`run` runs until SIGTERM/SIGINT or until the lease is lost.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Final, Protocol

from apscheduler.schedulers.background import BackgroundScheduler

from reconciler.model.cluster import ObjectChange
from reconciler.model.errors import ConfigError, ReconcilerError
from reconciler.runtime.health import HealthState
from reconciler.runtime.leader import LeaderElector
from reconciler.runtime.metrics import Metrics

__all__ = [
    "EARLY_JOB",
    "EXIT_LEADERSHIP_LOST",
    "EXIT_OK",
    "INTERVAL_JOB",
    "ChangeCount",
    "Controller",
    "Debounce",
    "JobScheduler",
    "LoopConfig",
    "PassFunction",
    "PassRequest",
    "PassResult",
    "ReasonCount",
    "RecordCount",
    "install_signal_handlers",
    "run",
    "utc_now",
]

_log = logging.getLogger(__name__)

INTERVAL_JOB: Final = "reconcile-interval"
"""apscheduler job id of the periodic pass."""
EARLY_JOB: Final = "reconcile-early"
"""apscheduler job id of the debounced, event-triggered pass."""

EXIT_OK: Final = 0
"""Process exit code: stopped cleanly (or ``once`` converged)."""
EXIT_LEADERSHIP_LOST: Final = 3
"""Process exit code: the lease was lost; the pod restarts as a standby."""


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC (the default ``clock``)."""
    return datetime.now(tz=UTC)


@dataclass(frozen=True, slots=True)
class RecordCount:
    """How many records of one type one provider holds."""

    provider: str
    """Provider name."""
    record_type: str
    """Record type (A, AAAA, CNAME, TXT ...)."""
    count: int
    """Number of records."""


@dataclass(frozen=True, slots=True)
class ChangeCount:
    """How many changes of one action a pass applied to one provider."""

    provider: str
    """Provider name."""
    action: str
    """``create``, ``update`` or ``delete``."""
    count: int
    """Number of records changed."""


@dataclass(frozen=True, slots=True)
class ReasonCount:
    """How many conflicts or refusals a pass saw for one reason."""

    reason: str
    """A short constant reason, e.g. ``foreign-owner`` or ``domain-not-allowed``."""
    count: int
    """How many."""


@dataclass(frozen=True, slots=True)
class PassRequest:
    """What the loop asks of one pass."""

    reason: str
    """Why the pass runs: ``interval``, ``event``, ``leader`` or ``once``."""
    started: datetime
    """When the pass started (the pass's ``now``)."""
    may_write: Callable[[], bool]
    """Ask right before each write: False once the lease is lost; then write nothing more."""
    changes: tuple[ObjectChange, ...] | None = None
    """The objects changed since the last pass (the latest change of each); None: a full pass."""


@dataclass(frozen=True, slots=True)
class PassResult:
    """What one pass did; feeds the metrics, the health state and the summary log line."""

    converged: bool
    """Everything desired is now in place (refusals and conflicts do not count against it)."""
    source_endpoints: int = 0
    """Endpoints the sources produced."""
    records: tuple[RecordCount, ...] = ()
    """Records seen in the providers' zones, by provider and type."""
    changes: tuple[ChangeCount, ...] = ()
    """Changes applied, by provider and action."""
    conflicts: tuple[ReasonCount, ...] = ()
    """Names left alone because someone else owns them."""
    refusals: tuple[ReasonCount, ...] = ()
    """Endpoints refused (tenancy, split horizon, invalid)."""
    errors: tuple[str, ...] = ()
    """Short descriptions of what failed (never secrets)."""
    incremental: bool = False
    """Only some objects were reconciled: ``source_endpoints`` and ``records`` count those, and
    the gauges keep the last full pass's figures."""


PassFunction = Callable[[PassRequest], PassResult]
"""One reconcile pass."""


@dataclass(frozen=True, slots=True)
class LoopConfig:
    """Timing of the loop."""

    interval: timedelta = timedelta(minutes=1)
    """Time between periodic passes."""
    debounce: timedelta = timedelta(seconds=0.02)
    """An event-triggered pass runs this long after the last event (the coalescing window)..."""
    max_debounce: timedelta = timedelta(seconds=5)
    """...but never later than this after the first one (a steady stream of events still syncs)."""

    def __post_init__(self) -> None:
        if self.interval <= timedelta(0):
            raise ConfigError("loop interval must be positive")
        if not timedelta(0) <= self.debounce <= self.max_debounce:
            raise ConfigError("loop debounce must satisfy 0 <= debounce <= max_debounce")


@dataclass(frozen=True, slots=True)
class Debounce:
    """Pending watch events not yet handled by a pass: when the first and the last arrived."""

    first: datetime | None = None
    """When the first pending event arrived."""
    last: datetime | None = None
    """When the latest pending event arrived."""
    count: int = 0
    """How many events are pending."""

    @property
    def is_pending(self) -> bool:
        """Is there any event no pass has handled yet?"""
        return self.count > 0

    def triggered(self, now: datetime) -> Debounce:
        """The state after one more event at ``now``."""
        return replace(self, first=self.first or now, last=now, count=self.count + 1)

    def fire_at(self, delay: timedelta, max_delay: timedelta) -> datetime | None:
        """When the early pass should run: ``delay`` after the last event, capped by the first."""
        if self.first is None or self.last is None:
            return None
        return min(self.last + delay, self.first + max_delay)


class JobScheduler(Protocol):
    """The part of apscheduler 3's scheduler API the loop uses (a fake in tests)."""

    def add_job(self, func: Callable[[], None], trigger: str, **kwargs: Any) -> object:
        """Add (or with ``replace_existing``, replace) a job."""
        ...

    def start(self) -> None:
        """Start running jobs."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop; with ``wait``, let running jobs finish."""
        ...


class Controller:
    """Schedules passes, gates them on leadership, and reports each one (metrics, health, log)."""

    def __init__(
        self,
        *,
        run_pass: PassFunction,
        config: LoopConfig,
        metrics: Metrics,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        may_write: Callable[[], bool] = lambda: True,
        health: HealthState | None = None,
        scheduler: JobScheduler | None = None,
    ) -> None:
        self._run_pass = run_pass
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._monotonic = monotonic
        self._may_write = may_write
        self._health = health
        self._scheduler: JobScheduler = (
            scheduler if scheduler is not None else BackgroundScheduler(timezone=UTC)
        )
        self._pass_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._debounce = Debounce()
        self._changes: dict[tuple[str, str, str], ObjectChange] = {}
        self._full = True  # the first early pass is full (nothing reconciled yet)
        self._early_at: datetime | None = None  # when the early job set last fires
        self._idle_since: datetime | None = None  # when the last pass ended (None: one runs)
        self._soft_errors = 0

    @property
    def metrics(self) -> Metrics:
        """The metrics this controller reports to."""
        return self._metrics

    def start(self) -> None:
        """Schedule the interval job (first pass at once) and start the scheduler."""
        self._scheduler.add_job(
            self._run_interval,
            "interval",
            id=INTERVAL_JOB,
            seconds=self._config.interval.total_seconds(),
            next_run_time=self._clock(),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            replace_existing=True,
        )
        self._scheduler.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, let a running pass finish first."""
        self._scheduler.shutdown(wait=wait)

    def trigger(self, reason: str = "event", change: ObjectChange | None = None) -> None:
        """Ask for an early pass (a watch event arrived). Cheap, thread-safe, coalesced.

        With ``change`` the pass may reconcile only what changed; without, it is a full pass.
        """
        now = self._clock()
        with self._state_lock:
            if change is None:
                self._full = True
            else:
                self._changes[(change.kind, change.namespace, change.name)] = change
            self._debounce = self._debounce.triggered(now)
            fire_at = self._debounce.fire_at(self._config.debounce, self._config.max_debounce)
            if (
                self._debounce.count == 1
                and self._idle_since is not None
                and now - self._idle_since >= self._config.debounce
            ):
                # the first event after a quiet window: its pass runs at once; what follows
                # while that pass runs is coalesced into the next one
                fire_at = now
            scheduled = self._early_at
            if (
                scheduled is not None
                and fire_at is not None
                and now <= scheduled <= fire_at < scheduled + self._config.debounce / 2
            ):
                # a burst: the job already set fires within half a window of this one's time
                return
            self._early_at = fire_at
            self._scheduler.add_job(
                self._run_early,
                "date",
                id=EARLY_JOB,
                run_date=fire_at,
                # 2, not 1: an event during an early pass schedules the next one while the first
                # still runs; with 1, apscheduler would drop it. The pass lock still serialises.
                max_instances=2,
                coalesce=True,
                misfire_grace_time=None,
                replace_existing=True,
            )
        _log.debug("pass requested", extra={"reason": reason})

    def pending(self) -> Debounce:
        """The events no pass has handled yet."""
        with self._state_lock:
            return self._debounce

    def run_now(self, *, reason: str) -> PassResult | None:
        """Run one pass now (waiting for a running one). None if skipped: not the leader."""
        return self._execute(reason=reason, only_if_pending=False)

    def _run_interval(self) -> None:
        self._execute(reason="interval", only_if_pending=False)

    def _run_early(self) -> None:
        self._execute(reason="event", only_if_pending=True)

    def _execute(self, *, reason: str, only_if_pending: bool) -> PassResult | None:
        with self._pass_lock:
            now = self._clock()
            with self._state_lock:
                if only_if_pending:
                    self._early_at = None
                if only_if_pending and not self._debounce.is_pending:
                    return None  # an earlier pass already saw these events
                # The pass reads the caches after this point, so it sees every event so far.
                self._debounce = Debounce()
                changes: tuple[ObjectChange, ...] | None = tuple(self._changes.values())
                if self._full or not only_if_pending:
                    changes = None
                self._changes = {}
                self._full = False
                self._idle_since = None
            try:
                return self._execute_locked(reason, now, changes)
            finally:
                with self._state_lock:
                    self._idle_since = self._clock()

    def _execute_locked(
        self, reason: str, now: datetime, changes: tuple[ObjectChange, ...] | None
    ) -> PassResult | None:
        """Run one pass (the pass lock held), report it, and say what the next one must do."""
        if not self._may_write():
            _log.debug("pass skipped: not the leader", extra={"reason": reason})
            if self._health is not None:
                self._health.record_standby(now)
            with self._state_lock:
                self._full = True  # what changed meanwhile is not tracked: start over
            return None
        request = PassRequest(
            reason=reason, started=now, may_write=self._may_write, changes=changes
        )
        started = self._monotonic()
        result = self._call_pass(request)
        duration = self._monotonic() - started
        if result is None or not result.converged:
            with self._state_lock:
                self._full = True  # the next early pass retries everything
        self._report(request, result, duration)
        return result

    def _call_pass(self, request: PassRequest) -> PassResult | None:
        try:
            return self._run_pass(request)
        except ReconcilerError as exc:
            _log.error(
                "pass failed",
                extra={"reason": request.reason, "error": str(exc), "kind": type(exc).__name__},
            )
        except Exception:  # noqa: BLE001 - a bug in one pass must not stop the loop; health shows it
            _log.exception("pass crashed", extra={"reason": request.reason})
        return None

    def _report(self, request: PassRequest, result: PassResult | None, duration: float) -> None:
        m = self._metrics
        m.pass_duration_seconds.observe(duration)
        end = self._clock()
        if result is None:
            self._soft_errors += 1
            m.consecutive_soft_errors.set(self._soft_errors)
            m.passes_total.labels(result="failed").inc()
            return
        if not result.incremental:
            m.source_endpoints_total.set(result.source_endpoints)
            m.registry_records.clear()
            for rc in result.records:
                m.registry_records.labels(provider=rc.provider, record_type=rc.record_type).set(
                    rc.count
                )
        for cc in result.changes:
            m.changes_total.labels(provider=cc.provider, action=cc.action).inc(cc.count)
        for reason in result.conflicts:
            m.conflicts_total.labels(reason=reason.reason).inc(reason.count)
        for reason in result.refusals:
            m.refusals_total.labels(reason=reason.reason).inc(reason.count)
        if result.converged:
            self._soft_errors = 0
            m.last_sync_timestamp_seconds.set(end.timestamp())
            if self._health is not None:
                self._health.record_success(end)
        else:
            self._soft_errors += 1
        m.consecutive_soft_errors.set(self._soft_errors)
        m.passes_total.labels(result="converged" if result.converged else "not_converged").inc()
        _log.info(
            "pass finished",
            extra={
                "reason": request.reason,
                "incremental": result.incremental,
                "converged": result.converged,
                "duration_seconds": round(duration, 4),
                "source_endpoints": result.source_endpoints,
                "changes": {f"{c.provider}/{c.action}": c.count for c in result.changes},
                "conflicts": {r.reason: r.count for r in result.conflicts},
                "refusals": {r.reason: r.count for r in result.refusals},
                "errors": list(result.errors),
            },
        )


def install_signal_handlers(stop: threading.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop`` (call from the main thread)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        _log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def run(
    controller: Controller,
    *,
    stop: threading.Event,
    elector: LeaderElector | None = None,
    watchdog_period: timedelta = timedelta(seconds=1),
) -> int:
    """Run the loop until ``stop`` is set or the lease is lost; returns the exit code.

    Starts the scheduler and the elector (the caller serves the probes, from before the caches
    sync until after this returns). Every ``watchdog_period``
    it checks the lease on our own clock (the renew thread may be stuck in a request), keeps the
    ``is_leader`` metric current, and asks for a pass the moment this process becomes leader.

    Order on the way out: stop scheduling and let a running pass finish (it still holds the
    lease), then release the lease so a standby takes over at once.
    Losing the lease stops writing at once (``may_write`` turns False) and exits with
    :data:`EXIT_LEADERSHIP_LOST`.
    """
    leading = elector is None
    controller.metrics.is_leader.set(int(leading))
    controller.start()
    if elector is not None:
        elector.start()
    try:
        while not stop.wait(watchdog_period.total_seconds()):
            if elector is None:
                continue
            now_leading = elector.check()
            controller.metrics.is_leader.set(int(now_leading))
            if now_leading and not leading:
                controller.trigger("leader")
            leading = now_leading
            if elector.lost:
                break
    finally:
        controller.stop(wait=True)
        if elector is not None:
            elector.stop(release=True)
        controller.metrics.is_leader.set(0)
    if elector is not None and elector.lost:
        _log.error("exiting: leadership lost", extra={"identity": elector.identity})
        return EXIT_LEADERSHIP_LOST
    return EXIT_OK
