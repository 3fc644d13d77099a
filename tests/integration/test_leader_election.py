"""Leader election on a real kube-apiserver: the Lease store, and reconciler processes competing.

The candidates are real processes (this file, run as a script, is one): each runs the controller
loop with a pass that appends its identity to a ConfigMap, but only while it leads. The ConfigMap's
log then shows who wrote, in order: one leader at a time, never interleaved.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from e2e.servers.apiserver import ApiServer, free_tcp_port
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.lease import KubeLeaseStore, format_micro_time, parse_micro_time
from reconciler.model.errors import KubernetesError
from reconciler.runtime.leader import LeaseRecord, acquired_record, released_record

pytestmark = pytest.mark.integration

LEASE = "ingress-reconciler-leader"
LOG_MAP = "writes"
LEASE_DURATION = 4.0
RENEW_DEADLINE = 3.0
RETRY_PERIOD = 0.5
PASS_INTERVAL = 0.2
REPO_ROOT = Path(__file__).resolve().parents[2]


def new_api_client(kubeconfig: Path) -> KubeClient:
    return load_client(kubeconfig=kubeconfig, timeout=10)


# --- the Lease store against the apiserver ----------------------------------------------------


@pytest.fixture
def store(apiserver: ApiServer, namespace: str) -> Iterator[KubeLeaseStore]:
    client = new_api_client(apiserver.kubeconfig)
    try:
        yield KubeLeaseStore(client=client, namespace=namespace, name=LEASE)
    finally:
        client.close()


def test_micro_time_round_trip() -> None:
    exact = datetime(2026, 1, 1, 12, 30, 5, tzinfo=UTC)
    assert format_micro_time(exact) == "2026-01-01T12:30:05.000000Z"
    assert parse_micro_time(format_micro_time(exact)) == exact
    assert parse_micro_time("2026-01-01T12:30:05Z") == exact
    assert parse_micro_time(None) is None


def test_lease_store_create_read_update_conflict(
    store: KubeLeaseStore, apiserver: ApiServer, namespace: str
) -> None:
    assert store.get() is None
    t0 = datetime(2026, 1, 1, tzinfo=UTC)  # zero microseconds: the case the client gets wrong
    created = store.create(acquired_record(None, "pod-a", t0, timedelta(seconds=15)))
    assert created.resource_version
    assert store.get() == created
    raw = apiserver.must(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{LEASE}"
    )
    assert raw["spec"]["holderIdentity"] == "pod-a"
    assert raw["spec"]["renewTime"] == "2026-01-01T00:00:00.000000Z"
    assert raw["spec"]["leaseDurationSeconds"] == 15

    later = t0 + timedelta(seconds=2, microseconds=123456)
    taken = store.update(acquired_record(created, "pod-b", later, timedelta(seconds=15)))
    assert (taken.holder_identity, taken.lease_transitions, taken.renew_time) == (
        "pod-b",
        1,
        later,
    )
    # a write based on the stale read is refused: optimistic concurrency
    with pytest.raises(KubernetesError) as stale:
        store.update(acquired_record(created, "pod-a", later, timedelta(seconds=15)))
    assert stale.value.status == 409
    assert not stale.value.transient
    with pytest.raises(KubernetesError) as exists:
        store.create(created)
    assert exists.value.status == 409

    released = store.update(released_record(taken, later))
    assert released.holder_identity == ""
    assert released.lease_duration_seconds == 1


def test_lease_store_wraps_transport_and_auth_errors(
    apiserver: ApiServer, namespace: str, tmp_path: Path
) -> None:
    # No rights: a ServiceAccount that nobody bound to any role.
    client = new_api_client(apiserver.service_account_kubeconfig(namespace, "nobody"))
    try:
        forbidden = KubeLeaseStore(client=client, namespace=namespace, name=LEASE)
        with pytest.raises(KubernetesError) as denied:
            forbidden.get()
        assert denied.value.status == 403
        assert not denied.value.transient
    finally:
        client.close()

    # Nobody listening: the connection error is wrapped and marked transient.
    dead = json.loads(apiserver.kubeconfig.read_text())
    dead["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_tcp_port()}"
    (tmp_path / "dead").write_text(json.dumps(dead))
    client = new_api_client(tmp_path / "dead")
    try:
        unreachable = KubeLeaseStore(
            client=client, namespace=namespace, name=LEASE, request_timeout=2
        )
        with pytest.raises(KubernetesError) as down:
            unreachable.update(LeaseRecord(holder_identity="x", resource_version="1"))
        assert down.value.status is None
        assert down.value.transient
        assert isinstance(down.value.__cause__, Exception)
    finally:
        client.close()


# --- competing reconciler processes -------------------------------------------------------------


class Candidate:
    """One reconciler process (this file run as a script); its stdout events land in a queue."""

    def __init__(self, kubeconfig: Path, namespace: str, identity: str) -> None:
        self.identity = identity
        env = dict(os.environ, POD_NAME=identity, PYTHONPATH=str(REPO_ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, __file__, str(kubeconfig), namespace],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        self.events: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.events.put(line.strip())

    def wait_for(self, event: str, timeout: float) -> float:
        """Block until the process reports ``event``; returns when (monotonic)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.identity} never reported {event!r}")
            try:
                got = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if got == event:
                return time.monotonic()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def candidates(apiserver: ApiServer, namespace: str) -> Iterator[list[Candidate]]:
    started: list[Candidate] = []
    apiserver.must(
        "POST",
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": LOG_MAP}, "data": {}},
    )
    yield started
    for candidate in started:
        candidate.stop()


def writers(apiserver: ApiServer, namespace: str) -> list[str]:
    data = apiserver.must("GET", f"/api/v1/namespaces/{namespace}/configmaps/{LOG_MAP}")
    return [w for w in (data.get("data") or {}).get("log", "").split("\n") if w]


def lease_holder(apiserver: ApiServer, namespace: str) -> dict[str, Any]:
    data = apiserver.must(
        "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{LEASE}"
    )
    spec: dict[str, Any] = data["spec"]
    return spec


def wait_until_written_by(
    apiserver: ApiServer, namespace: str, identity: str, count: int, timeout: float = 20
) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = writers(apiserver, namespace)
        if log.count(identity) >= count:
            return log
        time.sleep(0.05)  # polling the apiserver for a condition, with a deadline
    raise AssertionError(f"{identity} did not write {count} times: {writers(apiserver, namespace)}")


def runs(log: list[str]) -> list[str]:
    """Collapse consecutive duplicates: ["a", "a", "b"] → ["a", "b"]."""
    return [w for i, w in enumerate(log) if i == 0 or log[i - 1] != w]


def test_one_leader_writes_and_a_standby_takes_over(
    apiserver: ApiServer, namespace: str, candidates: list[Candidate]
) -> None:
    kubeconfig = apiserver.kubeconfig
    a = Candidate(kubeconfig, namespace, "pod-a")
    candidates.append(a)
    a.wait_for("leading", timeout=60)
    b = Candidate(kubeconfig, namespace, "pod-b")
    candidates.append(b)
    b.wait_for("started", timeout=60)
    wait_until_written_by(apiserver, namespace, "pod-a", 5)
    # b runs its loop too, but never writes while a holds the lease
    log = wait_until_written_by(apiserver, namespace, "pod-a", 15)
    assert set(log) == {"pod-a"}
    assert lease_holder(apiserver, namespace)["holderIdentity"] == "pod-a"

    # kill the leader: no release; b must wait for the lease to expire, then take over
    a.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    a.proc.wait(timeout=20)
    took_over = b.wait_for("leading", timeout=LEASE_DURATION * 4)
    assert took_over - killed <= LEASE_DURATION + 2 * RETRY_PERIOD + 2.0
    assert took_over - killed >= LEASE_DURATION - RENEW_DEADLINE  # it did wait for expiry
    log = wait_until_written_by(apiserver, namespace, "pod-b", 5)
    assert runs(log) == ["pod-a", "pod-b"]  # one writer at a time, never interleaved
    spec = lease_holder(apiserver, namespace)
    assert spec["holderIdentity"] == "pod-b"
    assert spec["leaseTransitions"] == 1

    # SIGTERM on the leader: it finishes its pass, releases, exits 0; c takes over at once
    c = Candidate(kubeconfig, namespace, "pod-c")
    candidates.append(c)
    c.wait_for("started", timeout=60)
    b.proc.send_signal(signal.SIGTERM)
    asked = time.monotonic()
    assert b.proc.wait(timeout=20) == 0
    took_over = c.wait_for("leading", timeout=LEASE_DURATION * 4)
    assert took_over - asked < LEASE_DURATION - 1.0  # no waiting for expiry
    log = wait_until_written_by(apiserver, namespace, "pod-c", 3)
    assert runs(log) == ["pod-a", "pod-b", "pod-c"]
    spec = lease_holder(apiserver, namespace)
    assert spec["holderIdentity"] == "pod-c"
    assert spec["leaseTransitions"] == 2


# --- the candidate process ----------------------------------------------------------------------


def _candidate_main(kubeconfig: str, namespace: str) -> int:
    """Run the real loop + elector; the pass appends our identity to the ConfigMap's log."""
    from prometheus_client import CollectorRegistry  # noqa: PLC0415

    from reconciler.runtime.leader import ElectionConfig, LeaderElector, pod_identity  # noqa: PLC0415
    from reconciler.runtime.loop import (  # noqa: PLC0415
        Controller,
        LoopConfig,
        PassRequest,
        PassResult,
        install_signal_handlers,
        run,
        utc_now,
    )
    from reconciler.runtime.metrics import Metrics  # noqa: PLC0415

    def say(event: str) -> None:
        print(event, flush=True)

    api_client = new_api_client(Path(kubeconfig))
    path = f"/api/v1/namespaces/{namespace}/configmaps/{LOG_MAP}"
    identity = pod_identity()
    stop = threading.Event()

    def stopped_leading() -> None:
        say("lost")
        stop.set()

    elector = LeaderElector(
        store=KubeLeaseStore(client=api_client, namespace=namespace, name=LEASE),
        config=ElectionConfig(
            identity=identity,
            lease_duration=timedelta(seconds=LEASE_DURATION),
            renew_deadline=timedelta(seconds=RENEW_DEADLINE),
            retry_period=timedelta(seconds=RETRY_PERIOD),
        ),
        clock=utc_now,
        on_started_leading=lambda: say("leading"),
        on_stopped_leading=stopped_leading,
    )

    def append_identity(request: PassRequest) -> PassResult:
        current = api_client.request("GET", path)
        data = dict(current.get("data") or {})
        data["log"] = data.get("log", "") + identity + "\n"
        if not request.may_write():  # the guard every real write goes through
            return PassResult(converged=False)
        try:
            api_client.request("PUT", path, body={**current, "data": data})
        except KubernetesError as exc:
            if exc.status != 409:
                raise
            return PassResult(converged=False)
        return PassResult(converged=True)

    controller = Controller(
        run_pass=append_identity,
        config=LoopConfig(interval=timedelta(seconds=PASS_INTERVAL)),
        metrics=Metrics.create(CollectorRegistry()),
        may_write=elector.is_leader,
    )
    install_signal_handlers(stop)
    say("started")
    code = run(controller, stop=stop, elector=elector, watchdog_period=timedelta(seconds=0.1))
    say(json.dumps({"exit": code}))
    return code


if __name__ == "__main__":
    sys.exit(_candidate_main(sys.argv[1], sys.argv[2]))
