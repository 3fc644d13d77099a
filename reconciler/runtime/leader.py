"""Leader election over a ``coordination.k8s.io/v1`` Lease, as client-go's leaderelection does it.

Only the leader writes (DNS, Ingress status, load balancers). The decisions are pure functions of
(lease seen, identity, ``now``); :class:`LeaderElector` adds the I/O (a :class:`LeaseStore`) and a
thread that renews the lease every ``retry_period``.

Timing, as in client-go: a candidate takes a lease over when nobody renewed it for
``lease_duration``, measured on the candidate's own clock from the moment it *observed* the last
change (so clock skew between nodes does not matter). The leader stops writing the moment its last
successful renewal is older than ``renew_deadline`` (< ``lease_duration``), so two writers never
overlap. On a clean stop the leader releases the lease (empty holder, 1 s duration) so a standby
takes over at once instead of waiting for expiry.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Protocol

from reconciler.model.errors import ConfigError, KubernetesError

__all__ = [
    "ElectionConfig",
    "LeaderElector",
    "LeaseRecord",
    "LeaseStore",
    "Observation",
    "acquired_record",
    "can_acquire",
    "is_expired",
    "is_still_leader",
    "observe",
    "pod_identity",
    "released_record",
]

_log = logging.getLogger(__name__)

_CONFLICT: Final = 409


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The fields of a Lease that leader election reads and writes."""

    holder_identity: str = ""
    """Who holds the lease; empty when nobody does (e.g. after a release)."""
    lease_duration_seconds: int = 15
    """How long, after a renewal, the holder is trusted without a new one."""
    acquire_time: datetime | None = None
    """When the current holder acquired the lease."""
    renew_time: datetime | None = None
    """When the current holder last renewed the lease."""
    lease_transitions: int = 0
    """How many times the lease changed hands."""
    resource_version: str = ""
    """The object's resourceVersion as read; an update with a stale one is refused (409)."""


class LeaseStore(Protocol):
    """Reads and writes one Lease object. Raises KubernetesError; ``status=409`` means conflict."""

    def get(self) -> LeaseRecord | None:
        """The lease as stored now, or None when it does not exist."""
        ...

    def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create the lease; 409 if it exists already. Returns it with its resourceVersion."""
        ...

    def update(self, record: LeaseRecord) -> LeaseRecord:
        """Replace the lease if ``record.resource_version`` is still current; else 409."""
        ...


@dataclass(frozen=True, slots=True)
class ElectionConfig:
    """Identity and timing of one candidate (client-go's defaults: 15 s, 10 s, 2 s)."""

    identity: str
    """This candidate's name: the pod name."""
    lease_duration: timedelta = timedelta(seconds=15)
    """How long a standby waits, after the last renewal it saw, before taking over."""
    renew_deadline: timedelta = timedelta(seconds=10)
    """How long the leader keeps writing after its last successful renewal."""
    retry_period: timedelta = timedelta(seconds=2)
    """How often candidates try to acquire and the leader renews."""

    def __post_init__(self) -> None:
        if not self.identity:
            raise ConfigError("leader election needs an identity: set POD_NAME")
        if not timedelta(0) < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ConfigError(
                "leader election timing must satisfy retry_period < renew_deadline < lease_duration"
            )


@dataclass(frozen=True, slots=True)
class Observation:
    """The lease as this candidate last saw it change, and when (on this candidate's clock)."""

    record: LeaseRecord
    """The lease as read."""
    observed_at: datetime
    """Local time at which this version of the lease was first seen."""


def pod_identity(env: dict[str, str] | None = None) -> str:
    """This process's identity: ``POD_NAME`` (downward API) if set, else the host name."""
    source = os.environ if env is None else env
    return source.get("POD_NAME", "") or socket.gethostname()


def observe(previous: Observation | None, record: LeaseRecord, now: datetime) -> Observation:
    """Update what we saw: the clock restarts only when the holder or renew time changed."""
    if (
        previous is not None
        and previous.record.holder_identity == record.holder_identity
        and previous.record.renew_time == record.renew_time
    ):
        return Observation(record=record, observed_at=previous.observed_at)
    return Observation(record=record, observed_at=now)


def is_expired(observation: Observation, now: datetime) -> bool:
    """Has the lease gone unrenewed for its whole duration, as measured on our clock?"""
    duration = timedelta(seconds=observation.record.lease_duration_seconds)
    return observation.observed_at + duration <= now


def can_acquire(observation: Observation | None, identity: str, now: datetime) -> bool:
    """May ``identity`` write itself into the lease now?

    Yes when there is no lease, nobody holds it, we hold it already, or it expired.
    """
    if observation is None:
        return True
    holder = observation.record.holder_identity
    return holder in ("", identity) or is_expired(observation, now)


def acquired_record(
    current: LeaseRecord | None, identity: str, now: datetime, lease_duration: timedelta
) -> LeaseRecord:
    """The lease as we write it to acquire or renew: ourselves as holder, renewed at ``now``."""
    seconds = max(1, int(lease_duration.total_seconds()))
    if current is None:
        return LeaseRecord(
            holder_identity=identity,
            lease_duration_seconds=seconds,
            acquire_time=now,
            renew_time=now,
            lease_transitions=0,
        )
    if current.holder_identity == identity:
        return replace(current, lease_duration_seconds=seconds, renew_time=now)
    return replace(
        current,
        holder_identity=identity,
        lease_duration_seconds=seconds,
        acquire_time=now,
        renew_time=now,
        lease_transitions=current.lease_transitions + 1,
    )


def released_record(current: LeaseRecord, now: datetime) -> LeaseRecord:
    """The lease as the leader writes it on a clean stop: nobody holds it, expiring in 1 s."""
    return replace(
        current, holder_identity="", lease_duration_seconds=1, acquire_time=now, renew_time=now
    )


def is_still_leader(
    last_renewal: datetime | None, renew_deadline: timedelta, now: datetime
) -> bool:
    """Is our last successful renewal recent enough that we may still write?"""
    return last_renewal is not None and now < last_renewal + renew_deadline


class LeaderElector:
    """Acquires and renews one Lease; tells the loop whether it may write.

    Call :meth:`start` to run the renew thread; :meth:`is_leader` is cheap and safe from any
    thread. ``on_started_leading`` runs once when we acquire the lease; ``on_stopped_leading``
    once when we lose it (someone else holds it, or the renew deadline passed). After losing,
    the elector stops: the process is expected to exit and start over as a standby.
    """

    def __init__(
        self,
        *,
        store: LeaseStore,
        config: ElectionConfig,
        clock: Callable[[], datetime],
        on_started_leading: Callable[[], None] = lambda: None,
        on_stopped_leading: Callable[[], None] = lambda: None,
        on_leadership_change: Callable[[bool], None] = lambda leading: None,
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_change = on_leadership_change
        self._lock = threading.Lock()
        self._observation: Observation | None = None
        self._last_renewal: datetime | None = None
        self._leading = False
        self._lost = False
        self._released = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def identity(self) -> str:
        """This candidate's identity."""
        return self._config.identity

    @property
    def lost(self) -> bool:
        """Did we lead and then lose the lease? (The process should exit.)"""
        with self._lock:
            return self._lost

    def is_leader(self) -> bool:
        """May we write now? False the moment the renew deadline passed, even mid-renewal."""
        with self._lock:
            return (
                self._leading
                and not self._lost
                and is_still_leader(self._last_renewal, self._config.renew_deadline, self._clock())
            )

    def try_acquire_or_renew(self) -> bool:
        """One election step: read the lease, then acquire or renew it if allowed.

        Returns whether we hold the lease after the step. Store errors are logged and count as
        a failed step; a 409 means someone else wrote first.
        """
        with self._lock:
            if self._released or self._lost:
                return False
        now = self._clock()
        identity = self._config.identity
        try:
            current = self._store.get()
            if current is not None:
                self._remember(current, now)
                if not can_acquire(self._observation, identity, now):
                    self._check_deadline(now, holder=current.holder_identity)
                    return False
            desired = acquired_record(current, identity, now, self._config.lease_duration)
            written = (
                self._store.create(desired) if current is None else self._store.update(desired)
            )
        except KubernetesError as exc:
            level = logging.DEBUG if exc.status == _CONFLICT else logging.WARNING
            _log.log(
                level,
                "lease write failed",
                extra={"identity": identity, "error": str(exc), "status": exc.status},
            )
            self._check_deadline(now, holder="")
            return False
        self._remember(written, now)
        self._renewed(now)
        return True

    def _remember(self, record: LeaseRecord, now: datetime) -> None:
        with self._lock:
            self._observation = observe(self._observation, record, now)

    def _renewed(self, now: datetime) -> None:
        with self._lock:
            if self._lost or self._released:
                return
            self._last_renewal = now
            started = not self._leading
            self._leading = True
        if started:
            _log.info("leadership acquired", extra={"identity": self._config.identity})
            self._on_change(True)
            self._on_started()

    def _check_deadline(self, now: datetime, *, holder: str) -> None:
        """After a failed step: if we led and someone else holds it or time ran out, we lost."""
        with self._lock:
            if not self._leading or self._lost:
                return
            taken = holder not in ("", self._config.identity)
            if not taken and is_still_leader(self._last_renewal, self._config.renew_deadline, now):
                return
            self._lost = True
            self._leading = False
        _log.warning(
            "leadership lost",
            extra={"identity": self._config.identity, "holder": holder or None},
        )
        self._on_change(False)
        self._on_stopped()

    def check(self) -> bool:
        """Notice a passed renew deadline without a store round-trip; returns :meth:`is_leader`."""
        self._check_deadline(self._clock(), holder="")
        return self.is_leader()

    def release(self) -> bool:
        """Give the lease up if we hold it, so a standby takes over at once. Returns success."""
        with self._lock:
            was_leading = self._leading and not self._lost
            self._leading = False
            self._released = True
        if not was_leading:
            return False
        self._on_change(False)
        now = self._clock()
        try:
            current = self._store.get()
            if current is None or current.holder_identity != self._config.identity:
                return False
            self._store.update(released_record(current, now))
        except KubernetesError as exc:
            _log.warning(
                "lease release failed", extra={"identity": self._config.identity, "error": str(exc)}
            )
            return False
        _log.info("lease released", extra={"identity": self._config.identity})
        return True

    def run(self) -> None:
        """Try to acquire, then renew, every ``retry_period`` until stopped or the lease is lost."""
        period = self._config.retry_period.total_seconds()
        while not self._stop.is_set() and not self.lost:
            self.try_acquire_or_renew()
            self.check()
            self._stop.wait(period)

    def start(self) -> None:
        """Run :meth:`run` in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="leader-elector", daemon=True)
        self._thread.start()

    def stop(self, *, release: bool = True, timeout: float = 10.0) -> None:
        """Stop the renew thread and (by default) release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if release:
            self.release()
