"""The controller end to end: real kube-apiserver + etcd, real BIND9, the real loop.

A :class:`Reconciler` here is what the ``run`` command composes: watch caches whose events trigger
debounced passes, the DNS pass (source → plan → TXT registry → RFC2136 provider), the loop with
metrics and health, and optionally leader election on a Lease. The interval is long (10 min) so
that every change below must travel the event path, not wait for the periodic pass.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer, ZoneRecord
from reconciler.app.cli import build_targets
from reconciler.app.pipeline import GuardedRegistry, Observed, reconcile
from reconciler.app.settings import load_settings
from reconciler.app.wiring import loop_result, pass_config
from reconciler.kube.cache import ClusterCache
from reconciler.kube.client import load_client
from reconciler.kube.lease import KubeLeaseStore
from reconciler.model.cluster import ObjectChange
from reconciler.model.errors import KubernetesError
from reconciler.runtime.health import HealthServer, HealthState
from reconciler.runtime.leader import ElectionConfig, LeaderElector, LeaseRecord
from reconciler.runtime.loop import (
    Controller,
    LoopConfig,
    PassRequest,
    PassResult,
    run,
    utc_now,
)
from reconciler.runtime.metrics import Metrics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "samples" / "config.yaml"
OWNER = "sample-cluster"
ZONE = "example.test"
DEBOUNCE = 0.5
INTERVAL = 600  # only the first pass is periodic: every change must travel the event path
LEASE = "ingress-reconciler"
# One debounce period, plus what a pass costs on a busy 2-core machine (a few ms against BIND).
WITHIN_ONE_DEBOUNCE = DEBOUNCE + 1.5


def always() -> bool:
    """Without leader election, this process always writes."""
    return True


class KillableStore:
    """A Lease store whose process can 'die': every later call fails like a dead connection."""

    def __init__(self, inner: KubeLeaseStore) -> None:
        self.inner = inner
        self.dead = False

    def _check(self) -> None:
        if self.dead:
            raise KubernetesError("process killed", transient=True)

    def get(self) -> LeaseRecord | None:
        self._check()
        return self.inner.get()

    def create(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        return self.inner.create(record)

    def update(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        return self.inner.update(record)


class Reconciler:
    """The composition the ``run`` command needs, from the real pieces, in this process."""

    def __init__(
        self,
        *,
        apiserver: ApiServer,
        namespace: str,
        bind: BindServer,
        identity: str = "",
        lease: tuple[timedelta, timedelta, timedelta] | None = None,
    ) -> None:
        self.client = load_client(kubeconfig=apiserver.kubeconfig, timeout=10)
        self.settings = load_settings(
            CONFIG,
            {
                "INGRESS_RECONCILER_PROVIDERS__0__PORT": str(bind.port),
                "INGRESS_RECONCILER_PROVIDERS__0__TSIG__SECRET_FILE": str(bind.secret_file),
            },
        )
        self.metrics = Metrics.create(CollectorRegistry())
        self.health = HealthState(clock=utc_now, interval=timedelta(seconds=INTERVAL))
        self.health_server = HealthServer(
            state=self.health, registry=self.metrics.registry, host="127.0.0.1", port=0
        )
        self.store: KillableStore | None = None
        self.elector: LeaderElector | None = None
        may_write: Callable[[], bool] = always
        if lease is not None:
            duration, deadline, retry = lease
            self.store = KillableStore(
                KubeLeaseStore(client=self.client, namespace=namespace, name=LEASE)
            )
            self.elector = LeaderElector(
                store=self.store,
                config=ElectionConfig(
                    identity=identity,
                    lease_duration=duration,
                    renew_deadline=deadline,
                    retry_period=retry,
                ),
                clock=utc_now,
            )
            may_write = self.elector.is_leader
        self.targets = [GuardedRegistry(t, may_write) for t in build_targets(self.settings)]
        self.controller = Controller(
            run_pass=self._pass,
            config=LoopConfig(
                interval=timedelta(seconds=INTERVAL), debounce=timedelta(seconds=DEBOUNCE)
            ),
            metrics=self.metrics,
            health=self.health,
            may_write=may_write,
        )
        self.cache = ClusterCache(self.client, namespace=namespace, on_change=self._changed)
        self.results: list[PassResult] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.exit_code: int | None = None

    def _changed(self, change: ObjectChange) -> None:
        self.controller.trigger(change.kind)

    def _pass(self, request: PassRequest) -> PassResult:
        outcome = reconcile(
            config=pass_config(self.settings),
            observed=Observed(ingresses=tuple(self.cache.ingresses())),
            targets=self.targets,
            now=utc_now(),
            dry_run=not request.may_write(),
        )
        result = loop_result(outcome)  # what the run command hands the loop
        self.results.append(result)
        return result

    def start(self) -> None:
        self.cache.start()
        assert self.cache.wait_synced(30), "caches never synced"
        self.health.mark_synced()
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.health_server.start()  # as the run command does: probes around the loop
        try:
            self.exit_code = run(
                self.controller,
                stop=self._stop,
                elector=self.elector,
                watchdog_period=timedelta(seconds=0.1),
            )
        finally:
            self.health_server.stop()

    def stop(self) -> None:
        """A clean stop (SIGTERM): finish the pass, release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.cache.stop()
        self.client.close()

    def crash(self) -> None:
        """Die without a word: no release, no more renewals; the lease must expire."""
        if self.store is not None:
            self.store.dead = True
        self.stop()

    def changes(self, action: str) -> int:
        value = self.metrics.registry.get_sample_value(
            "ingress_reconciler_changes_total", {"provider": "bind", "action": action}
        )
        return int(value or 0)

    def is_leader_metric(self) -> float | None:
        return self.metrics.registry.get_sample_value("ingress_reconciler_is_leader")

    def passes(self) -> int:
        return len(self.results)


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> float:
    """Poll ``check`` until true; return the seconds it took, fail after ``timeout``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)  # polling a condition with a deadline
    return time.monotonic() - start


def zone(bind: BindServer) -> dict[tuple[str, str], ZoneRecord]:
    return {(r.name, r.rdtype): r for r in bind.transfer(ZONE) if r.rdtype != "SOA"}


def ownership(bind: BindServer, host: str) -> list[ZoneRecord]:
    """The TXT records that name ``host``'s owner (whatever their exact TXT names)."""
    return [
        r
        for r in bind.transfer(ZONE)
        if r.rdtype == "TXT"
        and host.split(".", maxsplit=1)[0] in r.name
        and any(f"external-dns/owner={OWNER}" in v for v in r.values)
    ]


def ingress_path(namespace: str, name: str = "") -> str:
    base = f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses"
    return f"{base}/{name}" if name else base


def create_ingress(apiserver: ApiServer, namespace: str, name: str, host: str) -> None:
    apiserver.must(
        "POST",
        ingress_path(namespace),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"ingressClassName": "public", "rules": [{"host": host}]},
        },
    )


def set_status(apiserver: ApiServer, namespace: str, name: str, *ips: str) -> None:
    apiserver.must(
        "PATCH",
        ingress_path(namespace, name) + "/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips] or None}}},
        content_type="application/merge-patch+json",
    )


@pytest.fixture
def host() -> str:
    return f"web-{secrets.token_hex(3)}.{ZONE}"


@pytest.fixture
def reconcilers() -> Iterator[list[Reconciler]]:
    started: list[Reconciler] = []
    yield started
    for r in started:
        r.stop()


def test_ingress_lifecycle_reaches_bind(
    apiserver: ApiServer,
    namespace: str,
    bind: BindServer,
    host: str,
    reconcilers: list[Reconciler],
) -> None:
    baseline = zone(bind)
    r = Reconciler(apiserver=apiserver, namespace=namespace, bind=bind)
    reconcilers.append(r)
    r.start()
    wait_for("the first pass", lambda: r.passes() >= 1)

    # created (and published) → the record and its ownership TXT appear
    create_ingress(apiserver, namespace, "web", host)
    set_status(apiserver, namespace, "web", "192.0.2.10")
    wait_for("the A record", lambda: bind.query(host, "A") == ("192.0.2.10",))
    txt = ownership(bind, host)
    assert txt, "no ownership TXT record"
    assert any(f"ingress/{namespace}/web" in v for rec in txt for v in rec.values)

    # status address changed → record updated within one debounce period
    set_status(apiserver, namespace, "web", "192.0.2.20")
    took = wait_for("the update", lambda: bind.query(host, "A") == ("192.0.2.20",))
    assert took <= WITHIN_ONE_DEBOUNCE, f"update took {took:.2f}s"
    # the pass's metrics are recorded just after its write lands: poll, do not race
    wait_for("the update counted", lambda: r.changes("update") >= 1, timeout=2)

    # status cleared → a pass runs, and the record stays
    before = r.passes()
    set_status(apiserver, namespace, "web")
    wait_for("a pass after the status was cleared", lambda: r.passes() > before)
    wait_for("the cache to settle", lambda: not r.controller.pending().is_pending)
    assert bind.query(host, "A") == ("192.0.2.20",)
    assert ownership(bind, host)
    assert r.results[-1].converged

    # deleted → the record and its TXT go; the zone is back to where it started
    apiserver.must("DELETE", ingress_path(namespace, "web"))
    wait_for("the zone to be clean again", lambda: zone(bind) == baseline)
    assert bind.query(host, "A") == ()
    assert ownership(bind, host) == []
    assert r.changes("create") >= 1
    wait_for("the delete counted", lambda: r.changes("delete") >= 1, timeout=2)

    # every pass converged, and the probes and metrics say so
    assert all(result.converged for result in r.results)
    assert get(f"{r.health_server.url}/healthz") == 200
    assert get(f"{r.health_server.url}/readyz") == 200
    samples = r.metrics.registry.get_sample_value(
        "ingress_reconciler_passes_total", {"result": "converged"}
    )
    assert samples == len(r.results)
    with urllib.request.urlopen(f"{r.health_server.url}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert 'ingress_reconciler_changes_total{action="delete",provider="bind"}' in text
    assert "ingress_reconciler_is_leader 1.0" in text


def test_many_events_make_few_passes(
    apiserver: ApiServer,
    namespace: str,
    bind: BindServer,
    reconcilers: list[Reconciler],
) -> None:
    r = Reconciler(apiserver=apiserver, namespace=namespace, bind=bind)
    reconcilers.append(r)
    r.start()
    wait_for("the first pass", lambda: r.passes() >= 1)
    before = r.passes()
    hosts = [f"burst-{i}-{secrets.token_hex(2)}.{ZONE}" for i in range(10)]
    for i, name in enumerate(hosts):
        create_ingress(apiserver, namespace, f"burst-{i}", name)
        set_status(apiserver, namespace, f"burst-{i}", f"192.0.2.{100 + i}")
    wait_for(
        "every burst record",
        lambda: all(bind.query(h, "A") == (f"192.0.2.{100 + i}",) for i, h in enumerate(hosts)),
    )
    # 20 writes → 20+ watch events; debounced into a handful of passes, not 20
    assert r.passes() - before <= 5


def test_apiserver_restart_watches_recover(
    apiserver: ApiServer,
    namespace: str,
    bind: BindServer,
    host: str,
    reconcilers: list[Reconciler],
) -> None:
    r = Reconciler(apiserver=apiserver, namespace=namespace, bind=bind)
    reconcilers.append(r)
    r.start()
    create_ingress(apiserver, namespace, "before", host)
    set_status(apiserver, namespace, "before", "192.0.2.30")
    wait_for("the record before the restart", lambda: bind.query(host, "A") == ("192.0.2.30",))

    apiserver.restart()
    after = f"after-{secrets.token_hex(3)}.{ZONE}"
    create_ingress(apiserver, namespace, "after", after)
    set_status(apiserver, namespace, "after", "192.0.2.31")
    set_status(apiserver, namespace, "before", "192.0.2.32")
    # the watches reconnect (with backoff), the events trigger a pass, and it converges
    wait_for("the record after the restart", lambda: bind.query(after, "A") == ("192.0.2.31",), 60)
    wait_for("the update after the restart", lambda: bind.query(host, "A") == ("192.0.2.32",), 60)
    assert r.results[-1].converged


def test_two_reconcilers_one_writer_and_takeover(
    apiserver: ApiServer,
    namespace: str,
    bind: BindServer,
    host: str,
    reconcilers: list[Reconciler],
) -> None:
    timing = (timedelta(seconds=3), timedelta(seconds=2), timedelta(seconds=0.25))
    a = Reconciler(apiserver=apiserver, namespace=namespace, bind=bind, identity="a", lease=timing)
    reconcilers.append(a)
    a.start()
    assert a.elector is not None
    wait_for("a to lead", a.elector.is_leader)
    b = Reconciler(apiserver=apiserver, namespace=namespace, bind=bind, identity="b", lease=timing)
    reconcilers.append(b)
    b.start()
    assert b.elector is not None

    create_ingress(apiserver, namespace, "web", host)
    set_status(apiserver, namespace, "web", "192.0.2.40")
    wait_for("the record", lambda: bind.query(host, "A") == ("192.0.2.40",))
    wait_for("a to settle", lambda: not a.controller.pending().is_pending)
    # the pass's metrics are recorded just after its write lands: poll, do not race
    wait_for("a's create counted", lambda: a.changes("create") == 1)
    assert b.passes() == 0  # the standby saw the same events and wrote nothing
    assert not b.elector.is_leader()

    assert b.is_leader_metric() == 0
    assert a.is_leader_metric() == 1

    # a dies without releasing; b takes over once the lease expires, and converges
    a.crash()
    killed = time.monotonic()
    set_status(apiserver, namespace, "web", "192.0.2.41")
    wait_for("b to lead", b.elector.is_leader, timeout=10)
    wait_for("b's is_leader metric", lambda: b.is_leader_metric() == 1, timeout=2)
    assert time.monotonic() - killed <= 3 + 2 * 0.25 + 1.0  # within the lease duration
    wait_for("b's update", lambda: bind.query(host, "A") == ("192.0.2.41",))
    wait_for("b's update counted", lambda: b.changes("update") >= 1, timeout=2)
    # nothing written twice, nothing lost: b created nothing, it only applied the one update
    assert b.changes("create") == 0
    assert b.changes("update") == 1
    assert a.changes("update") == 0
    assert len(ownership(bind, host)) >= 1
    assert all(result.converged for result in b.results)
