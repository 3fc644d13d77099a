"""Failover of two real ``ingress-reconciler run`` processes sharing one Lease (issue 4).

Two processes (identities ``a`` and ``b``) run against one kube-apiserver and one BIND with
short election timings. Only the leader writes: the standby runs no pass and counts no change.
After ``kill -9`` of the leader (no release: the Lease must expire) an Ingress's status changes
and a new Ingress appears; the standby takes the Lease within the lease duration (plus a
retry period on each side of the observation and a small margin), converges, and every name
ends with exactly one record set and one ownership TXT value. BIND's own update log proves each
record was added exactly once across both processes. SIGTERM of the survivor exits 0 and
releases the Lease.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer, ZoneRecord
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import INGRESS
from tests.fixtures.kube import wait_until
from tests.integration.harness import (
    ZONE,
    Cluster,
    bind_provider,
    cluster_helper,
    exited,
    free_port,
    health,
    http_text,
    ingress_object,
    leader_election,
    lease_holder,
    start_run,
)

pytestmark = pytest.mark.integration

LEASE_DURATION = 4.0
RENEW_DEADLINE = 3.0
RETRY_PERIOD = 1.0
# client-go timing: the standby counts the lease duration from when it *saw* the last renewal
# (up to one retry period after it), and tries again once a retry period later.
TAKEOVER_BOUND = LEASE_DURATION + 2 * RETRY_PERIOD + 1.5  # + margin for a 2-core shared machine
IP_OLD = "198.51.100.10"
IP_NEW = "198.51.100.20"
IP_KEEP = "198.51.100.30"
IP_ADDED = "198.51.100.40"

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$"
)


def metric_total(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` (0 when there is none)."""
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            total += float(match["value"])
    return total


@dataclass
class Replica:
    """One ``run`` subprocess: its identity, health port, config and log."""

    identity: str
    port: int
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def metrics_url(self) -> str:
        """Where its Prometheus metrics are served."""
        return f"http://127.0.0.1:{self.port}/metrics"

    def metrics(self) -> str:
        """Its metrics text ("" when it does not answer)."""
        return http_text(self.metrics_url)

    def is_leader_metric(self) -> float | None:
        """``ingress_reconciler_is_leader`` as it serves it; None when it does not answer."""
        text = self.metrics()
        if "ingress_reconciler_is_leader" not in text:
            return None
        return metric_total(text, "ingress_reconciler_is_leader")

    def changes(self, action: str | None = None) -> float:
        """Its ``changes_total`` (of one ``action``, or all)."""
        labels = {} if action is None else {"action": action}
        return metric_total(self.metrics(), "ingress_reconciler_changes_total", **labels)

    def alive(self) -> bool:
        """True while running; fails the test (with its log) if it exited."""
        return exited(self.proc, self.identity, self.log)

    def log_text(self) -> str:
        """Everything it logged."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Kill it if it still runs (cleanup)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Pair(Cluster):
    """Two replicas sharing one Lease, one owner id and one BIND; cleaned up afterwards."""

    def setup(self, tmp_path: Path) -> None:
        """Names, health port and config file of this test."""
        suffix = self.suffix
        self.owner = f"failover-{suffix}"
        self.ingress_class = f"fo{suffix}"
        self.lease_name = f"ingress-reconciler-failover-{suffix}"
        self.replicas = {
            name: self._replica(f"{name}-{suffix}", tmp_path / name) for name in ("a", "b")
        }

    def _replica(self, identity: str, directory: Path) -> Replica:
        directory.mkdir()
        port = free_port()
        config = directory / "config.yaml"
        config.write_text(yaml.safe_dump(self.settings(port)))
        return Replica(identity=identity, port=port, config=config, log=directory / "run.log")

    def settings(self, port: int) -> dict[str, Any]:
        """DNS only: the Ingresses of one class, with status addresses set by hand."""
        return {
            "ownerId": self.owner,
            "ingressClassNames": [self.ingress_class],
            "interval": 600,  # every change must travel the watch path or the leader trigger
            "debounce": 0.2,
            "providers": [bind_provider(self.bind)],
            "leaderElection": leader_election(
                self.lease_name,
                self.namespace,
                duration=LEASE_DURATION,
                renew=RENEW_DEADLINE,
                retry=RETRY_PERIOD,
            ),
            "health": health(port),
        }

    def start(self, replica: Replica) -> None:
        """Start ``ingress-reconciler run`` as ``replica.identity``."""
        replica.proc = start_run(
            replica.config,
            self.apiserver.kubeconfig,
            replica.log,
            env={"POD_NAME": replica.identity, "POD_NAMESPACE": self.namespace},
        )

    def holder(self) -> str:
        """The Lease's holderIdentity ("" when released or not created yet)."""
        return lease_holder(self.client, self.namespace, self.lease_name)

    def add_ingress(self, name: str, host: str, ip: str) -> None:
        """An Ingress of the managed class whose status carries ``ip``."""
        self.client.create(ingress_object(name, self.namespace, self.ingress_class, host))
        self.set_address(name, ip)

    def set_address(self, name: str, ip: str) -> None:
        """What an ingress controller would publish into the Ingress status."""
        self.client.patch(
            INGRESS,
            name,
            {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}},
            namespace=self.namespace,
            subresource="status",
        )

    def zone(self) -> list[ZoneRecord]:
        """The zone as AXFR returns it."""
        return list(self.bind.transfer(ZONE))

    def cleanup(self) -> None:
        """Kill every replica still running."""
        for replica in self.replicas.values():
            replica.stop()


@pytest.fixture
def pair(
    apiserver: ApiServer, api_client: KubeClient, bind: BindServer, namespace: str, tmp_path: Path
) -> Iterator[Pair]:
    """Two replicas, not started yet; both killed afterwards whatever happened."""
    yield from cluster_helper(
        Pair,
        apiserver=apiserver,
        client=api_client,
        bind=bind,
        namespace=namespace,
        tmp_path=tmp_path,
    )


def records_of(
    zone: list[ZoneRecord], hosts: dict[str, str]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Every record set of the zone at a host's name or its ownership TXT names."""
    wanted = set(hosts)
    return {
        (r.name, r.rdtype): r.values
        for r in zone
        if r.name in wanted or any(r.name.endswith(f"-{host}") for host in wanted)
    }


def assert_exactly(pair: Pair, expected: dict[str, str]) -> None:
    """Each host: one A record set with exactly its address; one ownership TXT with one value."""
    zone = pair.zone()
    sets: dict[tuple[str, str], int] = {}
    for record in zone:
        sets[(record.name, record.rdtype)] = sets.get((record.name, record.rdtype), 0) + 1
    assert all(count == 1 for count in sets.values()), sets
    found = records_of(zone, expected)
    owner = f"external-dns/owner={pair.owner}"
    for host, ip in expected.items():
        assert found[(host, "A")] == (ip,), found
        txt = found[(f"a-{host}", "TXT")]
        assert len(txt) == 1, txt
        assert owner in txt[0], txt
    owned = {key for key, values in found.items() if key[1] == "TXT"}
    assert all(len(found[key]) == 1 for key in owned), found


def additions_in_bind_log(bind: BindServer, host: str) -> list[str]:
    """BIND's "adding an RR" log lines for ``host`` (A) and its ownership TXT name."""
    lines = []
    for line in bind.log_text.splitlines():
        if "adding an RR at" not in line:
            continue
        if f"at '{host}' A" in line or f"at 'a-{host}' TXT" in line:
            lines.append(line)
    return lines


def test_kill_leader_standby_takes_over_converges_and_writes_nothing_twice(pair: Pair) -> None:
    a, b = pair.replicas["a"], pair.replicas["b"]
    pair.start(a)
    pair.start(b)
    wait_until(
        lambda: a.alive() and b.alive() and pair.holder() in (a.identity, b.identity),
        timeout=60,
        what="one replica holds the Lease",
    )
    leader, standby = (a, b) if pair.holder() == a.identity else (b, a)
    wait_until(
        lambda: (
            leader.alive()
            and standby.alive()
            and leader.is_leader_metric() == 1.0
            and standby.is_leader_metric() == 0.0
        ),
        timeout=30,
        what="is_leader 1 on the leader, 0 on the standby",
    )

    suffix = secrets.token_hex(3)
    moved = f"moved-{suffix}.{ZONE}"
    kept = f"kept-{suffix}.{ZONE}"
    added = f"added-{suffix}.{ZONE}"
    pair.add_ingress("moved", moved, IP_OLD)
    pair.add_ingress("kept", kept, IP_KEEP)
    wait_until(
        lambda: (
            leader.alive()
            and pair.bind.query(moved, "A") == (IP_OLD,)
            and pair.bind.query(kept, "A") == (IP_KEEP,)
        ),
        timeout=30,
        what="the leader's A records in BIND",
    )
    wait_until(
        lambda: (
            leader.changes("create") > 0
            and len(records_of(pair.zone(), {moved: "", kept: ""})) == 4
        ),
        timeout=15,
        what="records and ownership TXT in BIND",
    )
    assert_exactly(pair, {moved: IP_OLD, kept: IP_KEEP})
    created_by_leader = leader.changes("create")
    assert leader.changes() == created_by_leader  # only creates from an empty zone
    # The standby watched the same events but ran no pass and wrote nothing.
    standby_metrics = standby.metrics()
    assert metric_total(standby_metrics, "ingress_reconciler_changes_total") == 0
    assert metric_total(standby_metrics, "ingress_reconciler_passes_total") == 0
    assert "pass finished" not in standby.log_text()
    assert pair.holder() == leader.identity

    # kill -9: no release, the standby must wait for the Lease to expire.
    assert leader.proc is not None
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    leader.proc.wait(timeout=10)
    pair.set_address("moved", IP_NEW)
    pair.add_ingress("added", added, IP_ADDED)

    wait_until(
        lambda: standby.alive() and pair.holder() == standby.identity,
        timeout=TAKEOVER_BOUND + 10,
        what="the standby holds the Lease",
    )
    takeover = time.monotonic() - killed
    print(  # the measured takeover, for the record (pytest -s)
        f"takeover after kill -9: {takeover:.2f}s (lease duration {LEASE_DURATION}s); "
        f"dead leader created {created_by_leader:g} records"
    )
    assert takeover <= TAKEOVER_BOUND, f"takeover took {takeover:.2f}s > {TAKEOVER_BOUND}s"
    # Not before the lease could have expired: the dead leader renewed at most a retry ago.
    assert takeover >= LEASE_DURATION - RETRY_PERIOD - 0.5, f"takeover after {takeover:.2f}s"

    wait_until(
        lambda: (
            standby.alive()
            and pair.bind.query(moved, "A") == (IP_NEW,)
            and pair.bind.query(added, "A") == (IP_ADDED,)
        ),
        timeout=30,
        what="the new leader's records in BIND",
    )
    expected = {moved: IP_NEW, kept: IP_KEEP, added: IP_ADDED}
    wait_until(
        lambda: len(records_of(pair.zone(), expected)) == 6,
        timeout=15,
        what="every record and ownership TXT in BIND",
    )
    assert_exactly(pair, expected)
    wait_until(
        lambda: standby.is_leader_metric() == 1.0, timeout=10, what="is_leader 1 on the new leader"
    )
    # The new leader wrote only what changed: one new name, one changed address; nothing deleted
    # and nothing the dead leader had already written.
    per_name = created_by_leader / 2
    # a pass's metrics are recorded just after its writes land: poll, do not race
    wait_until(
        lambda: standby.changes("create") >= per_name and standby.changes("update") >= 1,
        timeout=10,
        what="the new leader's changes counted",
    )
    assert standby.changes("create") == per_name, standby.metrics()
    assert standby.changes("update") == 1, standby.metrics()  # the moved A record
    assert standby.changes("delete") == 0, standby.metrics()
    # BIND's own log: each record added exactly once across both processes.
    assert len(additions_in_bind_log(pair.bind, kept)) == 2, additions_in_bind_log(pair.bind, kept)
    assert len(additions_in_bind_log(pair.bind, added)) == 2, additions_in_bind_log(
        pair.bind, added
    )
    moved_lines = additions_in_bind_log(pair.bind, moved)
    assert sum(IP_OLD in line for line in moved_lines) == 1, moved_lines
    assert sum(IP_NEW in line for line in moved_lines) == 1, moved_lines

    assert standby.proc is not None
    standby.proc.send_signal(signal.SIGTERM)
    assert standby.proc.wait(timeout=30) == 0, standby.log_text()
    assert pair.holder() == ""  # released at once
    assert_exactly(pair, expected)  # the records stay
