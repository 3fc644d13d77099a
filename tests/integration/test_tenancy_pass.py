"""Tenancy in the full pass on the real apiserver + BIND: refusals are Warning Events on the
offending Ingress (events.k8s.io), the rightful owner's records stay exactly as they were."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import EVENT, SERVICE
from tests.integration.harness import (
    ZONE,
    bind_provider,
    fleet,
    ingress_object,
    remove_owned,
    run_cli,
)

pytestmark = pytest.mark.integration

FLEET_IP = "203.0.113.40"


class Tenants:
    """Two tenant namespaces, one public fleet on BIND; removes what it made afterwards."""

    def __init__(
        self, *, apiserver: ApiServer, client: KubeClient, bind: BindServer, tmp_path: Path
    ) -> None:
        suffix = secrets.token_hex(3)
        self.apiserver = apiserver
        self.client = client
        self.bind = bind
        self.owner = f"tenancy-{suffix}"
        self.fleet = f"pub{suffix}"
        self.fleet_namespace = f"ing-{self.fleet}"
        self.ns_a = f"a-{suffix}"
        self.ns_b = f"b-{suffix}"
        apiserver.create_namespace(self.ns_a)
        apiserver.create_namespace(self.ns_b, labels={"team": f"b-{suffix}"})
        self.config = tmp_path / "config.yaml"
        self.config.write_text(yaml.safe_dump(self.settings(suffix)))

    def settings(self, suffix: str) -> dict[str, Any]:
        return {
            "ownerId": self.owner,
            "providers": [bind_provider(self.bind)],
            "fleets": [fleet(self.fleet, visibility="public", dns_providers=["bind"])],
            "tenants": [
                {
                    "name": "team-a",
                    "namespaces": [self.ns_a],
                    "domains": [f"a.{ZONE}"],
                    "fleets": [self.fleet],
                },
                {
                    "name": "team-b",
                    "namespaceSelector": {"team": f"b-{suffix}"},
                    "domains": [f"b.{ZONE}"],
                    "fleets": [self.fleet],
                },
            ],
        }

    def run(self, command: str) -> tuple[int, dict[str, Any], str]:
        return run_cli(self.config, self.apiserver.kubeconfig, command, pod_name="tenancy-test")

    def ingress(self, namespace: str, name: str, host: str) -> None:
        self.client.create(ingress_object(name, namespace, self.fleet, host))

    def events(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client.request("GET", EVENT.collection_path(namespace))[
            "items"
        ]
        return items

    def records(self) -> dict[tuple[str, str], tuple[str, ...]]:
        return {(r.name, r.rdtype): r.values for r in self.bind.transfer(ZONE)}

    def cleanup(self) -> None:
        remove_owned(
            self.apiserver,
            self.client,
            self.owner,
            (self.fleet_namespace, self.ns_a, self.ns_b),
        )


@pytest.fixture
def tenants(
    apiserver: ApiServer, api_client: KubeClient, bind: BindServer, tmp_path: Path
) -> Iterator[Tenants]:
    helper = Tenants(apiserver=apiserver, client=api_client, bind=bind, tmp_path=tmp_path)
    try:
        yield helper
    finally:
        helper.cleanup()


def test_refusals_are_events_and_the_owners_records_stay(tenants: Tenants) -> None:
    code, _, err = tenants.run("once")  # the fleet appears
    assert code == 0, err
    tenants.client.patch(
        SERVICE,
        f"ingress-{tenants.fleet}",
        {"status": {"loadBalancer": {"ingress": [{"ip": FLEET_IP}]}}},
        namespace=tenants.fleet_namespace,
        subresource="status",
    )
    owner_host = f"www.b.{ZONE}"
    tenants.ingress(tenants.ns_b, "owner", owner_host)
    code, _, err = tenants.run("once")
    assert code == 0, err
    before = tenants.records()
    assert before[(owner_host, "A")] == (FLEET_IP,)
    owner_txt = before[(f"a-{owner_host}", "TXT")]
    assert f"ingress/{tenants.ns_b}/owner" in owner_txt[0]

    # Team A tries to take team B's host, and to publish a name nobody owns.
    tenants.ingress(tenants.ns_a, "thief", owner_host)
    tenants.ingress(tenants.ns_a, "stray", f"x.unowned.{ZONE}")
    serial = tenants.bind.serial(ZONE)
    code, doc, err = tenants.run("once")
    assert code == 0, err  # refusals do not make the pass fail
    assert (doc["create"], doc["update"], doc["delete"]) == ([], [], [])
    conflicts = {(c["resource"], c["reason"], c["name"]) for c in doc["conflicts"]}
    assert (f"ingress/{tenants.ns_a}/thief", "HostnameConflict", owner_host) in conflicts
    assert (
        f"ingress/{tenants.ns_a}/stray",
        "HostnameNotAllowed",
        f"x.unowned.{ZONE}",
    ) in conflicts
    assert all(c["message"] for c in doc["conflicts"])
    assert tenants.bind.serial(ZONE) == serial  # nothing written at all
    assert tenants.records() == before

    events = {
        (e["regarding"]["name"], e["reason"], e["type"])
        for e in tenants.events(tenants.ns_a)
        if e.get("reportingController") == "ingress-reconciler"
    }
    assert ("thief", "HostnameConflict", "Warning") in events
    assert ("stray", "HostnameNotAllowed", "Warning") in events
    thief = next(e for e in tenants.events(tenants.ns_a) if e["regarding"]["name"] == "thief")
    assert thief["regarding"]["kind"] == "Ingress"
    assert "team-b" in thief["note"]
    assert not [
        e
        for e in tenants.events(tenants.ns_b)
        if e["regarding"]["name"] == "owner" and e["type"] == "Warning"
    ]

    # plan shows the same refusals and writes no Events of its own
    count = len(tenants.events(tenants.ns_a))
    code, doc, err = tenants.run("plan")
    assert code == 0, err
    assert (f"ingress/{tenants.ns_a}/thief", "HostnameConflict", owner_host) in {
        (c["resource"], c["reason"], c["name"]) for c in doc["conflicts"]
    }
    assert len(tenants.events(tenants.ns_a)) == count


def test_a_pending_load_balancer_keeps_every_tenants_records(tenants: Tenants) -> None:
    code, _, err = tenants.run("once")
    assert code == 0, err

    def publish(entries: list[dict[str, str]]) -> None:
        tenants.client.patch(
            SERVICE,
            f"ingress-{tenants.fleet}",
            {"status": {"loadBalancer": {"ingress": entries}}},
            namespace=tenants.fleet_namespace,
            subresource="status",
        )

    publish([{"ip": FLEET_IP}])
    hosts = (f"www.a.{ZONE}", f"www.b.{ZONE}")
    tenants.ingress(tenants.ns_a, "web", hosts[0])
    tenants.ingress(tenants.ns_b, "web", hosts[1])
    code, _, err = tenants.run("once")
    assert code == 0, err
    before = tenants.records()
    assert all(before[(h, "A")] == (FLEET_IP,) for h in hosts)

    # The load balancer is being replaced: the Service has no address for a while.
    publish([])
    serial = tenants.bind.serial(ZONE)
    code, doc, err = tenants.run("once")
    assert code == 0, err
    assert doc["delete"] == [], doc["delete"]
    assert not [c for c in doc["conflicts"] if c["reason"] == "TargetNotAllowed"], doc
    assert tenants.records() == before
    assert tenants.bind.serial(ZONE) == serial

    # The new load balancer's address replaces the old one, for every tenant.
    publish([{"ip": "203.0.113.41"}])
    code, _, err = tenants.run("once")
    assert code == 0, err
    after = tenants.records()
    assert all(after[(h, "A")] == ("203.0.113.41",) for h in hosts)
    assert all(after[(f"a-{h}", "TXT")] == before[(f"a-{h}", "TXT")] for h in hosts)
