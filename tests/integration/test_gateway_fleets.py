"""Fleets on Gateway API: the Gateway API v1.6.1 standard CRDs on the test apiserver, the real
Traefik serving each fleet's IngressClass and its Gateway together (started from the Deployment
the reconciler wrote, with the fleet's own ServiceAccount token), HTTPRoutes whose hosts are
resolved through the fleet's DNS view (Route53 public zone on moto, BIND as the private view) and
proven by real HTTP and HTTPS requests; a host moved from an Ingress to an HTTPRoute while
requests run; a zone written by external-dns v0.23 from HTTPRoutes taken over unchanged.

Each controller listens on a loopback address of its own (127.0.0.0/8) at the ports of its
container: Traefik maps a Gateway listener to the entrypoint of the listener's port.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e.servers.apiserver import ApiServer, free_tcp_port
from e2e.servers.bind import BindServer
from e2e.servers.fleet_controller import FleetController
from e2e.servers.gateway_api import GatewayApiMissingError, install_gateway_api
from e2e.servers.moto import MotoServer
from e2e.servers.netns import can_make_namespaces
from e2e.servers.process import terminate
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import GATEWAY, INGRESS, ROUTE_RESOURCES
from tests.fixtures.kube import wait_until
from tests.fixtures.moto import aws_client_kwargs
from tests.integration.harness import ZONE, run_cli
from tests.integration.test_traefik_fleets import PRIVATE_LB, PUBLIC_LB, Ground, wait_for_answer

pytestmark = pytest.mark.integration

HTTPROUTE = ROUTE_RESOURCES[0]
EXTERNAL_DNS = Path.home() / ".cache" / "ingress-reconciler" / "bin" / "external-dns"


class GatewayGround(Ground):
    """Two fleets, each with a Gateway beside its IngressClass, on one Traefik each."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loopback = f"127.{secrets.randbelow(200) + 20}.{secrets.randbelow(250) + 1}"

    def fleet(self, name: str, visibility: str, providers: list[str]) -> dict[str, Any]:
        spec = super().fleet(name, visibility, providers)
        spec["gateway"] = {}  # named after the fleet, class = its ingressClassName
        spec["tls"]["sslPassthrough"] = False
        return spec

    def start_controllers(self) -> None:
        for n, fleet in enumerate((self.public, self.private), start=1):
            controller = FleetController(
                self.apiserver,
                namespace=f"ing-{fleet}",
                workload=f"ingress-{fleet}",
                directory=self.tmp / f"controller-{fleet}",
                loopback=f"{self.loopback}.{n}",
            )
            controller.start()
            self.controllers[fleet] = controller

    def http_route(self, name: str, host: str, fleet: str, service: str) -> None:
        """An HTTPRoute for ``host`` on ``fleet``'s Gateway (both its listeners)."""
        self.client.create(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": self.apps},
                "spec": {
                    "parentRefs": [{"name": fleet, "namespace": f"ing-{fleet}"}],
                    "hostnames": [host],
                    "rules": [{"backendRefs": [{"name": service, "port": 80}]}],
                },
            }
        )

    def accepted(self, name: str) -> bool:
        """Has the fleet's controller accepted the Route (``status.parents[].Accepted``)?"""
        route = self.client.get(HTTPROUTE, name, self.apps)
        parents = (route.get("status") or {}).get("parents") or []
        return any(
            c["type"] == "Accepted" and c["status"] == "True"
            for p in parents
            for c in p.get("conditions") or []
        )

    def gateway(self, fleet: str) -> dict[str, Any]:
        return self.client.get(GATEWAY, fleet, f"ing-{fleet}")


@pytest.fixture(scope="module")
def gateway_ground(
    apiserver: ApiServer,
    api_client: KubeClient,
    bind_server: BindServer,
    moto_server: MotoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayGround]:
    reason = can_make_namespaces()
    if reason:
        pytest.fail(f"the Traefik test ground cannot run here: {reason}")
    try:
        install_gateway_api(apiserver)
    except GatewayApiMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    bind_server.reset()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    g = GatewayGround(
        apiserver=apiserver,
        client=api_client,
        bind=bind_server,
        moto=moto_server,
        route53=boto3.client("route53", **aws_client_kwargs(moto_server)),
        tmp=tmp_path_factory.mktemp("gateway"),
    )
    try:
        apiserver.create_namespace(g.apps)
        g.write_config()
        g.once()  # the fleets, with their GatewayClasses and Gateways
        for fleet in (g.public, g.private):
            # the default certificate covers the zone: HTTPS to a Route's host verifies
            leaf = g.ca.issue(f"default-{fleet}", f"*.{ZONE}")
            apiserver.must(
                "POST",
                f"/api/v1/namespaces/ing-{fleet}/secrets",
                leaf.tls_secret("fleet-default", f"ing-{fleet}"),
            )
        g.publish_load_balancers()
        for name in ("web", "intra", "fallback", "moved"):
            g.backend(name)
        g.start_controllers()
        g.http_route("web", g.host("gw-web"), g.public, "web")
        g.http_route("intra", g.host("gw-intra"), g.private, "intra")
        wait_until(lambda: g.accepted("web") and g.accepted("intra"), timeout=30, what="Routes")
        g.once()  # DNS for the Routes
        yield g
    finally:
        g.cleanup()
        monkeypatch.undo()


def test_the_fleet_gateway_and_its_class_are_the_fleets(gateway_ground: GatewayGround) -> None:
    g = gateway_ground
    for fleet, scheme, address in (
        (g.public, "internet-facing", PUBLIC_LB),
        (g.private, "internal", PRIVATE_LB),
    ):
        gateway = g.gateway(fleet)
        assert gateway["spec"]["gatewayClassName"] == fleet
        annotations = gateway["spec"]["infrastructure"]["annotations"]
        assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == scheme
        listeners = {item["name"]: item for item in gateway["spec"]["listeners"]}
        assert listeners["https"]["tls"]["certificateRefs"] == [
            {"group": "", "kind": "Secret", "name": "fleet-default"}
        ]
        # the fleet's controller (its own RBAC) took the Gateway and shows the LB's address

        def shows_address(f: str = fleet, a: str = address) -> bool:
            status = g.gateway(f).get("status") or {}
            return [x["value"] for x in status.get("addresses") or []] == [a]

        wait_until(shows_address, timeout=30, what=f"the address of Gateway {fleet}")
        _, cls = g.apiserver.request(
            "GET", f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{fleet}"
        )
        assert cls["spec"]["controllerName"] == "traefik.io/gateway-controller"
        accepted = {c["type"]: c["status"] for c in cls["status"]["conditions"]}
        assert accepted["Accepted"] == "True"


def test_an_httproute_is_served_by_its_fleet_over_http_and_https(
    gateway_ground: GatewayGround,
) -> None:
    g = gateway_ground
    host = g.host("gw-web")
    [address] = g.resolve(host, "public")
    assert address == PUBLIC_LB
    assert g.resolve(host, "private") == ()
    answer = wait_for_answer(lambda: (a := g.send(address, host)).backend == "web" and a, host)
    assert answer.status == 200
    secure = g.https(address, host)  # verified against the CA, for the host's name
    assert (secure.status, secure.backend) == (200, "web")
    # the private fleet does not serve the public Route
    assert g.send(PRIVATE_LB, host).backend != "web"


def test_a_private_fleets_route_reaches_the_private_view_only(
    gateway_ground: GatewayGround,
) -> None:
    g = gateway_ground
    host = g.host("gw-intra")
    assert g.resolve(host, "private") == (PRIVATE_LB,)
    assert g.resolve(host, "public") == ()
    g.assert_nothing_private_in_public()
    answer = wait_for_answer(lambda: (a := g.send(PRIVATE_LB, host)).backend == "intra" and a, host)
    assert answer.status == 200


def test_a_host_moves_from_an_ingress_to_an_httproute_with_no_failed_request_and_no_dns_change(
    gateway_ground: GatewayGround,
) -> None:
    g = gateway_ground
    host = g.host("moving")
    g.ingress("moving", host, g.public, "moved")
    g.once()
    wait_for_answer(lambda: g.send(PUBLIC_LB, host).backend == "moved", "the Ingress's route")
    before = g.route53.list_resource_record_sets(HostedZoneId=g.public_zone)["ResourceRecordSets"]
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                a = g.send(PUBLIC_LB, host)
                answers.append((a.status, a.backend))
            except OSError as exc:  # a refused or reset connection is a failed request
                answers.append((0, str(exc)))
            time.sleep(0.02)

    worker = threading.Thread(target=client, daemon=True)
    worker.start()
    try:
        g.http_route("moving", host, g.public, "moved")
        wait_until(lambda: g.accepted("moving"), timeout=30, what="the Route accepted")
        both = g.once()
        g.client.delete(INGRESS, "moving", g.apps)
        time.sleep(1.0)  # the controller drops the Ingress's router
        after_delete = g.once()
        time.sleep(0.5)
    finally:
        stop.set()
        worker.join(timeout=5)
    for out in (both, after_delete):
        assert (out["create"], out["update"], out["delete"]) == ([], [], []), out
        assert not out["conflicts"], out["conflicts"]
    after = g.route53.list_resource_record_sets(HostedZoneId=g.public_zone)["ResourceRecordSets"]
    assert after == before  # every record, the ownership TXT included
    assert len(answers) > 20
    failed = [a for a in answers if a != (200, "moved")]
    assert not failed, failed[:5]


def test_a_zone_external_dns_wrote_from_httproutes_is_taken_over_with_nothing_rewritten(
    gateway_ground: GatewayGround,
) -> None:
    g = gateway_ground
    if not EXTERNAL_DNS.exists():
        pytest.fail(f"no external-dns at {EXTERNAL_DNS}: run scripts/install.d/40-external-dns")
    host = g.host("gw-edns")
    g.http_route("edns", host, g.private, "intra")
    wait_until(lambda: g.accepted("edns"), timeout=30, what="the Route accepted")
    wait_until(
        lambda: bool(g.gateway(g.private)["status"].get("addresses")), what="Gateway addresses"
    )
    log = g.tmp / "external-dns.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(EXTERNAL_DNS),
                "--source=gateway-httproute",
                # its Routes on the private fleet's Gateway: the zone is the private view
                f"--gateway-namespace=ing-{g.private}",
                f"--gateway-name={g.private}",
                "--provider=rfc2136",
                "--registry=txt",
                f"--txt-owner-id={g.owner}",
                f"--kubeconfig={g.apiserver.kubeconfig}",
                "--once",
                "--policy=sync",
                f"--domain-filter={ZONE}",
                f"--metrics-address=127.0.0.1:{free_tcp_port()}",
                "--rfc2136-host=127.0.0.1",
                f"--rfc2136-port={g.bind.port}",
                f"--rfc2136-zone={ZONE}",
                f"--rfc2136-tsig-keyname={g.bind.key_name}",
                f"--rfc2136-tsig-secret={g.bind.secret}",
                f"--rfc2136-tsig-secret-alg={g.bind.algorithm}",
                "--rfc2136-axfr",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            code = proc.wait(timeout=60)
        finally:
            terminate(proc, grace=5)
    assert code == 0, log.read_text()[-3000:]
    assert g.resolve(host, "private") == (PRIVATE_LB,), log.read_text()[-3000:]
    code, out, err = run_cli(g.config, g.apiserver.kubeconfig, "plan", pod_name="tf")
    assert code == 0, err
    assert [r for r in (*out["create"], *out["update"], *out["delete"])] == [], out
    assert not out["conflicts"], out["conflicts"]
