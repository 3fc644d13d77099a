"""The controller loop: debounce, coalescing, leadership gating, resync, metrics, exit codes."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry

from reconciler.model.cluster import ChangeType, ObjectChange
from reconciler.model.errors import ConfigError, TransientProviderError
from reconciler.runtime import loop as loop_module
from reconciler.runtime.health import HealthState
from reconciler.runtime.leader import ElectionConfig, LeaderElector, LeaseRecord
from reconciler.runtime.loop import (
    EARLY_JOB,
    EXIT_LEADERSHIP_LOST,
    EXIT_OK,
    INTERVAL_JOB,
    ChangeCount,
    Controller,
    Debounce,
    LoopConfig,
    PassRequest,
    PassResult,
    ReasonCount,
    RecordCount,
    install_signal_handlers,
    run,
)
from reconciler.runtime.metrics import Metrics
from tests.doubles import T0, FakeClock, undocumented


class FakeScheduler:
    """Records jobs like apscheduler does (``replace_existing`` replaces by id); runs on demand."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[Callable[[], None], str, dict[str, Any]]] = {}
        self.adds = 0
        self.started = False
        self.shut_down = False

    def add_job(self, func: Callable[[], None], trigger: str, **kwargs: Any) -> object:
        job_id = kwargs["id"]
        if job_id in self.jobs and not kwargs.get("replace_existing"):
            raise AssertionError(f"duplicate job {job_id}")
        self.jobs[job_id] = (func, trigger, kwargs)
        self.adds += 1
        return job_id

    def start(self) -> None:
        self.started = True

    def shutdown(self, wait: bool = True) -> None:
        self.shut_down = True

    def fire(self, job_id: str) -> None:
        """Run a job as the scheduler would at its time (date jobs are then removed)."""
        func, trigger, _ = self.jobs[job_id]
        if trigger == "date":
            del self.jobs[job_id]
        func()


class Passes:
    """A pass function that records its requests and returns a scripted result."""

    def __init__(self, result: PassResult | None = None) -> None:
        self.requests: list[PassRequest] = []
        self.result = result or PassResult(converged=True)
        self.during: Callable[[], None] = lambda: None
        self.error: Exception | None = None

    def __call__(self, request: PassRequest) -> PassResult:
        self.requests.append(request)
        self.during()
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics.create(CollectorRegistry())


def make(
    clock: FakeClock,
    metrics: Metrics,
    passes: Passes,
    *,
    may_write: Callable[[], bool] = lambda: True,
    health: HealthState | None = None,
    scheduler: Any = None,
    config: LoopConfig | None = None,
) -> tuple[Controller, FakeScheduler]:
    sched = scheduler if scheduler is not None else FakeScheduler()
    controller = Controller(
        run_pass=passes,
        config=config or LoopConfig(interval=timedelta(seconds=60)),
        metrics=metrics,
        clock=clock,
        may_write=may_write,
        health=health,
        scheduler=sched,
    )
    return controller, sched


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(f"ingress_reconciler_{name}", labels)


# --- pure pieces --------------------------------------------------------------------------------


def test_debounce_fires_after_the_last_event_capped_by_the_first() -> None:
    d = Debounce()
    assert not d.is_pending
    assert d.fire_at(timedelta(seconds=0.5), timedelta(seconds=5)) is None
    d = d.triggered(T0)
    assert d.fire_at(timedelta(seconds=0.5), timedelta(seconds=5)) == T0 + timedelta(seconds=0.5)
    d = d.triggered(T0 + timedelta(seconds=0.3))
    assert d.fire_at(timedelta(seconds=0.5), timedelta(seconds=5)) == T0 + timedelta(seconds=0.8)
    # a steady stream keeps pushing the pass back, but never past first + max_debounce
    for i in range(100):
        d = d.triggered(T0 + timedelta(seconds=0.1 * i))
    assert d.count == 102
    assert d.fire_at(timedelta(seconds=0.5), timedelta(seconds=5)) == T0 + timedelta(seconds=5)


def test_loop_config_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="debounce"):
        LoopConfig(debounce=timedelta(seconds=10), max_debounce=timedelta(seconds=1))
    with pytest.raises(ConfigError, match="positive"):
        LoopConfig(interval=timedelta(0))


# --- scheduling ---------------------------------------------------------------------------------


def test_start_schedules_one_coalesced_interval_job_that_runs_at_once(
    clock: FakeClock, metrics: Metrics
) -> None:
    controller, sched = make(clock, metrics, Passes())
    controller.start()
    assert sched.started
    _, trigger, kwargs = sched.jobs[INTERVAL_JOB]
    assert trigger == "interval"
    assert kwargs["seconds"] == 60
    assert kwargs["max_instances"] == 1
    assert kwargs["coalesce"] is True
    assert kwargs["next_run_time"] == T0
    controller.stop()
    assert sched.shut_down


def test_fifty_events_make_one_pass(clock: FakeClock, metrics: Metrics) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    for _ in range(50):
        controller.trigger()
        clock.advance(0.01)
    # one early job, replaced on each event, due one coalescing window (0.02 s) after the last
    assert list(sched.jobs) == [EARLY_JOB]
    _, trigger, kwargs = sched.jobs[EARLY_JOB]
    assert trigger == "date"
    assert kwargs["run_date"] == T0 + timedelta(seconds=0.49 + 0.02)
    assert kwargs["replace_existing"] is True
    sched.fire(EARLY_JOB)
    assert len(passes.requests) == 1
    assert passes.requests[0].reason == "event"
    assert not controller.pending().is_pending
    assert sched.jobs == {}


def test_a_pass_consumes_pending_events_so_the_early_job_skips(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.start()
    controller.trigger()
    sched.fire(INTERVAL_JOB)  # the interval pass happens to run first and sees the event
    sched.fire(EARLY_JOB)  # nothing left to do
    assert [r.reason for r in passes.requests] == ["interval"]


def test_events_during_a_pass_cause_exactly_one_more_pass(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)

    def events_arrive() -> None:
        if len(passes.requests) == 1:
            for _ in range(10):
                controller.trigger()

    passes.during = events_arrive
    controller.trigger()
    sched.fire(EARLY_JOB)
    assert EARLY_JOB in sched.jobs  # the events seen mid-pass scheduled a follow-up
    sched.fire(EARLY_JOB)
    assert len(passes.requests) == 2
    assert EARLY_JOB not in sched.jobs


def test_passes_never_overlap_on_the_real_scheduler(metrics: Metrics) -> None:
    """Interval and early passes share one lock: at most one pass runs at any moment."""
    running, peak, count = 0, 0, 0
    lock = threading.Lock()
    first_running = threading.Event()
    release_first = threading.Event()

    def slow_pass(request: PassRequest) -> PassResult:
        nonlocal running, peak, count
        with lock:
            running += 1
            peak = max(peak, running)
            count += 1
        if count == 1:
            first_running.set()
            assert release_first.wait(10)
        with lock:
            running -= 1
        return PassResult(converged=True)

    scheduler = BackgroundScheduler(timezone=UTC)
    controller = Controller(
        run_pass=slow_pass,
        config=LoopConfig(
            interval=timedelta(hours=1),
            debounce=timedelta(milliseconds=1),
            max_debounce=timedelta(milliseconds=1),
        ),
        metrics=metrics,
        scheduler=scheduler,
    )
    controller.start()
    try:
        assert first_running.wait(10)
        controller.trigger()  # fires while the first pass still runs
        release_first.set()
        deadline = datetime.now(tz=UTC) + timedelta(seconds=10)
        while count < 2 and datetime.now(tz=UTC) < deadline:
            threading.Event().wait(0.01)
        assert count == 2
        # nothing pending, no early job left: no further pass will come
        deadline = datetime.now(tz=UTC) + timedelta(seconds=10)
        while scheduler.get_job(EARLY_JOB) is not None and datetime.now(tz=UTC) < deadline:
            threading.Event().wait(0.01)
        assert scheduler.get_job(EARLY_JOB) is None
        assert not controller.pending().is_pending
    finally:
        controller.stop(wait=True)
    assert peak == 1
    assert count == 2


def test_an_event_during_an_early_pass_is_not_dropped(metrics: Metrics) -> None:
    """The follow-up early job fires while the first early pass still runs: it must wait, not
    be skipped by apscheduler's instance limit."""
    count = 0
    first_running = threading.Event()
    release_first = threading.Event()
    second_done = threading.Event()

    def slow_pass(request: PassRequest) -> PassResult:
        nonlocal count
        count += 1
        if count == 1:
            first_running.set()
            assert release_first.wait(10)
        else:
            second_done.set()
        return PassResult(converged=True)

    scheduler = BackgroundScheduler(timezone=UTC)
    controller = Controller(
        run_pass=slow_pass,
        config=LoopConfig(
            interval=timedelta(hours=1),
            debounce=timedelta(milliseconds=1),
            max_debounce=timedelta(milliseconds=1),
        ),
        metrics=metrics,
        scheduler=scheduler,
    )
    scheduler.start()
    try:
        controller.trigger()
        assert first_running.wait(10)
        controller.trigger()  # its early job comes due while the first early pass runs
        deadline = datetime.now(tz=UTC) + timedelta(seconds=10)
        while scheduler.get_job(EARLY_JOB) is not None and datetime.now(tz=UTC) < deadline:
            threading.Event().wait(0.01)  # until apscheduler has submitted it
        release_first.set()
        assert second_done.wait(10), "the event seen mid-pass was dropped"
    finally:
        controller.stop(wait=True)
    assert count == 2


def test_fifty_events_on_the_real_scheduler_make_one_pass(metrics: Metrics) -> None:
    seen: list[PassRequest] = []
    done = threading.Event()

    def record(request: PassRequest) -> PassResult:
        seen.append(request)
        done.set()
        return PassResult(converged=True)

    scheduler = BackgroundScheduler(timezone=UTC)
    controller = Controller(
        run_pass=record,
        config=LoopConfig(interval=timedelta(hours=1), debounce=timedelta(milliseconds=200)),
        metrics=metrics,
        scheduler=scheduler,
    )
    scheduler.start()  # only the early job: no interval pass in this test
    try:
        for _ in range(50):
            controller.trigger()
        assert done.wait(10)
        deadline = datetime.now(tz=UTC) + timedelta(seconds=10)
        while scheduler.get_job(EARLY_JOB) is not None and datetime.now(tz=UTC) < deadline:
            threading.Event().wait(0.01)
        assert scheduler.get_job(EARLY_JOB) is None
    finally:
        controller.stop(wait=True)
    assert len(seen) == 1


# --- leadership -----------------------------------------------------------------------------------


def test_only_the_leader_runs_passes(clock: FakeClock, metrics: Metrics) -> None:
    leading = False
    passes = Passes()
    health = HealthState(clock=clock, interval=timedelta(seconds=60), tolerated_intervals=2)
    controller, sched = make(clock, metrics, passes, may_write=lambda: leading, health=health)
    controller.start()
    for _ in range(5):
        sched.fire(INTERVAL_JOB)
        clock.advance(60)
    assert passes.requests == []
    assert health.is_healthy()  # a standby is not unhealthy for running no passes
    leading = True
    sched.fire(INTERVAL_JOB)
    assert len(passes.requests) == 1
    assert passes.requests[0].may_write()
    leading = False
    assert not passes.requests[0].may_write()  # the pass sees the loss at once


# --- reporting ----------------------------------------------------------------------------------


def test_a_pass_result_lands_in_the_metrics(clock: FakeClock, metrics: Metrics) -> None:
    result = PassResult(
        converged=True,
        source_endpoints=7,
        records=(RecordCount("bind", "A", 3), RecordCount("bind", "TXT", 6)),
        changes=(ChangeCount("bind", "create", 2), ChangeCount("bind", "delete", 1)),
        conflicts=(ReasonCount("foreign-owner", 1),),
        refusals=(ReasonCount("domain-not-allowed", 2),),
    )
    controller, _ = make(clock, metrics, Passes(result))
    clock.advance(5)
    assert controller.run_now(reason="interval") == result
    assert sample(metrics, "source_endpoints_total") == 7
    assert sample(metrics, "registry_records", provider="bind", record_type="TXT") == 6
    assert sample(metrics, "changes_total", provider="bind", action="create") == 2
    assert sample(metrics, "conflicts_total", reason="foreign-owner") == 1
    assert sample(metrics, "refusals_total", reason="domain-not-allowed") == 2
    assert sample(metrics, "last_sync_timestamp_seconds") == (T0 + timedelta(seconds=5)).timestamp()
    assert sample(metrics, "passes_total", result="converged") == 1
    assert sample(metrics, "pass_duration_seconds_count") == 1
    # counters add up across passes; gauges show the last pass
    controller.run_now(reason="interval")
    assert sample(metrics, "changes_total", provider="bind", action="create") == 4
    assert sample(metrics, "source_endpoints_total") == 7


def test_soft_errors_count_up_and_reset_and_drive_health(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    health = HealthState(clock=clock, interval=timedelta(seconds=60), tolerated_intervals=3)
    controller, _ = make(clock, metrics, passes, health=health)
    assert controller.run_now(reason="interval") is not None
    passes.error = TransientProviderError("timeout", provider="bind")
    for expected in (1, 2, 3):
        clock.advance(60)
        assert controller.run_now(reason="interval") is None
        assert sample(metrics, "consecutive_soft_errors") == expected
    assert not health.is_healthy()  # 3 intervals without a converged pass
    assert sample(metrics, "passes_total", result="failed") == 3
    passes.error = None
    passes.result = PassResult(converged=False, errors=("bind: REFUSED",))
    clock.advance(60)
    controller.run_now(reason="interval")
    assert sample(metrics, "consecutive_soft_errors") == 4
    assert not health.is_healthy()
    passes.result = PassResult(converged=True)
    controller.run_now(reason="interval")
    assert sample(metrics, "consecutive_soft_errors") == 0
    assert health.is_healthy()


def test_a_crashing_pass_does_not_stop_the_loop(clock: FakeClock, metrics: Metrics) -> None:
    passes = Passes()
    passes.error = KeyError("bug")
    controller, sched = make(clock, metrics, passes)
    controller.start()
    sched.fire(INTERVAL_JOB)
    passes.error = None
    sched.fire(INTERVAL_JOB)
    assert len(passes.requests) == 2
    assert sample(metrics, "passes_total", result="failed") == 1
    assert sample(metrics, "passes_total", result="converged") == 1


# --- once and run ---------------------------------------------------------------------------------


def test_run_stops_cleanly_when_asked(clock: FakeClock, metrics: Metrics) -> None:
    controller, sched = make(clock, metrics, Passes())
    stop = threading.Event()
    stop.set()
    assert run(controller, stop=stop, watchdog_period=timedelta(milliseconds=10)) == EXIT_OK
    assert sched.started
    assert sched.shut_down


class _MemoryStore:
    def __init__(self) -> None:
        self.record: LeaseRecord | None = None

    def get(self) -> LeaseRecord | None:
        return self.record

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self.record = record
        return record

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self.record = record
        return record


def test_run_exits_when_the_lease_is_lost(metrics: Metrics) -> None:
    store = _MemoryStore()
    now = [datetime.now(tz=UTC)]
    elector = LeaderElector(
        store=store,
        config=ElectionConfig(
            identity="me",
            lease_duration=timedelta(seconds=30),
            renew_deadline=timedelta(seconds=20),
            retry_period=timedelta(milliseconds=10),
        ),
        clock=lambda: now[0],
    )
    took = threading.Event()

    def someone_else_takes_it() -> None:
        # Once we lead, another candidate writes itself into the lease.
        assert took.wait(10)
        store.record = LeaseRecord(holder_identity="other", renew_time=now[0])

    controller, _ = make(FakeClock(), metrics, Passes(), may_write=elector.is_leader)
    thief = threading.Thread(target=someone_else_takes_it)
    thief.start()
    original = store.update

    def update(record: LeaseRecord) -> LeaseRecord:
        written = original(record)
        took.set()
        return written

    store.update = update  # type: ignore[method-assign]
    store.create = update  # type: ignore[method-assign]
    code = run(
        controller,
        stop=threading.Event(),
        elector=elector,
        watchdog_period=timedelta(milliseconds=10),
    )
    thief.join()
    assert code == EXIT_LEADERSHIP_LOST
    assert elector.lost
    assert not elector.is_leader()
    assert store.record is not None
    assert store.record.holder_identity == "other"  # a lost lease is not "released" over the thief


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.usefixtures("restore_signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_set_the_stop_event(signum: int) -> None:
    stop = threading.Event()
    install_signal_handlers(stop)
    os.kill(os.getpid(), signum)
    assert stop.wait(5)


def test_run_asks_for_a_pass_on_becoming_leader_and_reports_leadership(
    metrics: Metrics,
) -> None:
    store = _MemoryStore()
    elector = LeaderElector(
        store=store,
        config=ElectionConfig(
            identity="me",
            lease_duration=timedelta(seconds=30),
            renew_deadline=timedelta(seconds=20),
            retry_period=timedelta(milliseconds=10),
        ),
        clock=lambda: datetime.now(tz=UTC),
    )
    controller, sched = make(FakeClock(), metrics, Passes(), may_write=elector.is_leader)
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(
        target=lambda: codes.append(
            run(
                controller,
                stop=stop,
                elector=elector,
                watchdog_period=timedelta(milliseconds=10),
            )
        )
    )
    thread.start()
    try:
        deadline = datetime.now(tz=UTC) + timedelta(seconds=10)
        while EARLY_JOB not in sched.jobs and datetime.now(tz=UTC) < deadline:
            threading.Event().wait(0.01)
        assert EARLY_JOB in sched.jobs, "becoming leader asked for no pass"
        assert sample(metrics, "is_leader") == 1
    finally:
        stop.set()
        thread.join(10)
    assert codes == [EXIT_OK]
    assert sample(metrics, "is_leader") == 0
    assert store.record is not None
    assert store.record.holder_identity == ""  # released on the way out


def test_public_surface() -> None:
    assert sorted(loop_module.__all__) == [
        "ChangeCount",
        "Controller",
        "Debounce",
        "EARLY_JOB",
        "EXIT_LEADERSHIP_LOST",
        "EXIT_OK",
        "INTERVAL_JOB",
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
    assert undocumented(loop_module) == []


# --- what changed: incremental early passes ---------------------------------------------------


def change(
    name: str, kind: str = "Ingress", type_: ChangeType = ChangeType.MODIFIED
) -> ObjectChange:
    return ObjectChange(
        type=type_, kind=kind, namespace="ns", name=name, obj={"metadata": {"name": name}}
    )


def test_an_early_pass_receives_the_latest_change_of_each_object(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.run_now(reason="once")  # the full pass every incremental one builds on
    assert passes.requests[0].changes is None
    controller.trigger("Ingress", change("a"))
    controller.trigger("Ingress", change("b"))
    controller.trigger("Ingress", change("a", type_=ChangeType.DELETED))
    sched.fire(EARLY_JOB)
    got = passes.requests[1].changes
    assert got is not None
    assert [(c.name, c.type) for c in got] == [
        ("a", ChangeType.DELETED),
        ("b", ChangeType.MODIFIED),
    ]


def test_a_trigger_without_a_change_asks_for_a_full_pass(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.run_now(reason="once")
    controller.trigger("Ingress", change("a"))
    controller.trigger("leader")
    sched.fire(EARLY_JOB)
    assert passes.requests[1].changes is None


def test_the_first_early_pass_is_full(clock: FakeClock, metrics: Metrics) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.trigger("Ingress", change("a"))
    sched.fire(EARLY_JOB)
    assert passes.requests[0].changes is None


def test_after_a_pass_that_did_not_converge_the_next_early_pass_is_full(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.run_now(reason="once")
    passes.result = PassResult(converged=False, errors=("bind: timeout",))
    controller.trigger("Ingress", change("a"))
    sched.fire(EARLY_JOB)
    assert passes.requests[1].changes is not None
    passes.result = PassResult(converged=True)
    controller.trigger("Ingress", change("b"))
    sched.fire(EARLY_JOB)
    assert passes.requests[2].changes is None  # a: not written last time, retried whole
    controller.trigger("Ingress", change("c"))
    sched.fire(EARLY_JOB)
    assert passes.requests[3].changes is not None


def test_an_interval_pass_is_full_and_takes_the_pending_changes(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.start()
    sched.fire(INTERVAL_JOB)
    controller.trigger("Ingress", change("a"))
    sched.fire(INTERVAL_JOB)
    assert passes.requests[1].changes is None
    sched.fire(EARLY_JOB)  # the events were seen by the interval pass
    assert len(passes.requests) == 2


def test_an_incremental_pass_leaves_the_gauges_of_the_last_full_pass(
    clock: FakeClock, metrics: Metrics
) -> None:
    full = PassResult(
        converged=True,
        source_endpoints=10,
        records=(RecordCount(provider="bind", record_type="A", count=10),),
    )
    passes = Passes(full)
    controller, sched = make(clock, metrics, passes)
    controller.run_now(reason="once")
    passes.result = PassResult(converged=True, source_endpoints=1, incremental=True)
    controller.trigger("Ingress", change("a"))
    sched.fire(EARLY_JOB)
    assert passes.requests[1].changes is not None
    assert sample(metrics, "source_endpoints_total") == 10
    assert sample(metrics, "registry_records", provider="bind", record_type="A") == 10


def test_a_burst_of_events_sets_the_early_job_a_few_times_not_once_per_event(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    for i in range(200):
        controller.trigger("Ingress", change(f"i{i}"))
        clock.advance(0.0005)  # 200 events in 0.1 s, a window of 0.02 s
    # moved only when the time to fire moves by half a window or more: about 0.1 / 0.01
    assert sched.adds <= 12
    _, _, kwargs = sched.jobs[EARLY_JOB]
    # the pass still waits for the burst: fired at most half a window before last + window
    last = T0 + timedelta(seconds=199 * 0.0005)
    assert last + timedelta(seconds=0.01) <= kwargs["run_date"] <= last + timedelta(seconds=0.02)
    sched.fire(EARLY_JOB)
    assert len(passes.requests) == 1
    changes = passes.requests[0].changes
    assert changes is None  # the first early pass is full
    controller.trigger("Ingress", change("late"))
    assert EARLY_JOB in sched.jobs  # a new job after the pass ran


def test_the_first_event_after_a_quiet_window_runs_its_pass_at_once(
    clock: FakeClock, metrics: Metrics
) -> None:
    passes = Passes()
    controller, sched = make(clock, metrics, passes)
    controller.run_now(reason="once")
    clock.advance(1.0)  # quiet for longer than the window
    controller.trigger("Ingress", change("a"))
    assert sched.jobs[EARLY_JOB][2]["run_date"] == clock()  # no wait for a burst that may come
    # an event while that pass is still due waits for the window, as bursts do
    clock.advance(0.001)
    controller.trigger("Ingress", change("b"))
    assert sched.jobs[EARLY_JOB][2]["run_date"] == clock() + timedelta(seconds=0.02)
    sched.fire(EARLY_JOB)
    got = passes.requests[-1].changes
    assert got is not None
    assert {c.name for c in got} == {"a", "b"}
    # right after a pass, the next event waits one window (passes are at most one per window)
    controller.trigger("Ingress", change("c"))
    assert sched.jobs[EARLY_JOB][2]["run_date"] == clock() + timedelta(seconds=0.02)
