"""The real ``ingress-reconciler run`` process against the real apiserver and BIND: it wins the
Lease, converges fleets, Ingress status and DNS through the watch path, serves /healthz and
/readyz, and on SIGTERM exits 0 and releases the Lease."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from reconciler.errors import KubernetesError
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    INGRESS,
    INGRESS_CLASS,
    SERVICE,
    ResourceKind,
)
from tests.fixtures.kube import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZONE = "example.test"
FLEET_IP = "203.0.113.55"
IDENTITY = "run-test-pod"
LEASE = "ingress-reconciler-run-test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def body_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as answer:
        text: str = answer.read().decode()
        return text


class Process:
    """The reconciler subprocess and everything it made; all removed afterwards."""

    def __init__(
        self,
        *,
        apiserver: ApiServer,
        client: KubeClient,
        bind: BindServer,
        namespace: str,
        tmp_path: Path,
    ) -> None:
        suffix = secrets.token_hex(3)
        self.apiserver = apiserver
        self.client = client
        self.bind = bind
        self.namespace = namespace
        self.owner = f"run-{suffix}"
        self.fleet = f"pub{suffix}"
        self.fleet_namespace = f"ing-{self.fleet}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "config.yaml"
        self.config.write_text(yaml.safe_dump(self.settings()))
        self.log = tmp_path / "reconciler.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def settings(self) -> dict[str, Any]:
        return {
            "ownerId": self.owner,
            "interval": 600,  # every change below must travel the watch path
            "debounce": 0.2,
            "providers": [
                {
                    "name": "bind",
                    "type": "rfc2136",
                    "view": "public",
                    "host": "127.0.0.1",
                    "port": self.bind.port,
                    "zones": [ZONE],
                    "tsig": {"keyName": "ddns-key", "secretFile": str(self.bind.secret_file)},
                }
            ],
            "fleets": [
                {
                    "name": self.fleet,
                    "ingressClassName": self.fleet,
                    "visibility": "public",
                    "namespace": self.fleet_namespace,
                    "replicas": 1,
                    "dnsProviders": ["bind"],
                }
            ],
            "leaderElection": {
                "enabled": True,
                "leaseName": LEASE,
                "leaseNamespace": self.namespace,
                "leaseDuration": 4,
                "renewDeadline": 3,
                "retryPeriod": 0.5,
            },
            "health": {"host": "127.0.0.1", "port": self.port, "toleratedIntervals": 3},
        }

    def start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "POD_NAME": IDENTITY,
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        command = [
            sys.executable,
            "-m",
            "reconciler.cli",
            "run",
            "--config",
            str(self.config),
            "--kubeconfig",
            str(self.apiserver.kubeconfig),
            "--log-level",
            "info",
        ]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"reconciler exited with {self.proc.returncode}:\n{self.log.read_text()}")
        return True

    def lease(self) -> dict[str, Any]:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{self.namespace}/leases/{LEASE}"
        try:
            lease: dict[str, Any] = self.client.request("GET", path)
        except KubernetesError as exc:
            if exc.status == 404:
                return {}
            raise
        return lease

    def holder(self) -> str:
        return str((self.lease().get("spec") or {}).get("holderIdentity") or "")

    def exists(self, kind: ResourceKind, name: str, namespace: str | None = None) -> bool:
        try:
            self.client.get(kind, name, namespace)
        except KubernetesError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def cleanup(self) -> None:
        self.stop()
        self.apiserver.delete_namespace(self.fleet_namespace)
        selector = f"ingress-reconciler.io/owner={self.owner}"
        kinds: tuple[ResourceKind, ...] = (INGRESS_CLASS, CLUSTER_ROLE, CLUSTER_ROLE_BINDING)
        for kind in kinds:
            for item in self.client.list(kind, label_selector=selector)[0]:
                try:
                    self.client.delete(kind, item["metadata"]["name"])
                except KubernetesError as exc:
                    if exc.status != 404:
                        raise


@pytest.fixture
def process(
    apiserver: ApiServer, api_client: KubeClient, bind: BindServer, namespace: str, tmp_path: Path
) -> Iterator[Process]:
    helper = Process(
        apiserver=apiserver, client=api_client, bind=bind, namespace=namespace, tmp_path=tmp_path
    )
    try:
        yield helper
    finally:
        helper.cleanup()


def test_run_leads_converges_serves_probes_and_releases_on_sigterm(process: Process) -> None:
    process.start()
    wait_until(
        lambda: process.alive() and status_of(f"{process.url}/readyz") == 200,
        timeout=60,
        what="/readyz 200 (caches synced)",
    )
    wait_until(lambda: process.holder() == IDENTITY, timeout=30, what="the lease won")
    service = f"ingress-{process.fleet}"
    wait_until(
        lambda: process.alive() and process.exists(SERVICE, service, process.fleet_namespace),
        timeout=30,
        what="the fleet Service applied",
    )
    assert process.exists(INGRESS_CLASS, process.fleet)

    # The cloud controller publishes the address; an Ingress of the fleet appears.
    process.client.patch(
        SERVICE,
        service,
        {"status": {"loadBalancer": {"ingress": [{"ip": FLEET_IP}]}}},
        namespace=process.fleet_namespace,
        subresource="status",
    )
    host = f"run-{secrets.token_hex(3)}.{ZONE}"
    process.client.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": process.namespace},
            "spec": {"ingressClassName": process.fleet, "rules": [{"host": host}]},
        }
    )
    wait_until(
        lambda: process.alive() and process.bind.query(host, "A") == (FLEET_IP,),
        timeout=30,
        what="the A record in BIND",
    )
    ingress = process.client.get(INGRESS, "web", process.namespace)
    wait_until(
        lambda: (
            process.client.get(INGRESS, "web", process.namespace).get("status", {})
            == {"loadBalancer": {"ingress": [{"ip": FLEET_IP}]}}
        ),
        timeout=30,
        what="the Ingress status published",
    )
    assert ingress["metadata"]["name"] == "web"
    txt = {(r.name, r.rdtype): r.values for r in process.bind.transfer(ZONE)}[(f"a-{host}", "TXT")]
    assert f"external-dns/owner={process.owner}" in txt[0]

    assert status_of(f"{process.url}/healthz") == 200
    wait_until(
        lambda: "ingress_reconciler_is_leader 1.0" in body_of(f"{process.url}/metrics"),
        timeout=10,
        what="is_leader metric 1",
    )
    metrics = body_of(f"{process.url}/metrics")
    assert 'ingress_reconciler_passes_total{result="converged"}' in metrics

    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(timeout=30) == 0, process.log.read_text()
    assert process.holder() == ""  # released: a standby takes over at once
    assert status_of(f"{process.url}/healthz") == 0  # the probe server is gone
    # the records stay after the controller stops
    assert process.bind.query(host, "A") == (FLEET_IP,)
