"""The tenancy rules for Gateway API objects at admission, on a real kube-apiserver with the
Gateway API v1.6.1 CRDs: the second ValidatingAdmissionPolicy of
:func:`reconciler.dns.admission_policy.render_admission_policy` refuses a Route, Gateway or
ListenerSet whose hostnames, parent Gateways or GatewayClass its namespace's tenant may not use,
with the rule's name in the message, and admits the legitimate ones and the fleets' own Gateways.

It runs on an apiserver of its own: on the shared one, once another test's policy with
ConfigMap parameters has come and gone, kube-apiserver v1.36 no longer finds a new binding's
parameters ("no params found"), whatever order the objects are created in.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.servers.apiserver import ApiServer
from e2e.servers.gateway_api import GatewayApiMissingError, install_gateway_api
from reconciler.dns.admission_policy import render_admission_policy
from reconciler.dns.tenancy import Fleet
from tests.unit.dns.test_tenancy_attacks import NAMESPACE_LABELS, make_config

pytestmark = pytest.mark.integration

POLICIES = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies"
BINDINGS = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings"
GROUP = "gateway.networking.k8s.io"
LABEL = "tenancy-test.ingress-reconciler.io/gateway"


@dataclass(frozen=True)
class Site:
    """One run's namespaces and fleets."""

    prefix: str

    def ns(self, logical: str) -> str:
        return self.prefix + logical

    def fleets(self) -> tuple[Fleet, ...]:
        return (
            Fleet.of(
                "public",
                "public",
                "public",
                namespace=self.ns("fleet-public"),
                gateway="public",
                gateway_class=f"{self.prefix}public",
            ),
            Fleet.of(
                "private",
                "private",
                "private",
                namespace=self.ns("fleet-private"),
                gateway="internal",
                gateway_class=f"{self.prefix}private",
            ),
            Fleet.of("partner", "partner", "public", namespace=self.ns("fleet-partner")),
        )

    def parent(self, fleet: str) -> dict[str, str]:
        name = {"public": "public", "private": "internal"}[fleet]
        return {"name": name, "namespace": self.ns(f"fleet-{fleet}")}


def path(kind: str, namespace: str) -> str:
    return f"/apis/{GROUP}/v1/namespaces/{namespace}/{kind.lower()}s"


def http_route(name: str, hosts: list[str], parents: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {"parentRefs": parents, "hostnames": hosts},
    }


def gateway(name: str, cls: str, hostname: str | None = None) -> dict[str, Any]:
    listener: dict[str, Any] = {"name": "http", "protocol": "HTTP", "port": 8000}
    if hostname:
        listener["hostname"] = hostname
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name},
        "spec": {"gatewayClassName": cls, "listeners": [listener]},
    }


def listener_set(name: str, parent: dict[str, str], hostname: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ListenerSet",
        "metadata": {"name": name},
        "spec": {
            "parentRef": parent,
            "listeners": [
                {"name": "extra", "protocol": "HTTP", "port": 8000, "hostname": hostname}
            ],
        },
    }


@pytest.fixture(scope="module")
def own_apiserver() -> Iterator[ApiServer]:
    """An apiserver for this module alone (see the module docstring)."""
    with ApiServer() as server:
        yield server


@pytest.fixture(scope="module")
def site(own_apiserver: ApiServer) -> Iterator[Site]:
    apiserver = own_apiserver
    try:
        install_gateway_api(apiserver)
    except GatewayApiMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    run = secrets.token_hex(3)
    here = Site(prefix=f"tg{run}-")
    namespaces = [*NAMESPACE_LABELS, "fleet-public", "fleet-private", "fleet-partner", "system"]
    for logical in namespaces:
        labels = {k: here.prefix + v for k, v in NAMESPACE_LABELS.get(logical, {}).items()}
        apiserver.create_namespace(here.ns(logical), {**labels, LABEL: run})
    name = f"ingress-reconciler-tenancy-{run}"
    params, policy, binding, gateway_policy, gateway_binding = render_admission_policy(
        make_config(here.prefix),
        here.fleets(),
        namespace=here.ns("system"),
        name=name,
        namespace_selector={LABEL: run},
    )
    apiserver.must("POST", f"/api/v1/namespaces/{here.ns('system')}/configmaps", params)
    for obj, collection in (
        (policy, POLICIES),
        (binding, BINDINGS),
        (gateway_policy, POLICIES),
        (gateway_binding, BINDINGS),
    ):
        apiserver.must("POST", collection, obj)
    try:
        probe = http_route("probe", ["x.shop.example.test"], [here.parent("public")])
        deadline = time.monotonic() + 60
        while True:
            status, body = apiserver.request(
                "POST", path("HTTPRoute", here.ns("rogue")) + "?dryRun=All", probe
            )
            if status == 403:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the Gateway API policy was not enforced: {status} {body}")
            time.sleep(0.1)  # poll interval between admission probes
        yield here
    finally:
        for obj, collection in ((gateway_binding, BINDINGS), (gateway_policy, POLICIES)):
            apiserver.request("DELETE", f"{collection}/{obj['metadata']['name']}")
        apiserver.request("DELETE", f"{BINDINGS}/{name}")
        apiserver.request("DELETE", f"{POLICIES}/{name}")
        for logical in namespaces:
            apiserver.delete_namespace(here.ns(logical))


def create(api: ApiServer, site: Site, logical: str, obj: dict[str, Any]) -> tuple[int, str]:
    status, body = api.request("POST", path(obj["kind"], site.ns(logical)), obj)
    return status, str(body.get("message", "")) if isinstance(body, dict) else str(body)


def test_legitimate_routes_gateways_and_listener_sets_are_admitted(
    own_apiserver: ApiServer, site: Site
) -> None:
    admitted = [
        ("shop", http_route("web", ["www.shop.example.test"], [site.parent("public")])),
        ("team-a", http_route("db", ["db.team.example.test"], [site.parent("private")])),
        ("team-a", gateway("own", f"{site.prefix}private", "gw.team.example.test")),
        ("team-a", gateway("unrelated", "someone-elses-class", "x.team.example.test")),
        ("team-a", listener_set("more", site.parent("private"), "more.team.example.test")),
        # a fleet's own Gateway in its namespace (the reconciler's write) is not judged
        ("fleet-public", gateway("public", f"{site.prefix}public")),
    ]
    for logical, obj in admitted:
        status, message = create(own_apiserver, site, logical, obj)
        assert status == 201, (logical, obj["kind"], obj["metadata"]["name"], message)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("host of another tenant", "HostnameConflict"),
        ("host under no tenant", "HostnameNotAllowed"),
        ("wildcard wider than the tenant", "WildcardTooWide"),
        ("reserved ownership name", "ReservedName"),
        ("gateway of a fleet the tenant may not use", "FleetNotAllowed"),
        ("namespace of no tenant", "NamespaceNotInTenant"),
        ("gateway class of a forbidden fleet", "FleetNotAllowed"),
        ("listener set on a forbidden fleet", "FleetNotAllowed"),
        ("gateway listener outside the domains", "HostnameNotAllowed"),
    ],
)
def test_attacks_are_refused_with_the_rules_name(
    own_apiserver: ApiServer, site: Site, case: str, reason: str
) -> None:
    public, private = site.parent("public"), site.parent("private")
    attacks: dict[str, tuple[str, dict[str, Any]]] = {
        "host of another tenant": (
            "shop",
            http_route("steal", ["api.team.example.test"], [public]),
        ),
        "host under no tenant": ("shop", http_route("far", ["www.other.test"], [public])),
        "wildcard wider than the tenant": (
            "team-a",
            http_route("wide", ["*.example.test"], [private]),
        ),
        "reserved ownership name": (
            "shop",
            http_route("own", ["a-www.shop.example.test"], [public]),
        ),
        "gateway of a fleet the tenant may not use": (
            "team-a",
            http_route("sneak", ["x.team.example.test"], [public]),
        ),
        "namespace of no tenant": ("rogue", http_route("r", ["x.shop.example.test"], [public])),
        "gateway class of a forbidden fleet": (
            "team-a",
            gateway("borrowed", f"{site.prefix}public", "y.team.example.test"),
        ),
        "listener set on a forbidden fleet": (
            "team-a",
            listener_set("attach", public, "z.team.example.test"),
        ),
        "gateway listener outside the domains": (
            "team-a",
            gateway("outside", f"{site.prefix}private", "www.vendor.test.example.org"),
        ),
    }
    logical, obj = attacks[case]
    status, message = create(own_apiserver, site, logical, obj)
    assert status == 403, (case, status, message)
    assert f"{reason}: " in message, message
