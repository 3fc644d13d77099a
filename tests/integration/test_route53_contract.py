"""The shared provider contract, run against the Route53 provider on moto's server (127.0.0.1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pytest

from providers.route53 import Route53Provider
from providers.route53_records import endpoint_from_record_set, record_set_from_endpoint
from reconciler.dns.provider import Provider
from reconciler.model.endpoint import Changes, Endpoint
from tests.integration.provider_contract import (
    ProviderContract,
    ProviderHarness,
    by_key,
    only_names,
)

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client

__all__ = ["Route53Harness"]

pytestmark = pytest.mark.integration


class Route53Harness:
    """A fresh hosted zone on a wiped moto server; seeds and reads straight through boto3."""

    def __init__(self, client: Route53Client, zone: str = "example.test", **options: Any) -> None:
        self.client = client
        self.zone = zone
        self.options = options
        created = client.create_hosted_zone(Name=zone, CallerReference=f"harness-{zone}")
        self.zone_id = created["HostedZone"]["Id"].removeprefix("/hostedzone/")

    def provider(self) -> Provider:
        return self.route53()

    def route53(self, **overrides: Any) -> Route53Provider:
        """A new provider on this harness's client (``overrides`` replace constructor options)."""
        kwargs: dict[str, Any] = {"name": "route53", "client": self.client, **self.options}
        kwargs.update(overrides)
        return Route53Provider(**kwargs)

    def seed(self, endpoints: Sequence[Endpoint]) -> None:
        """UPSERT the record sets the way external-dns or a person would, outside the provider."""
        if not endpoints:
            return
        self.client.change_resource_record_sets(
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Changes": [
                    {"Action": "UPSERT", "ResourceRecordSet": record_set_from_endpoint(e)}  # type: ignore[typeddict-item]
                    for e in endpoints
                ]
            },
        )

    def raw(self) -> list[dict[str, Any]]:
        """Every record set of the zone as moto returns it (all pages)."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"HostedZoneId": self.zone_id, "MaxItems": "300"}
        while True:
            page = self.client.list_resource_record_sets(**kwargs)
            found.extend(dict(r) for r in page["ResourceRecordSets"])
            if not page["IsTruncated"]:
                return found
            kwargs["StartRecordName"] = page["NextRecordName"]
            kwargs["StartRecordType"] = page["NextRecordType"]

    def read(self) -> list[Endpoint]:
        """The zone without SOA and apex NS, each record set as an endpoint (ttl filled in)."""
        return [
            endpoint_from_record_set(r)
            for r in self.raw()
            if r["Type"] != "SOA" and not (r["Type"] == "NS" and r["Name"].rstrip(".") == self.zone)
        ]


@pytest.fixture
def harness(route53_client: Route53Client) -> ProviderHarness:
    """The contract suite's harness: zone ``example.test`` on a wiped moto server."""
    return Route53Harness(route53_client)


class TestRoute53Contract(ProviderContract):
    """The shared provider contract on moto's Route53."""

    def test_records_sees_what_is_seeded_between_reads(self, harness: ProviderHarness) -> None:
        """Route53 variant: the provider serves reads from its write-through cache (a quiet pass
        makes no call), so an out-of-band change shows once the resync period has passed."""
        assert isinstance(harness, Route53Harness)
        now = [1000.0]
        provider = harness.route53(clock=lambda: now[0], resync_period=3600.0)
        z = harness.zone
        assert only_names(provider.records(), [f"www.{z}"]) == []
        seeded = Endpoint.of(f"www.{z}", "A", ["198.51.100.7"], ttl=300)
        harness.seed([seeded])
        assert only_names(provider.records(), [f"www.{z}"]) == []  # cached
        now[0] += 3600.0
        assert only_names(provider.records(), [f"www.{z}"]) == [seeded]
        changed = Endpoint.of(f"www.{z}", "A", ["198.51.100.8"], ttl=300)
        harness.seed([changed])
        now[0] += 3599.0
        assert only_names(provider.records(), [f"www.{z}"]) == [seeded]
        now[0] += 1.0
        assert only_names(provider.records(), [f"www.{z}"]) == [changed]

    def test_delete_of_a_record_changed_out_of_band_fails(self, harness: ProviderHarness) -> None:
        """moto accepts a DELETE that names values the record once had (its change journal
        still holds them), where Route53 refuses it; the Route53-side refusal is covered with
        botocore's Stubber in tests/unit/providers/test_route53.py. On moto we check what moto can
        show: the DELETE carried the values the provider read, not the desired endpoint's."""
        z = harness.zone
        seen = Endpoint.of(f"race.{z}", "A", ["192.0.2.30"], ttl=300)
        harness.seed([seen])
        provider = harness.provider()
        (current,) = only_names(provider.records(), [seen.name])
        assert current == seen
        stale_view = Endpoint.of(f"race.{z}", "A", ["192.0.2.99"], ttl=60)
        # the planner's copy may differ from what Route53 holds; the DELETE must not
        provider.apply(Changes(delete=(stale_view,)))
        assert by_key(harness.read()) == {}
