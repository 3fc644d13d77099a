"""The real ``ingress-reconciler run`` process against the real apiserver and BIND: it wins the
Lease, converges fleets, Ingress status and DNS through the watch path, serves /healthz and
/readyz, and on SIGTERM exits 0 and releases the Lease."""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from e2e.servers.gateway_api import GatewayApiMissingError, install_gateway_api
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import (
    GATEWAY,
    INGRESS,
    INGRESS_CLASS,
    ROUTE_RESOURCES,
    SERVICE,
    ResourceKind,
)
from reconciler.model.errors import KubernetesError
from tests.fixtures.kube import wait_until
from tests.integration.harness import (
    ZONE,
    Cluster,
    bind_provider,
    cluster_helper,
    exited,
    fleet,
    free_port,
    health,
    http_status,
    http_text,
    ingress_object,
    leader_election,
    lease_holder,
    remove_owned,
    start_run,
)

pytestmark = pytest.mark.integration

FLEET_IP = "203.0.113.55"
IDENTITY = "run-test-pod"
LEASE = "ingress-reconciler-run-test"


class Process(Cluster):
    """The reconciler subprocess and everything it made; all removed afterwards."""

    def setup(self, tmp_path: Path) -> None:
        """Names, health port and config file of this test."""
        suffix = self.suffix
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
            "providers": [bind_provider(self.bind)],
            "fleets": [fleet(self.fleet, visibility="public", dns_providers=["bind"])],
            "leaderElection": leader_election(
                LEASE, self.namespace, duration=4, renew=3, retry=0.5
            ),
            "health": health(self.port),
        }

    def start(self) -> None:
        self.proc = start_run(
            self.config, self.apiserver.kubeconfig, self.log, env={"POD_NAME": IDENTITY}
        )

    def alive(self) -> bool:
        return exited(self.proc, "reconciler", self.log)

    def holder(self) -> str:
        return lease_holder(self.client, self.namespace, LEASE)

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
        remove_owned(self.apiserver, self.client, self.owner, [self.fleet_namespace])


@pytest.fixture
def process(
    apiserver: ApiServer, api_client: KubeClient, bind: BindServer, namespace: str, tmp_path: Path
) -> Iterator[Process]:
    yield from cluster_helper(
        Process,
        apiserver=apiserver,
        client=api_client,
        bind=bind,
        namespace=namespace,
        tmp_path=tmp_path,
    )


def test_run_leads_converges_serves_probes_and_releases_on_sigterm(process: Process) -> None:
    process.start()
    wait_until(
        lambda: process.alive() and http_status(f"{process.url}/readyz") == 200,
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
    process.client.create(ingress_object("web", process.namespace, process.fleet, host))
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

    assert http_status(f"{process.url}/healthz") == 200
    wait_until(
        lambda: "ingress_reconciler_is_leader 1.0" in http_text(f"{process.url}/metrics"),
        timeout=10,
        what="is_leader metric 1",
    )
    metrics = http_text(f"{process.url}/metrics")
    assert 'ingress_reconciler_passes_total{result="converged"}' in metrics

    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(timeout=30) == 0, process.log.read_text()
    assert process.holder() == ""  # released: a standby takes over at once
    assert http_status(f"{process.url}/healthz") == 0  # the probe server is gone
    # the records stay after the controller stops
    assert process.bind.query(host, "A") == (FLEET_IP,)


def _passes(log: Path) -> list[dict[str, Any]]:
    """The ``pass finished`` summaries the process logged (JSON lines)."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if '"pass finished"' in line:
            found.append(json.loads(line))
    return found


def test_an_ingress_change_is_an_incremental_pass_written_at_once(process: Process) -> None:
    """After the first full pass, a watch event on one Ingress runs an incremental pass: it
    re-plans that Ingress's names only, writes them, and never reads BIND's zone back."""
    process.start()
    service = f"ingress-{process.fleet}"
    wait_until(
        lambda: process.alive() and process.exists(SERVICE, service, process.fleet_namespace),
        timeout=60,
        what="the fleet Service applied",
    )
    process.client.patch(
        SERVICE,
        service,
        {"status": {"loadBalancer": {"ingress": [{"ip": FLEET_IP}]}}},
        namespace=process.fleet_namespace,
        subresource="status",
    )
    first = f"inc-{secrets.token_hex(3)}.{ZONE}"
    process.client.create(ingress_object("first", process.namespace, process.fleet, first))
    wait_until(
        lambda: process.alive() and process.bind.query(first, "A") == (FLEET_IP,),
        timeout=30,
        what="the first A record",
    )
    mark = len(process.bind.log_text)
    seen = len(_passes(process.log))
    second = f"inc-{secrets.token_hex(3)}.{ZONE}"
    process.client.create(ingress_object("second", process.namespace, process.fleet, second))
    wait_until(
        lambda: process.alive() and process.bind.query(second, "A") == (FLEET_IP,),
        timeout=30,
        what="the second A record",
    )
    wait_until(
        lambda: any(p.get("incremental") and p.get("changes") for p in _passes(process.log)[seen:]),
        timeout=10,
        what="an incremental pass that wrote",
    )
    later = _passes(process.log)[seen:]
    assert all(p["converged"] for p in later), later
    written = next(p for p in later if p.get("incremental") and p.get("changes"))
    # one record (with its ownership TXT); the first Ingress's names were not planned again
    assert written["changes"] == {"bind/create": 1}, written
    # BIND transferred nothing to us: our own UPDATE was applied to the zone we hold
    transfers = re.findall(r"transfer of '[^']+': \S+ started", process.bind.log_text[mark:])
    assert transfers == [], transfers
    assert process.bind.query(first, "A") == (FLEET_IP,)


def test_a_route_on_the_fleets_gateway_travels_the_watch_path(process: Process) -> None:
    """With the Gateway API CRDs served, ``run`` watches Routes: the fleet's Gateway is applied,
    and an HTTPRoute accepted on it is published at the fleet's address, then removed with it."""
    try:
        install_gateway_api(process.apiserver)
    except GatewayApiMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    settings = process.settings()
    settings["fleets"][0]["gateway"] = {}
    process.config.write_text(yaml.safe_dump(settings))
    process.start()
    service = f"ingress-{process.fleet}"
    wait_until(
        lambda: (
            process.alive()
            and process.exists(GATEWAY, process.fleet, process.fleet_namespace)
            and process.exists(SERVICE, service, process.fleet_namespace)
        ),
        timeout=60,
        what="the fleet's Gateway and Service applied",
    )
    process.client.patch(
        SERVICE,
        service,
        {"status": {"loadBalancer": {"ingress": [{"ip": FLEET_IP}]}}},
        namespace=process.fleet_namespace,
        subresource="status",
    )
    host = f"route-{secrets.token_hex(3)}.{ZONE}"
    parent = {"name": process.fleet, "namespace": process.fleet_namespace}
    route = process.client.create(
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "web", "namespace": process.namespace},
            "spec": {"parentRefs": [parent], "hostnames": [host]},
        }
    )
    routes = ROUTE_RESOURCES[0]
    # what the fleet's controller writes once it accepted the Route (no controller runs here)
    process.client.patch(
        routes,
        "web",
        {
            "status": {
                "parents": [
                    {
                        "parentRef": parent,
                        "controllerName": "traefik.io/gateway-controller",
                        "conditions": [
                            {
                                "type": "Accepted",
                                "status": "True",
                                "reason": "Accepted",
                                "message": "",
                                "lastTransitionTime": "2026-12-03T00:00:00Z",
                                "observedGeneration": route["metadata"]["generation"],
                            }
                        ],
                    }
                ]
            }
        },
        namespace=process.namespace,
        subresource="status",
    )
    wait_until(
        lambda: process.alive() and process.bind.query(host, "A") == (FLEET_IP,),
        timeout=30,
        what="the Route's A record",
    )
    process.client.delete(routes, "web", process.namespace)
    wait_until(
        lambda: process.alive() and process.bind.query(host, "A") == (),
        timeout=30,
        what="the Route's record removed",
    )
