"""Leader election: pure decisions and the elector against an in-memory lease with a fake clock."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.model.errors import ConfigError, KubernetesError
from reconciler.runtime import leader as leader_module
from reconciler.runtime.leader import (
    ElectionConfig,
    LeaderElector,
    LeaseRecord,
    Observation,
    acquired_record,
    can_acquire,
    is_expired,
    is_still_leader,
    observe,
    pod_identity,
    released_record,
)
from tests.doubles import T0, FakeClock, undocumented


class FakeLeaseStore:
    """One Lease in memory, with resourceVersion checks like the apiserver's."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.writes: list[LeaseRecord] = []
        self.fail_with: KubernetesError | None = None
        self.lock = threading.Lock()

    def _check(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def get(self) -> LeaseRecord | None:
        self._check()
        return self.record

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        with self.lock:
            if self.record is not None:
                raise KubernetesError("already exists", status=409)
            return self._store(record)

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        with self.lock:
            if self.record is None:
                raise KubernetesError("not found", status=404)
            if record.resource_version != self.record.resource_version:
                raise KubernetesError("conflict", status=409)
            return self._store(record)

    def _store(self, record: LeaseRecord) -> LeaseRecord:
        self.version += 1
        self.record = replace(record, resource_version=str(self.version))
        self.writes.append(self.record)
        return self.record


CONFIG = dict(
    lease_duration=timedelta(seconds=15),
    renew_deadline=timedelta(seconds=10),
    retry_period=timedelta(seconds=2),
)


class Events:
    """Counts the elector's callbacks."""

    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0
        self.changes: list[bool] = []


def elector(
    store: FakeLeaseStore, clock: FakeClock, identity: str, events: Events | None = None
) -> LeaderElector:
    ev = events or Events()

    def started() -> None:
        ev.started += 1

    def stopped() -> None:
        ev.stopped += 1

    return LeaderElector(
        store=store,
        config=ElectionConfig(identity=identity, **CONFIG),
        clock=clock,
        on_started_leading=started,
        on_stopped_leading=stopped,
        on_leadership_change=ev.changes.append,
    )


# --- pure decisions ---------------------------------------------------------------------------


def held(holder: str, renewed: datetime = T0, duration: int = 15) -> LeaseRecord:
    return LeaseRecord(
        holder_identity=holder,
        lease_duration_seconds=duration,
        acquire_time=renewed,
        renew_time=renewed,
        resource_version="7",
    )


@pytest.mark.parametrize(
    ("observation", "now_offset", "expected"),
    [
        (None, 0, True),  # no lease yet
        (Observation(held(""), T0), 0, True),  # released
        (Observation(held("me"), T0), 0, True),  # ours: renew
        (Observation(held("other"), T0), 0, False),  # fresh, someone else's
        (Observation(held("other"), T0), 14.9, False),  # not yet expired
        (Observation(held("other"), T0), 15, True),  # expired on our clock
        (Observation(held("other", duration=1), T0), 1, True),  # short lease after release
    ],
)
def test_can_acquire(observation: Observation | None, now_offset: float, expected: bool) -> None:
    assert can_acquire(observation, "me", T0 + timedelta(seconds=now_offset)) is expected


def test_expiry_is_measured_from_our_observation_not_the_holders_clock() -> None:
    # The holder's clock is an hour behind: its renewTime looks ancient, but we saw it change now.
    skewed = held("other", renewed=T0 - timedelta(hours=1))
    seen = observe(None, skewed, T0)
    assert not is_expired(seen, T0 + timedelta(seconds=10))
    # Seeing the same record again does not restart the clock...
    again = observe(seen, replace(skewed, resource_version="8"), T0 + timedelta(seconds=10))
    assert again.observed_at == T0
    assert is_expired(again, T0 + timedelta(seconds=15))
    # ...but a renewal does.
    renewed = observe(again, held("other", renewed=T0), T0 + timedelta(seconds=12))
    assert renewed.observed_at == T0 + timedelta(seconds=12)


def test_acquired_record_counts_transitions_only_when_the_holder_changes() -> None:
    fresh = acquired_record(None, "me", T0, timedelta(seconds=15))
    assert (fresh.holder_identity, fresh.lease_transitions, fresh.acquire_time) == ("me", 0, T0)
    later = T0 + timedelta(seconds=2)
    renewed = acquired_record(fresh, "me", later, timedelta(seconds=15))
    assert (renewed.acquire_time, renewed.renew_time, renewed.lease_transitions) == (T0, later, 0)
    taken = acquired_record(renewed, "other", later, timedelta(seconds=15))
    assert (taken.holder_identity, taken.acquire_time, taken.lease_transitions) == (
        "other",
        later,
        1,
    )


def test_released_record_frees_the_lease_at_once() -> None:
    released = released_record(held("me"), T0 + timedelta(seconds=3))
    assert released.holder_identity == ""
    assert released.lease_duration_seconds == 1
    assert released.resource_version == "7"  # optimistic concurrency still applies
    assert can_acquire(Observation(released, T0), "other", T0)


@pytest.mark.parametrize(
    ("last", "offset", "expected"),
    [(None, 0, False), (T0, 0, True), (T0, 9.99, True), (T0, 10, False), (T0, 60, False)],
)
def test_is_still_leader(last: datetime | None, offset: float, expected: bool) -> None:
    now = T0 + timedelta(seconds=offset)
    assert is_still_leader(last, timedelta(seconds=10), now) is expected


def test_pod_identity_prefers_pod_name() -> None:
    assert pod_identity({"POD_NAME": "reconciler-7d9f-abcde"}) == "reconciler-7d9f-abcde"
    assert pod_identity({}) != ""


@pytest.mark.parametrize(
    "timing",
    [
        dict(lease_duration=timedelta(seconds=10), renew_deadline=timedelta(seconds=10)),
        dict(renew_deadline=timedelta(seconds=2), retry_period=timedelta(seconds=2)),
        dict(retry_period=timedelta(0)),
    ],
)
def test_election_config_rejects_unsafe_timing(timing: dict[str, timedelta]) -> None:
    with pytest.raises(ConfigError, match="retry_period < renew_deadline < lease_duration"):
        ElectionConfig(identity="me", **timing)


def test_election_config_needs_an_identity() -> None:
    with pytest.raises(ConfigError, match="POD_NAME"):
        ElectionConfig(identity="")


# --- the elector --------------------------------------------------------------------------------


def test_only_one_of_two_candidates_leads() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    assert a.is_leader()
    assert not b.is_leader()
    for _ in range(20):  # a renews every retry period; b never gets in
        clock.advance(2)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert store.record is not None
    assert store.record.holder_identity == "a"
    assert store.record.lease_transitions == 0


def test_standby_takes_over_after_the_lease_duration_when_the_leader_dies() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    events_a, events_b = Events(), Events()
    a, b = elector(store, clock, "a", events_a), elector(store, clock, "b", events_b)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b observes a's lease at T0
    # a dies (stops renewing). b keeps trying every retry period.
    took_over_at = None
    for _ in range(10):
        clock.advance(2)
        if b.try_acquire_or_renew():
            took_over_at = clock.now
            break
    assert took_over_at == T0 + timedelta(seconds=16)  # first retry at/after 15 s
    # a stopped writing well before b started: at its renew deadline.
    assert not a.is_leader()
    assert store.record is not None
    assert (store.record.holder_identity, store.record.lease_transitions) == ("b", 1)
    # a wakes up, sees b holds the lease: it lost, once.
    assert not a.try_acquire_or_renew()
    assert a.lost
    assert (events_a.started, events_a.stopped, events_a.changes) == (1, 1, [True, False])
    assert (events_b.started, events_b.stopped) == (1, 0)


def test_leader_stops_writing_at_the_renew_deadline_even_without_a_step() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a = elector(store, clock, "a")
    assert a.try_acquire_or_renew()
    store.fail_with = KubernetesError("apiserver down", status=503, transient=True)
    clock.advance(9)
    assert not a.try_acquire_or_renew()
    assert a.is_leader()  # still within the deadline
    assert not a.lost
    clock.advance(1)
    assert not a.is_leader()  # the deadline alone ends writing
    assert not a.check()
    assert a.lost


def test_renewal_recovers_within_the_deadline() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a = elector(store, clock, "a")
    assert a.try_acquire_or_renew()
    store.fail_with = KubernetesError("timeout", transient=True)
    clock.advance(6)
    assert not a.try_acquire_or_renew()
    store.fail_with = None
    clock.advance(2)
    assert a.try_acquire_or_renew()
    clock.advance(9)
    assert a.is_leader()
    assert not a.lost


def test_release_lets_a_standby_take_over_at_once() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.advance(1)
    assert a.release()
    assert not a.is_leader()
    assert not a.lost  # a clean stop is not a loss
    assert not a.try_acquire_or_renew()  # a released elector never takes the lease again
    clock.advance(0.1)
    assert b.try_acquire_or_renew()
    assert store.record is not None
    assert store.record.holder_identity == "b"


def test_release_without_leading_writes_nothing() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    assert a.try_acquire_or_renew()
    writes = len(store.writes)
    assert not b.release()
    assert len(store.writes) == writes


def test_a_lost_race_is_a_conflict_not_leadership() -> None:
    store, clock = FakeLeaseStore(), FakeClock()
    a, b = elector(store, clock, "a"), elector(store, clock, "b")
    real_get = store.get

    def get_then_race() -> LeaseRecord | None:
        seen = real_get()
        store.get = real_get  # type: ignore[method-assign]
        assert b.try_acquire_or_renew()  # b writes between a's read and a's write
        return seen

    store.get = get_then_race  # type: ignore[method-assign]
    assert not a.try_acquire_or_renew()
    assert not a.is_leader()
    assert b.is_leader()
    assert len(store.writes) == 1


def test_thread_renews_until_stopped_then_releases() -> None:
    store = FakeLeaseStore()
    renewed = threading.Event()
    real_update = store.update

    def update(record: LeaseRecord) -> LeaseRecord:
        result = real_update(record)
        if record.holder_identity == "a":
            renewed.set()
        return result

    store.update = update  # type: ignore[method-assign]
    a = LeaderElector(
        store=store,
        config=ElectionConfig(
            identity="a",
            lease_duration=timedelta(seconds=3),
            renew_deadline=timedelta(seconds=2),
            retry_period=timedelta(milliseconds=10),
        ),
        clock=lambda: datetime.now(tz=UTC),
    )
    a.start()
    assert renewed.wait(5), "the renew thread never renewed"
    assert a.is_leader()
    a.stop(release=True)
    assert not a.is_leader()
    assert store.record is not None
    assert store.record.holder_identity == ""


def test_public_surface() -> None:
    assert sorted(leader_module.__all__) == [
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
    assert undocumented(leader_module) == []
