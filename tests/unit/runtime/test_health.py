"""Health: the pure rule, the state's transitions, and the real HTTP server on 127.0.0.1."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from reconciler.model.errors import ConfigError
from reconciler.runtime import health as health_module
from reconciler.runtime import metrics as metrics_module
from reconciler.runtime.health import HealthServer, HealthState, is_healthy
from reconciler.runtime.metrics import Metrics
from tests.doubles import T0, FakeClock

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("last_success", "now_offset", "expected"),
    [
        (None, 0, True),  # just started: grace period
        (None, 179, True),
        (None, 180, False),  # never converged in 3 intervals
        (T0 + timedelta(seconds=100), 279, True),
        (T0 + timedelta(seconds=100), 280, False),
    ],
)
def test_is_healthy(last_success: datetime | None, now_offset: float, expected: bool) -> None:
    now = T0 + timedelta(seconds=now_offset)
    assert (
        is_healthy(
            last_success=last_success,
            started=T0,
            interval=MINUTE,
            tolerated_intervals=3,
            now=now,
        )
        is expected
    )


def test_state_goes_unhealthy_and_back() -> None:
    clock = FakeClock()
    state = HealthState(clock=clock, interval=MINUTE, tolerated_intervals=2)
    assert state.is_healthy()
    assert not state.is_ready()
    clock.advance(30)
    state.record_success(clock.now)
    clock.advance(119)
    assert state.is_healthy()
    clock.advance(1)
    assert not state.is_healthy()
    state.record_success(clock.now)
    assert state.is_healthy()
    assert state.last_success() == clock.now
    # an older success reported late never moves the clock back
    state.record_success(T0)
    assert state.last_success() == clock.now
    state.mark_synced()
    assert state.is_ready()


def test_state_rejects_nonsense() -> None:
    with pytest.raises(ConfigError):
        HealthState(clock=FakeClock(), interval=MINUTE, tolerated_intervals=0)


@pytest.fixture
def served() -> Iterator[tuple[HealthServer, HealthState, FakeClock, Metrics]]:
    clock = FakeClock()
    state = HealthState(clock=clock, interval=MINUTE, tolerated_intervals=3)
    metrics = Metrics.create(CollectorRegistry())
    server = HealthServer(state=state, registry=metrics.registry, host="127.0.0.1", port=0)
    server.start()
    yield server, state, clock, metrics
    server.stop()


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        content_type = err.headers["Content-Type"]
        err.close()
        return err.code, content_type, body


def test_server_probes_follow_the_state(
    served: tuple[HealthServer, HealthState, FakeClock, Metrics],
) -> None:
    server, state, clock, _ = served
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port > 0
    assert get(f"{server.url}/healthz")[0] == 200
    status, _, body = get(f"{server.url}/readyz")
    assert (status, body) == (503, "caches not synced\n")
    state.mark_synced()
    assert get(f"{server.url}/readyz")[0] == 200
    clock.advance(180)
    status, _, body = get(f"{server.url}/healthz")
    assert (status, body) == (503, "no pass converged recently\n")
    state.record_success(clock.now)
    assert get(f"{server.url}/healthz?verbose=1")[0] == 200
    assert get(f"{server.url}/nope")[0] == 404


def test_server_serves_the_injected_registry(
    served: tuple[HealthServer, HealthState, FakeClock, Metrics],
) -> None:
    server, _, _, metrics = served
    metrics.source_endpoints_total.set(42)
    metrics.is_leader.set(1)
    status, content_type, body = get(f"{server.url}/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "ingress_reconciler_source_endpoints_total 42.0" in body
    assert "ingress_reconciler_is_leader 1.0" in body
    # only our registry: nothing from the global default one (process_*, python_gc_*)
    assert "python_gc_objects_collected_total" not in body


def test_public_surfaces() -> None:
    assert sorted(health_module.__all__) == ["HealthServer", "HealthState", "is_healthy"]
    assert sorted(metrics_module.__all__) == ["Metrics", "PREFIX"]


def test_every_metric_is_prefixed_and_registered_only_on_the_given_registry() -> None:
    registry = CollectorRegistry()
    Metrics.create(registry)
    names = {m.name for m in registry.collect()}
    assert names == {
        "ingress_reconciler_source_endpoints_total",
        "ingress_reconciler_registry_records",
        "ingress_reconciler_last_sync_timestamp_seconds",
        "ingress_reconciler_consecutive_soft_errors",
        "ingress_reconciler_pass_duration_seconds",
        "ingress_reconciler_passes",
        "ingress_reconciler_conflicts",
        "ingress_reconciler_refusals",
        "ingress_reconciler_changes",
        "ingress_reconciler_is_leader",
    }
    Metrics.create(CollectorRegistry())  # a second set on another registry does not clash
