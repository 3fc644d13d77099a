"""Fleets that carry real traffic: the real Traefik, started from the fleet Deployments the
reconciler wrote, with each fleet's own ServiceAccount token; app backends in network namespaces
behind selector-less Services and EndpointSlices; every claim proven by a real HTTP or TLS request
to a host resolved through the fleet's DNS view (Route53 public zone on moto, BIND as the private
view).

The one simulated piece is the load balancer: the fleet Service's status address is set by the
test (what the cloud's controller does), and a request for that address is sent to the fleet
controller's local listener (:meth:`Ground.send`).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from e2e.certs import TestCa
from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from e2e.servers.fleet_controller import FleetController
from e2e.servers.moto import MotoServer
from e2e.servers.netns import NetnsPod, can_make_namespaces
from e2e.traffic import Answer, expose, request
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import INGRESS, SERVICE
from tests.fixtures.moto import aws_client_kwargs
from tests.integration.harness import ZONE, bind_provider, remove_owned, run_cli
from tests.integration.test_chart import CHART, helm_binary

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

pytestmark = pytest.mark.integration

PUBLIC_LB = "203.0.113.10"
PRIVATE_LB = "10.100.0.10"
NGINX = "nginx.ingress.kubernetes.io"


def _common_name(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


class Ground:
    """Two fleets (public, private) of one reconciler, their controllers, the apps and the zones."""

    def __init__(
        self,
        *,
        apiserver: ApiServer,
        client: KubeClient,
        bind: BindServer,
        moto: MotoServer,
        route53: Route53Client,
        tmp: Path,
    ) -> None:
        self.suffix = secrets.token_hex(3)
        self.apiserver = apiserver
        self.client = client
        self.bind = bind
        self.moto = moto
        self.route53 = route53
        self.tmp = tmp
        self.owner = f"traefik-{self.suffix}"
        self.public = f"pub{self.suffix}"
        self.private = f"priv{self.suffix}"
        self.apps = f"apps-{self.suffix}"
        self.fleet_namespaces = (f"ing-{self.public}", f"ing-{self.private}")
        self.ca = TestCa()
        self.ca_file = tmp / "ca.crt"
        self.ca_file.write_bytes(self.ca.cert_pem)
        self.public_zone = route53.create_hosted_zone(
            Name=ZONE, CallerReference=f"traefik-{self.suffix}"
        )["HostedZone"]["Id"].removeprefix("/hostedzone/")
        self.config = tmp / "config.yaml"
        self.controllers: dict[str, FleetController] = {}
        self.pods: dict[str, NetnsPod] = {}
        self._first_index = 1 + secrets.randbelow(200)
        self.passes = 0
        self.requests = 0
        """Requests sent through the fleets (HTTP, HTTPS and TLS handshakes)."""
        self.private_profile = "traefik"
        self.migration: dict[str, Any] = {}

    def host(self, label: str) -> str:
        return f"{label}-{self.suffix}.{ZONE}"

    # --- the reconciler's configuration and passes -----------------------------------------

    def fleet(self, name: str, visibility: str, providers: list[str]) -> dict[str, Any]:
        """A fleet with every option; only the public fleet enables SSL passthrough."""
        return {
            "name": name,
            "ingressClassName": name,
            "visibility": visibility,
            "namespace": f"ing-{name}",
            "replicas": 1,
            "dnsProviders": providers,
            "tls": {
                "defaultCertificate": "fleet-default",
                "sslPassthrough": visibility == "public",
            },
            "defaultBackend": f"{self.apps}/fallback",
            "controller": {"customHttpErrors": [503], "proxyReadTimeout": 30},
        }

    def settings_fleets(self) -> dict[str, Any]:
        """The ``fleets`` key of the configuration (the chart's values take the same)."""
        return {
            "fleets": [
                self.fleet(self.public, "public", ["route53-public"]),
                {
                    **self.fleet(self.private, "private", ["bind-private"]),
                    "profile": self.private_profile,
                },
            ]
        }

    def write_config(self) -> None:
        settings = {
            "ownerId": self.owner,
            "providers": [
                {
                    "name": "route53-public",
                    "type": "route53",
                    "zoneType": "public",
                    "zoneIds": [self.public_zone],
                    "endpointUrl": self.moto.endpoint_url,
                },
                bind_provider(self.bind, name="bind-private", view="private"),
            ],
            **self.settings_fleets(),
        }
        self.config.write_text(yaml.safe_dump(settings))

    def once(self) -> dict[str, Any]:
        code, out, err = run_cli(self.config, self.apiserver.kubeconfig, "once", pod_name="tf")
        assert code == 0, (out, err)
        self.passes += 1
        self.assert_nothing_private_in_public()
        return out

    # --- the views --------------------------------------------------------------------------

    def public_records(self) -> dict[str, tuple[str, ...]]:
        """Public zone: name → A values (moto's Route53)."""
        page = self.route53.list_resource_record_sets(HostedZoneId=self.public_zone)
        return {
            r["Name"].rstrip("."): tuple(v["Value"] for v in r.get("ResourceRecords", []))
            for r in page["ResourceRecordSets"]
            if r["Type"] == "A"
        }

    def resolve(self, host: str, view: str) -> tuple[str, ...]:
        if view == "public":
            return self.public_records().get(host, ())
        return tuple(self.bind.query(host, "A"))

    def assert_nothing_private_in_public(self) -> None:
        for name, values in self.public_records().items():
            assert PRIVATE_LB not in values, f"private address published for {name}"
            assert not any(v.startswith("10.") for v in values), (name, values)

    # --- the simulated load balancer ----------------------------------------------------------

    def controller_at(self, address: str) -> FleetController:
        fleet = {PUBLIC_LB: self.public, PRIVATE_LB: self.private}[address]
        return self.controllers[fleet]

    def send(
        self,
        address: str,
        host: str,
        path: str = "/",
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """An HTTP request for ``host`` to the load balancer at ``address``."""
        listener = self.controller_at(address).listener("web")
        self.requests += 1
        return request(listener, host, path, method=method, headers=headers)

    def tls_name(self, address: str, server_name: str) -> str:
        """The common name of the certificate presented for ``server_name`` (SNI)."""
        target = self.controller_at(address).listener("websecure")
        self.requests += 1
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.check_hostname = False  # the default certificate is for no particular name
        with (
            socket.create_connection(target, timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=server_name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return _common_name(der)

    def https(self, address: str, host: str, path: str = "/") -> Answer:
        """An HTTPS request for ``host`` (verified against the test CA) to ``address``."""
        target = self.controller_at(address).listener("websecure")
        self.requests += 1
        context = ssl.create_default_context(cafile=str(self.ca_file))
        conn = http.client.HTTPSConnection(host, target[1], timeout=5, context=context)
        conn.sock = context.wrap_socket(
            socket.create_connection(target, timeout=5), server_hostname=host
        )
        try:
            conn.request("GET", path, headers={"Host": host})
            response = conn.getresponse()
            return Answer(
                response.status,
                dict(response.getheaders()),
                response.read().decode(errors="replace"),
            )
        finally:
            conn.close()

    # --- the cluster ----------------------------------------------------------------------------

    def publish_load_balancers(self) -> None:
        """What the cloud's load-balancer controller does once the load balancers exist."""
        for fleet, address in ((self.public, PUBLIC_LB), (self.private, PRIVATE_LB)):
            self.client.patch(
                SERVICE,
                f"ingress-{fleet}",
                {"status": {"loadBalancer": {"ingress": [{"ip": address}]}}},
                namespace=f"ing-{fleet}",
                subresource="status",
            )

    def backend(self, name: str, *, tls_for: str = "") -> None:
        """A backend pod, and the selector-less Service and EndpointSlice in front of it."""
        cert = key = None
        port = 8080
        if tls_for:
            cert, key = self.ca.issue(f"backend-{name}", tls_for).write(self.tmp / "certs")
            port = 8443
        # a /30 of 10.254.0.0/16 per pod, from a random start so runs do not collide
        index = self._first_index + len(self.pods)
        pod = NetnsPod(name, index, port=port, log_dir=self.tmp, cert=cert, key=key)
        pod.start()
        self.pods[name] = pod
        expose(self.apiserver, self.apps, name, pod)

    def ingress(
        self,
        name: str,
        host: str,
        fleet: str,
        service: str,
        *,
        annotations: Mapping[str, str] | None = None,
        tls_secret: str = "",
    ) -> None:
        spec: dict[str, Any] = {
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        }
        if fleet:
            spec["ingressClassName"] = fleet
        if tls_secret:
            spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
        self.client.create(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": name,
                    "namespace": self.apps,
                    "annotations": dict(annotations or {}),
                },
                "spec": spec,
            }
        )

    def private_objects(self) -> dict[str, dict[str, Any]]:
        """The private fleet's IngressClass, workload, Role and ConfigMap as they are now."""
        found: dict[str, dict[str, Any]] = {}
        ns = f"ing-{self.private}"
        name = f"ingress-{self.private}"
        for kind, path in (
            ("IngressClass", f"/apis/networking.k8s.io/v1/ingressclasses/{self.private}"),
            ("Deployment", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"),
            ("Role", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}"),
            ("ConfigMap", f"/api/v1/namespaces/{ns}/configmaps/{name}"),
        ):
            status, body = self.apiserver.request("GET", path)
            if status == 200:
                found[kind] = body
        return found

    def start_controllers(self) -> None:
        for fleet in (self.public, self.private):
            controller = FleetController(
                self.apiserver,
                namespace=f"ing-{fleet}",
                workload=f"ingress-{fleet}",
                directory=self.tmp / f"controller-{fleet}",
            )
            controller.start()
            self.controllers[fleet] = controller

    def cleanup(self) -> None:
        for controller in self.controllers.values():
            controller.stop()
        for pod in self.pods.values():
            pod.stop()
        self.apiserver.delete_namespace(self.apps)
        remove_owned(self.apiserver, self.client, self.owner, self.fleet_namespaces)
        records = self.route53.list_resource_record_sets(HostedZoneId=self.public_zone)
        changes: list[Any] = [
            {"Action": "DELETE", "ResourceRecordSet": r}
            for r in records["ResourceRecordSets"]
            if r["Type"] not in ("SOA", "NS")
        ]
        if changes:
            self.route53.change_resource_record_sets(
                HostedZoneId=self.public_zone, ChangeBatch={"Changes": changes}
            )
        self.route53.delete_hosted_zone(Id=self.public_zone)


def wait_for_answer(check: Any, what: str, timeout: float = 15.0) -> Any:
    """Poll ``check()`` until it returns a truthy value (routes take a moment to load)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)  # polling the controller's configuration reload with a deadline
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


@pytest.fixture(scope="module")
def ground(
    apiserver: ApiServer,
    api_client: KubeClient,
    bind_server: BindServer,
    moto_server: MotoServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ground]:
    started = time.monotonic()
    reason = can_make_namespaces()
    if reason:
        pytest.fail(f"the Traefik test ground cannot run here: {reason}")
    bind_server.reset()
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    g = Ground(
        apiserver=apiserver,
        client=api_client,
        bind=bind_server,
        moto=moto_server,
        route53=boto3.client("route53", **aws_client_kwargs(moto_server)),
        tmp=tmp_path_factory.mktemp("traefik"),
    )
    try:
        apiserver.create_namespace(g.apps)
        # the private fleet starts on the retired ingress-nginx profile and moves to traefik
        g.private_profile = "ingress-nginx"
        g.write_config()
        g.once()  # the fleets: namespaces, RBAC, IngressClasses, Deployments, Services
        for fleet in (g.public, g.private):
            leaf = g.ca.issue(f"default-{fleet}", f"default.{fleet}.invalid")
            apiserver.must(
                "POST",
                f"/api/v1/namespaces/ing-{fleet}/secrets",
                leaf.tls_secret("fleet-default", f"ing-{fleet}"),
            )
        g.publish_load_balancers()
        for name in ("web", "intra", "fallback", "other"):
            g.backend(name)
        g.backend("secure", tls_for=g.host("secure"))
        web_tls = g.ca.issue(g.host("web"), g.host("web"))
        apiserver.must(
            "POST", f"/api/v1/namespaces/{g.apps}/secrets", web_tls.tls_secret("web-tls", g.apps)
        )
        g.ingress("web", g.host("web"), g.public, "web", tls_secret="web-tls")
        g.ingress(
            "intra",
            g.host("intra"),
            g.private,
            "intra",
            annotations={f"{NGINX}/proxy-read-timeout": "20"},  # written for ingress-nginx
        )
        g.migration["before"] = g.private_objects()
        g.private_profile = "traefik"
        g.write_config()
        g.once()
        g.migration["after"] = g.private_objects()
        g.ingress(
            "secure",
            g.host("secure"),
            g.public,
            "secure",
            annotations={f"{NGINX}/ssl-passthrough": "true"},
        )
        controllers_started = time.monotonic()
        g.start_controllers()
        controllers_ready = time.monotonic() - controllers_started
        g.once()  # status and DNS
        # both controllers have loaded their routes once the default backend answers
        for address in (PUBLIC_LB, PRIVATE_LB):
            wait_for_answer(
                lambda a=address: g.send(a, g.host("nobody")).backend == "fallback",
                f"the default backend behind {address}",
                timeout=30,
            )
        ready = time.monotonic() - started
        yield g
        print(  # for the record (pytest -s): what the ground costs and how much it carried
            f"traefik ground: ready in {ready:.1f} s (both controllers started in "
            f"{controllers_ready:.1f} s), {g.passes} reconciler passes, "
            f"{g.requests} requests through the fleets"
        )
    finally:
        g.cleanup()
        monkeypatch.undo()


def routed(ground: Ground, address: str, host: str, backend: str, path: str = "/") -> Answer:
    """The first HTTP answer for ``host`` from ``backend`` (routes take a moment to load)."""
    answer: Answer = wait_for_answer(
        lambda: (a := ground.send(address, host, path)).backend == backend and a,
        f"{host} routed to {backend} at {address}",
    )
    return answer


def test_a_public_host_is_served_by_the_public_fleet_only(ground: Ground) -> None:
    host = ground.host("web")
    [address] = ground.resolve(host, "public")
    assert address == PUBLIC_LB
    assert ground.resolve(host, "private") == ()
    # an Ingress with spec.tls: plain HTTP is redirected to HTTPS, as ingress-nginx does
    redirect = wait_for_answer(
        lambda: (a := ground.send(address, host)).status == 308 and a, "the HTTPS redirect"
    )
    assert redirect.headers["Location"] == f"https://{host}/"
    answer = ground.https(address, host)
    assert answer.status == 200
    assert answer.backend == "web"
    assert json.loads(answer.body)["host"] == host
    # the same request to the private fleet: its default backend, never the public app
    other = ground.send(PRIVATE_LB, host)
    assert other.backend == "fallback"
    assert ground.tls_name(PRIVATE_LB, host) == f"default-{ground.private}"


def test_a_private_host_is_served_by_the_private_fleet_only(ground: Ground) -> None:
    host = ground.host("intra")
    [address] = ground.resolve(host, "private")
    assert address == PRIVATE_LB
    assert ground.resolve(host, "public") == ()
    answer = routed(ground, address, host, "intra")
    assert answer.status == 200
    other = ground.send(PUBLIC_LB, host)
    assert other.backend == "fallback"


def test_a_fleet_moves_from_ingress_nginx_to_traefik_with_no_ingress_edit(ground: Ground) -> None:
    before, after = ground.migration["before"], ground.migration["after"]
    # the same IngressClass object: its immutable controller never changed
    assert after["IngressClass"]["metadata"]["uid"] == before["IngressClass"]["metadata"]["uid"]
    assert after["IngressClass"]["spec"] == before["IngressClass"]["spec"]
    # the workload now runs Traefik; ingress-nginx's leader-election Role and its settings are
    # gone (the ConfigMap now holds Traefik's dynamic configuration only)
    [old] = before["Deployment"]["spec"]["template"]["spec"]["containers"]
    [new] = after["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert old["image"].startswith("registry.k8s.io/ingress-nginx/controller:v1.15.1@")
    assert new["image"].startswith("docker.io/library/traefik:v3.7")
    assert "Role" in before
    assert "ConfigMap" in before
    assert "Role" not in after
    assert "allow-snippet-annotations" in before["ConfigMap"]["data"]
    assert set(after["ConfigMap"]["data"]) == {"dynamic.yaml"}
    # the Ingress written for ingress-nginx, untouched, is served by the Traefik fleet
    intra = ground.client.get(INGRESS, "intra", ground.apps)
    assert intra["metadata"]["annotations"] == {f"{NGINX}/proxy-read-timeout": "20"}
    assert intra["metadata"]["generation"] == 1
    routed(ground, PRIVATE_LB, ground.host("intra"), "intra")


def test_certificates_by_sni_default_certificate_and_passthrough(ground: Ground) -> None:
    web = ground.host("web")
    routed_https = wait_for_answer(lambda: ground.https(PUBLIC_LB, web).backend == "web", "TLS")
    assert routed_https
    # the Ingress's own certificate for its host
    assert ground.tls_name(PUBLIC_LB, web) == web
    # the fleet's default certificate for any other name, on each fleet
    assert ground.tls_name(PUBLIC_LB, ground.host("nobody")) == f"default-{ground.public}"
    assert ground.tls_name(PRIVATE_LB, ground.host("nobody")) == f"default-{ground.private}"
    # passthrough: the client talks TLS with the backend itself, and sees its certificate
    secure = ground.host("secure")
    assert ground.resolve(secure, "public") == (PUBLIC_LB,)
    name = wait_for_answer(
        lambda: (n := ground.tls_name(PUBLIC_LB, secure)) == "backend-secure" and n,
        "the passthrough backend's certificate",
    )
    assert name == "backend-secure"
    through = ground.https(PUBLIC_LB, secure)
    assert through.backend == "secure"
    assert through.status == 200


def test_the_default_backend_answers_unknown_hosts_and_serves_error_pages(ground: Ground) -> None:
    for address in (PUBLIC_LB, PRIVATE_LB):
        unknown = ground.send(address, ground.host("nobody"))
        assert unknown.backend == "fallback", unknown
    # an Ingress without a class is served by no fleet
    classless = ground.host("classless")
    ground.client.create(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "classless", "namespace": ground.apps},
            "spec": {"defaultBackend": {"service": {"name": "other", "port": {"number": 80}}}},
        }
    )
    ground.ingress("classless-rule", classless, "", "other")
    time.sleep(1.0)  # what a controller that took it would need to load it
    for address in (PUBLIC_LB, PRIVATE_LB):
        for host in (classless, ground.host("nobody")):
            assert ground.send(address, host).backend == "fallback"
    # customHttpErrors [503]: a 503 of the app is answered by the default backend
    web = ground.host("web")
    wait_for_answer(lambda: ground.https(PUBLIC_LB, web).backend == "web", "the web route")
    failed = ground.https(PUBLIC_LB, web, "/status/503")
    assert failed.backend == "fallback", failed
    # other statuses pass through from the app
    missing = ground.https(PUBLIC_LB, web, "/status/404")
    assert (missing.status, missing.backend) == (404, "web")


def test_annotation_controls_take_effect(ground: Ground) -> None:
    hosts = {k: ground.host(k) for k in ("affinity", "ratelimit", "cors", "redirect")}
    ground.ingress(
        "affinity",
        hosts["affinity"],
        ground.public,
        "other",
        annotations={f"{NGINX}/affinity": "cookie", f"{NGINX}/session-cookie-name": "route"},
    )
    ground.ingress(
        "ratelimit",
        hosts["ratelimit"],
        ground.public,
        "other",
        annotations={f"{NGINX}/limit-rps": "1", f"{NGINX}/limit-burst-multiplier": "1"},
    )
    ground.ingress(
        "cors",
        hosts["cors"],
        ground.public,
        "other",
        annotations={
            f"{NGINX}/enable-cors": "true",
            f"{NGINX}/cors-allow-origin": "https://app.example.test",
        },
    )
    ground.ingress(
        "redirect",
        hosts["redirect"],
        ground.public,
        "other",
        annotations={f"{NGINX}/permanent-redirect": "https://elsewhere.example.test/"},
    )
    # basic auth from an htpasswd Secret (auth-file, as ingress-nginx reads it)
    digest = base64.b64encode(hashlib.sha1(b"s3cret").digest()).decode()
    ground.apiserver.must(
        "POST",
        f"/api/v1/namespaces/{ground.apps}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "basic-auth"},
            "stringData": {"auth": f"alice:{{SHA}}{digest}\n"},
        },
    )
    hosts["auth"] = ground.host("auth")
    ground.ingress(
        "auth",
        hosts["auth"],
        ground.public,
        "other",
        annotations={
            f"{NGINX}/auth-type": "basic",
            f"{NGINX}/auth-secret": "basic-auth",
            f"{NGINX}/auth-realm": "members",
        },
    )
    # snippets are raw controller configuration: off by default, the Ingress is not served
    snippet = ground.host("snippet")
    ground.ingress(
        "snippet",
        snippet,
        ground.public,
        "other",
        annotations={f"{NGINX}/configuration-snippet": "more_set_headers 'X-Snippet: 1';"},
    )
    ground.once()
    for host in hosts.values():
        assert ground.resolve(host, "public") == (PUBLIC_LB,)

    # session affinity: a cookie names the backend server
    sticky = routed(ground, PUBLIC_LB, hosts["affinity"], "other")
    assert "route=" in sticky.headers.get("Set-Cookie", ""), sticky.headers

    # rate limit: a burst beyond 1 request per second is refused
    wait_for_answer(
        lambda: ground.send(PUBLIC_LB, hosts["ratelimit"]).backend == "other",
        "the rate-limited route",
    )
    time.sleep(1.5)  # the bucket refills: the burst below starts with one request allowed
    statuses = [ground.send(PUBLIC_LB, hosts["ratelimit"]).status for _ in range(10)]
    assert statuses[0] == 200, statuses
    assert statuses.count(429) >= 8, statuses

    # CORS: a preflight from the allowed origin gets the allow headers
    preflight = wait_for_answer(
        lambda: (
            (
                a := ground.send(
                    PUBLIC_LB,
                    hosts["cors"],
                    method="OPTIONS",
                    headers={
                        "Origin": "https://app.example.test",
                        "Access-Control-Request-Method": "GET",
                    },
                )
            ).headers.get("Access-Control-Allow-Origin")
            and a
        ),
        "the CORS preflight",
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.test"

    # redirect: permanent, to the annotated location, without reaching the app
    moved = wait_for_answer(
        lambda: (a := ground.send(PUBLIC_LB, hosts["redirect"])).status == 301 and a,
        "the permanent redirect",
    )
    assert moved.headers["Location"] == "https://elsewhere.example.test/"
    assert moved.backend == ""

    # basic auth: refused without the password, let through with it
    denied = wait_for_answer(
        lambda: (a := ground.send(PUBLIC_LB, hosts["auth"])).status == 401 and a, "basic auth"
    )
    assert denied.headers["Www-Authenticate"] == 'Basic realm="members"'  # Go's spelling
    wrong = base64.b64encode(b"alice:guess").decode()
    assert (
        ground.send(PUBLIC_LB, hosts["auth"], headers={"Authorization": f"Basic {wrong}"}).status
        == 401
    )
    right = base64.b64encode(b"alice:s3cret").decode()
    allowed = ground.send(PUBLIC_LB, hosts["auth"], headers={"Authorization": f"Basic {right}"})
    assert (allowed.status, allowed.backend) == (200, "other")

    # by now every route above was loaded; the snippet Ingress's still is not
    refused = ground.send(PUBLIC_LB, snippet)
    assert refused.backend == "fallback", refused
    assert "X-Snippet" not in refused.headers
    rejected = ground.controllers[ground.public].log_lines(r"snippet annotations are not allowed")
    assert rejected, "Traefik did not say why it refused the snippet Ingress"


def test_an_ingress_moving_fleets_takes_requests_and_dns_along_and_never_leaks(
    ground: Ground,
) -> None:
    host = ground.host("mover")
    ground.ingress("mover", host, ground.private, "other")
    ground.once()
    assert ground.resolve(host, "private") == (PRIVATE_LB,)
    assert ground.resolve(host, "public") == ()
    routed(ground, PRIVATE_LB, host, "other")
    assert ground.send(PUBLIC_LB, host).backend == "fallback"

    ground.client.patch(
        INGRESS, "mover", {"spec": {"ingressClassName": ground.public}}, namespace=ground.apps
    )
    # requests follow the class at once (the controllers watch it) ...
    routed(ground, PUBLIC_LB, host, "other")
    wait_for_answer(
        lambda: ground.send(PRIVATE_LB, host).backend == "fallback", "the private fleet to let go"
    )
    # ... and DNS follows on the next pass: out of the private view, into the public one
    ground.once()  # every pass checks that nothing private reached the public zone
    assert ground.resolve(host, "public") == (PUBLIC_LB,)
    assert ground.resolve(host, "private") == ()
    status = ground.client.get(INGRESS, "mover", ground.apps)["status"]["loadBalancer"]
    assert status == {"ingress": [{"ip": PUBLIC_LB}]}

    # and back: the public record goes, the private one returns
    ground.client.patch(
        INGRESS, "mover", {"spec": {"ingressClassName": ground.private}}, namespace=ground.apps
    )
    routed(ground, PRIVATE_LB, host, "other")
    ground.once()
    assert ground.resolve(host, "public") == ()
    assert ground.resolve(host, "private") == (PRIVATE_LB,)


def test_controllers_run_with_their_fleet_rbac_and_never_write_status(ground: Ground) -> None:
    # every route above worked with the fleet ServiceAccount's token; nothing was refused
    for fleet, controller in ground.controllers.items():
        refused = controller.log_lines(r"(?i)forbidden|\b403\b|unauthorized")
        assert refused == [], (fleet, refused)
        assert controller.service_account == f"ingress-{fleet}"
    # Ingress status has one writer: the reconciler
    for name in ("web", "intra", "secure"):
        ingress = ground.client.get(INGRESS, name, ground.apps)
        writers = {
            entry["manager"]
            for entry in ingress["metadata"].get("managedFields") or []
            if entry.get("subresource") == "status"
        }
        assert writers == {"ingress-reconciler"}, (name, writers)
    # the token cannot write what the controller has no business writing
    token = (ground.controllers[ground.public].directory / "token").read_text()
    status, _ = ground.apiserver.request(
        "PATCH",
        f"/apis/networking.k8s.io/v1/namespaces/{ground.apps}/ingresses/web/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.99"}]}}},
        token=token,
        content_type="application/merge-patch+json",
    )
    assert status == 403


def test_ssl_passthrough_only_on_the_fleet_that_enables_it(
    ground: Ground, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # an Ingress that asked for passthrough on the private fleet before any policy existed: the
    # reconciler reports it
    early = ground.host("early")
    annotations = {f"{NGINX}/ssl-passthrough": "true"}
    ground.ingress("early", early, ground.private, "secure", annotations=annotations)
    ground.once()
    reasons = {
        e.get("reason")
        for e in ground.apiserver.must(
            "GET", f"/apis/events.k8s.io/v1/namespaces/{ground.apps}/events"
        )["items"]
        if e.get("regarding", {}).get("name") == "early"
    }
    assert "SslPassthroughNotEnabled" in reasons

    # the chart's fleet policy, rendered by helm for these two fleets, refuses the next one
    values = tmp_path_factory.mktemp("fleet-policy") / "values.yaml"
    fleets = [{**f, "dnsProviders": []} for f in ground.settings_fleets()["fleets"]]
    values.write_text(yaml.safe_dump({"ownerId": ground.owner, "fleets": fleets}))
    rendered = subprocess.run(
        [
            helm_binary("helm3"),
            "template",
            f"fp{ground.suffix}",
            str(CHART),
            "--show-only",
            "templates/fleet-policy.yaml",
            "-f",
            str(values),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    policy, binding = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    base = "/apis/admissionregistration.k8s.io/v1"
    ground.apiserver.must("POST", f"{base}/validatingadmissionpolicies", policy)
    ground.apiserver.must("POST", f"{base}/validatingadmissionpolicybindings", binding)
    try:
        path = f"/apis/networking.k8s.io/v1/namespaces/{ground.apps}/ingresses"

        def attempt(name: str, fleet: str) -> tuple[int, Any]:
            body = {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": name, "annotations": annotations},
                "spec": {"ingressClassName": fleet, "rules": [{"host": ground.host(name)}]},
            }
            return ground.apiserver.request("POST", path + "?dryRun=All", body)

        _, body = wait_for_answer(
            lambda: (r := attempt("late", ground.private))[0] == 403 and r, "the fleet policy"
        )
        assert "SslPassthroughNotEnabled: the fleet of class" in body["message"], body
        # the fleet that enables passthrough takes the same Ingress
        assert attempt("late", ground.public)[0] == 201
    finally:
        ground.apiserver.request(
            "DELETE", f"{base}/validatingadmissionpolicybindings/{binding['metadata']['name']}"
        )
        ground.apiserver.request(
            "DELETE", f"{base}/validatingadmissionpolicies/{policy['metadata']['name']}"
        )
