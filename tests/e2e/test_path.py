"""The whole path, end to end: Ingress applied -> fleet address in its status -> records in the
right view (Route53 zone in the emulator for the public fleet, BIND zone for the private one) ->
Ingress deleted -> records gone; and tenants' hijack attempts refused with nothing written.

Runs against ``E2E_KUBECONFIG`` (kind with the chart) or the local test ground (see conftest).
Each test uses fresh host names so the tests are independent of each other and of the sample.
"""

from __future__ import annotations

import secrets

import pytest

from e2e import sample
from e2e.observe import Record
from reconciler.kube.resources import INGRESS
from tests.e2e.conftest import E2eGround, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _names(records: tuple[Record, ...]) -> set[str]:
    return {r.name for r in records}


def _bare(value: str) -> str:
    return value.rstrip(".").lower()


def _points_at(records: tuple[Record, ...], name: str, addresses: tuple[str, ...]) -> bool:
    wanted = {_bare(a) for a in addresses}
    return any(
        r.name == name
        and r.type in ("A", "AAAA", "CNAME")
        and wanted <= {_bare(v) for v in r.values}
        for r in records
    )


def _fleet_address(ground: E2eGround, fleet: str) -> tuple[str, ...]:
    found: dict[str, tuple[str, ...]] = {}

    def has_address() -> bool:
        found.update(ground.observer.fleet_addresses())
        return bool(found.get(fleet))

    eventually(ground, has_address, what=f"an address on fleet {fleet}'s Service", timeout=90)
    return found[fleet]


def _status(ground: E2eGround, namespace: str, name: str) -> tuple[str, ...]:
    views = ground.observer.ingresses((namespace,))
    return next((v.addresses for v in views if v.name == name), ())


@pytest.mark.parametrize(
    ("namespace", "fleet", "domain"),
    [
        ("shop", "public", "shop.example.test"),
        ("payroll", "private", "payroll.internal.example.test"),
    ],
    ids=["public-fleet-route53", "private-fleet-bind"],
)
def test_ingress_to_records_and_back(
    ground: E2eGround, namespace: str, fleet: str, domain: str
) -> None:
    """Applied -> status = fleet address -> record (and TXT owner) in its view only -> deleted ->
    records gone. The fleet's name is its view (public -> Route53, private -> BIND)."""
    view = fleet
    other_view = "private" if view == "public" else "public"
    address = _fleet_address(ground, fleet)
    name = f"e2e-{secrets.token_hex(3)}"
    host = f"{name}.{domain}"
    ground.apply(sample.ingress(namespace, name, fleet, (host,)))
    try:
        eventually(
            ground,
            lambda: set(_status(ground, namespace, name)) == set(address),
            what=f"{namespace}/{name}'s status to carry fleet {fleet}'s address {address}",
        )
        eventually(
            ground,
            lambda: _points_at(ground.observer.records(view), host, address),
            what=f"a record {host} -> {address} in the {view} view",
        )
        records = ground.observer.records(view)
        owners = [
            r
            for r in records
            if r.type == "TXT"
            and host in r.name
            and any(f"external-dns/owner={sample.OWNER_ID}" in v for v in r.values)
            and any(f"resource=ingress/{namespace}/{name}" in v for v in r.values)
        ]
        assert owners, f"no TXT ownership record for {host} in {records}"
        assert not any(host in n for n in _names(ground.observer.records(other_view))), (
            f"{host} leaked into the {other_view} view"
        )
    finally:
        ground.kube.delete(INGRESS, name, namespace)
    eventually(
        ground,
        lambda: not any(host in n for n in _names(ground.observer.records(view))),
        what=f"{host} and its TXT records to be removed from the {view} view",
    )


def test_fleets_have_load_balancers_of_their_scheme(ground: E2eGround) -> None:
    """The public fleet's NLB is internet-facing, the private fleet's internal."""
    for fleet in sample.FLEETS:
        _fleet_address(ground, fleet.name)
    eventually(
        ground,
        lambda: (
            {v.fleet: v.scheme for v in ground.observer.fleets()}
            == {"public": "internet-facing", "private": "internal"}
        ),
        what="the fleets' NLB schemes",
    )


@pytest.mark.parametrize(
    ("host_domain", "class_name", "reason", "named"),
    [
        ("shop.example.test", "private", "HostnameConflict", "{host}"),
        ("payroll.internal.example.test", "public", "FleetNotAllowed", "'{class_name}'"),
    ],
    ids=["another-tenants-host", "a-fleet-not-allowed"],
)
def test_hijack_attempt_refused(
    ground: E2eGround, host_domain: str, class_name: str, reason: str, named: str
) -> None:
    """payroll claims shop's name, or uses the public fleet: a Warning Event naming the host (or
    the class), no record anywhere, and shop's records untouched."""
    _fleet_address(ground, "public")
    _fleet_address(ground, "private")
    name = f"hijack-{secrets.token_hex(3)}"
    host = f"{name}.{host_domain}"
    mention = named.format(host=host, class_name=class_name)
    ground.apply(sample.ingress("payroll", name, class_name, (host,)))
    try:
        eventually(
            ground,
            lambda: any(
                r.ingress == name and r.reason == reason and mention in r.note
                for r in ground.observer.refusals(("payroll",))
            ),
            what=f"a {reason} Warning Event naming {mention} on payroll/{name}",
        )
        # The refusal is reported in the same pass that plans DNS: nothing may have been written.
        for view in ("public", "private"):
            assert not any(host in n for n in _names(ground.observer.records(view))), (
                f"refused host {host} was written into the {view} view"
            )
        public = ground.observer.fleet_addresses()["public"]
        assert _points_at(ground.observer.public_records(), "shop.example.test", public)
    finally:
        ground.kube.delete(INGRESS, name, "payroll")
