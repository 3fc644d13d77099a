"""Route53 rules moto does not enforce, checked with botocore's Stubber (no network, no clock).

The Stubber answers each call with a queued response and checks the request parameters, so
these tests pin exactly what the provider sends: never a CREATE over an existing record set,
a DELETE with exactly the stored values, DELETE + CREATE for alias/type changes, retries of
throttled calls, bisection of refused batches, and errors that are ours, never botocore's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st

import providers.route53 as route53_module
import providers.route53_batches as batches_module
import providers.route53_records as records_module
from providers.route53 import Route53Provider, client_config
from providers.route53_batches import Change, group_of, pack
from providers.route53_records import endpoint_from_record_set, record_set_from_endpoint
from providers.throttle import Backoff, Retrier, TokenBucket
from reconciler.model.endpoint import Changes, Endpoint, FrozenMap, Label, Update
from reconciler.model.errors import (
    ConfigError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from tests.doubles import FakeTime

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client

ZONE_ID = "Z0000000000EXAMPLE"
ZONE = "example.test"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
NLB = "web-0123456789abcdef.elb.us-east-1.amazonaws.com"


@pytest.fixture
def client() -> Route53Client:
    return boto3.client(
        "route53",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE",
        aws_secret_access_key=SECRET,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def stub(client: Route53Client) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def make_provider(client: Route53Client, fake_time: FakeTime, **options: Any) -> Route53Provider:
    return Route53Provider(
        name="r53",
        client=client,
        clock=fake_time.clock,
        limiter=TokenBucket(clock=fake_time.clock, sleep=fake_time.sleep),
        retrier=Retrier(sleep=fake_time.sleep, rand=lambda: 0.5),
        **options,
    )


def zones_page(*zones: tuple[str, str, bool]) -> dict[str, Any]:
    return {
        "HostedZones": [
            {
                "Id": f"/hostedzone/{zid}",
                "Name": f"{name}.",
                "CallerReference": zid,
                "Config": {"PrivateZone": private},
            }
            for zid, name, private in zones
        ],
        "IsTruncated": False,
        "Marker": "",
        "MaxItems": "100",
    }


def expect_zones(stub: Stubber, *zones: tuple[str, str, bool]) -> None:
    stub.add_response(
        "list_hosted_zones",
        zones_page(*(zones or ((ZONE_ID, ZONE, False),))),
        {"MaxItems": "100"},
    )


def expect_records(stub: Stubber, *record_sets: dict[str, Any], zone_id: str = ZONE_ID) -> None:
    apex = {
        "Name": f"{ZONE}.",
        "Type": "NS",
        "TTL": 172800,
        "ResourceRecords": [{"Value": "ns-1.awsdns-1.com."}],
    }
    soa = {"Name": f"{ZONE}.", "Type": "SOA", "TTL": 900, "ResourceRecords": [{"Value": "x"}]}
    stub.add_response(
        "list_resource_record_sets",
        {
            "ResourceRecordSets": [apex, soa, *record_sets],
            "IsTruncated": False,
            "MaxItems": "300",
        },
        {"HostedZoneId": zone_id, "MaxItems": "300"},
    )


def expect_change(stub: Stubber, changes: list[dict[str, Any]] | Any) -> None:
    stub.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2026-01-01"}},
        {
            "HostedZoneId": ZONE_ID,
            "ChangeBatch": {"Changes": changes} if changes is not ANY else ANY,
        },
    )


def a_record(name: str, values: list[str], ttl: int = 300) -> dict[str, Any]:
    return {
        "Name": f"{name}.",
        "Type": "A",
        "TTL": ttl,
        "ResourceRecords": [{"Value": v} for v in values],
    }


def sent(rrset: dict[str, Any]) -> dict[str, Any]:
    """A listed record set as the provider sends it back: the name without the trailing dot."""
    return {**rrset, "Name": rrset["Name"].rstrip(".")}


# --- never CREATE over an existing record set ------------------------------------------------


def test_create_of_an_existing_record_set_becomes_upsert(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub, a_record(f"www.{ZONE}", ["192.0.2.1"]))
    expect_change(
        stub,
        [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": f"www.{ZONE}",
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": "192.0.2.2"}],
                },
            }
        ],
    )
    provider = make_provider(client, fake_time)
    provider.apply(Changes(create=(Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.2"]),)))


def test_create_of_a_record_that_exactly_exists_sends_nothing(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub, a_record(f"www.{ZONE}", ["192.0.2.1"]))
    make_provider(client, fake_time).apply(
        Changes(create=(Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.1"], ttl=300),))
    )


# --- DELETE carries exactly what Route53 holds -----------------------------------------------


def test_delete_sends_the_stored_values_ttl_and_order(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stored = a_record(f"www.{ZONE}", ["192.0.2.9", "192.0.2.1"], ttl=60)
    expect_zones(stub)
    expect_records(stub, stored)
    expect_change(stub, [{"Action": "DELETE", "ResourceRecordSet": sent(stored)}])
    provider = make_provider(client, fake_time)
    # the planner's copy is out of date: other values and TTL
    provider.apply(Changes(delete=(Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.5"], ttl=300),)))
    # the cache forgot it without another call
    assert [e for e in provider.records() if e.name == f"www.{ZONE}"] == []


def test_delete_carries_fields_the_endpoint_does_not_model(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stored = {
        **a_record(f"cidr.{ZONE}", ["192.0.2.7"]),
        "SetIdentifier": "office",
        "CidrRoutingConfig": {"CollectionId": "c-1234", "LocationName": "office"},
    }
    plain = a_record(f"plain.{ZONE}", ["192.0.2.8"])
    expect_zones(stub)
    expect_records(stub, stored, plain)
    expect_change(
        stub,
        [
            {"Action": "DELETE", "ResourceRecordSet": sent(stored)},
            {"Action": "DELETE", "ResourceRecordSet": sent(plain)},
        ],
    )
    provider = make_provider(client, fake_time)
    held = {e.name: e for e in provider.records()}
    provider.apply(Changes(delete=(held[f"cidr.{ZONE}"], held[f"plain.{ZONE}"])))


def test_delete_of_a_record_route53_does_not_hold_is_not_sent(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub)
    make_provider(client, fake_time).apply(
        Changes(delete=(Endpoint.of(f"gone.{ZONE}", "A", ["192.0.2.5"]),))
    )


def test_delete_of_a_record_changed_out_of_band_is_refused_and_the_zone_relisted(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stored = a_record(f"race.{ZONE}", ["192.0.2.30"])
    expect_zones(stub)
    expect_records(stub, stored)
    stub.add_client_error(
        "change_resource_record_sets",
        service_error_code="InvalidChangeBatch",
        service_message="Tried to delete resource record set [name='race.example.test.', "
        "type='A'] but the values provided do not match the current values",
        http_status_code=400,
        expected_params={
            "HostedZoneId": ZONE_ID,
            "ChangeBatch": {"Changes": [{"Action": "DELETE", "ResourceRecordSet": sent(stored)}]},
        },
    )
    edited = a_record(f"race.{ZONE}", ["192.0.2.31"])
    expect_records(stub, edited)
    provider = make_provider(client, fake_time)
    (current,) = [e for e in provider.records() if e.name == f"race.{ZONE}"]
    with pytest.raises(PermanentProviderError) as caught:
        provider.apply(Changes(delete=(current,)))
    assert "DELETE race.example.test A" in str(caught.value)
    assert "do not match the current values" in str(caught.value)
    assert caught.value.zone == ZONE
    assert [e for e in provider.records() if e.name == f"race.{ZONE}"] == [
        endpoint_from_record_set(edited)
    ]


# --- DELETE + CREATE where UPSERT cannot --------------------------------------------------------


def test_alias_to_plain_record_is_delete_and_create_in_one_call(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    alias = {
        "Name": f"www.{ZONE}.",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z26RNL4JYFTOTI",
            "DNSName": f"{NLB}.",
            "EvaluateTargetHealth": True,
        },
    }
    plain = Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.7"], ttl=60)
    expect_zones(stub)
    expect_records(stub, alias)
    expect_change(
        stub,
        [
            {"Action": "DELETE", "ResourceRecordSet": sent(alias)},
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"www.{ZONE}",
                    "Type": "A",
                    "TTL": 60,
                    "ResourceRecords": [{"Value": "192.0.2.7"}],
                },
            },
        ],
    )
    provider = make_provider(client, fake_time)
    (current,) = [e for e in provider.records() if e.name == f"www.{ZONE}"]
    assert current.provider_specific["alias"] == "true"
    provider.apply(Changes(update=(Update(current, plain),)))
    assert [e for e in provider.records() if e.name == f"www.{ZONE}"] == [plain]


def test_plain_to_alias_record_is_delete_and_create(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stored = a_record(f"www.{ZONE}", ["192.0.2.7"])
    expect_zones(stub)
    expect_records(stub, stored)
    expect_change(
        stub,
        [
            {"Action": "DELETE", "ResourceRecordSet": sent(stored)},
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"www.{ZONE}",
                    "Type": "A",
                    "AliasTarget": {
                        "HostedZoneId": "Z26RNL4JYFTOTI",
                        "DNSName": NLB,
                        "EvaluateTargetHealth": False,
                    },
                },
            },
        ],
    )
    provider = make_provider(client, fake_time, evaluate_target_health=False)
    (current,) = [e for e in provider.records() if e.name == f"www.{ZONE}"]
    (alias_a, _aaaa) = provider.adjust_endpoints([Endpoint.of(f"www.{ZONE}", "CNAME", [NLB])])
    provider.apply(Changes(update=(Update(current, alias_a),)))


def test_type_change_is_delete_and_create_and_keeps_the_txt_in_the_same_call(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    cname = {
        "Name": f"svc.{ZONE}.",
        "Type": "CNAME",
        "TTL": 300,
        "ResourceRecords": [{"Value": "old.example.org"}],
    }
    expect_zones(stub)
    expect_records(stub, cname)
    expect_change(
        stub,
        [
            {"Action": "DELETE", "ResourceRecordSet": sent(cname)},
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"a-svc.{ZONE}",
                    "Type": "TXT",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": '"heritage=external-dns,external-dns/owner=x"'}],
                },
            },
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"svc.{ZONE}",
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": "203.0.113.5"}],
                },
            },
        ],
    )
    provider = make_provider(client, fake_time)
    (current,) = [e for e in provider.records() if e.name == f"svc.{ZONE}"]
    new = Endpoint.of(f"svc.{ZONE}", "A", ["203.0.113.5"])
    txt = Endpoint.of(f"a-svc.{ZONE}", "TXT", ['"heritage=external-dns,external-dns/owner=x"'])
    provider.apply(Changes(create=(txt,), update=(Update(current, new),)))


# --- batching -----------------------------------------------------------------------------------


def test_upserts_count_twice_against_the_value_limit(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    existing = [a_record(f"h{i:03d}.{ZONE}", ["192.0.2.1"]) for i in range(600)]
    expect_zones(stub)
    expect_records(stub, *existing)
    expect_change(stub, ANY)
    expect_change(stub, ANY)  # 600 UPSERTs of one value count 1,200: two calls
    expect_change(stub, ANY)  # 600 CREATEs of one value count 600: one call
    provider = make_provider(client, fake_time)
    provider.apply(
        Changes(
            create=tuple(Endpoint.of(f"h{i:03d}.{ZONE}", "A", ["192.0.2.2"]) for i in range(600))
        )
    )
    provider.apply(
        Changes(
            create=tuple(Endpoint.of(f"n{i:03d}.{ZONE}", "A", ["192.0.2.2"]) for i in range(600))
        )
    )


def test_packing_fills_calls_to_the_character_limit() -> None:
    def change(i: int, size: int) -> Change:
        endpoint = Endpoint.of(f"t{i}.{ZONE}", "TXT", ['"' + "x" * (size - 2) + '"'])
        return Change("CREATE", record_set_from_endpoint(endpoint), endpoint, endpoint.name)

    # 10 values of 20,000 characters and 10 of 12,000: 320,000 characters, exactly 10 calls
    groups = [[change(i, 20000)] for i in range(10)] + [[change(10 + i, 12000)] for i in range(10)]
    batches = pack(groups)
    assert len(batches) == 10
    assert all(sum(c.chars for c in b) <= 32000 for b in batches)


def test_a_txt_without_an_owned_record_label_groups_with_its_record() -> None:
    assert group_of(Endpoint.of(f"a-www.{ZONE}", "TXT", ['"x"'])) == f"www.{ZONE}"
    assert group_of(Endpoint.of(f"cname-www.{ZONE}", "TXT", ['"x"'])) == f"www.{ZONE}"
    labelled = Endpoint.of(
        f"pre-www.{ZONE}", "TXT", ['"x"'], labels={Label.OWNED_RECORD.value: f"www.{ZONE}"}
    )
    assert group_of(labelled) == f"www.{ZONE}"
    assert group_of(Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.1"])) == f"www.{ZONE}"


def test_a_refused_batch_is_bisected_and_only_the_bad_record_reported(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub)

    def refuse(message: str) -> None:
        stub.add_client_error(
            "change_resource_record_sets",
            service_error_code="InvalidChangeBatch",
            service_message=message,
            http_status_code=400,
        )

    refuse("[RRSet with DNS name d.example.test. is not permitted in zone example.test.]")
    expect_change(stub, ANY)  # a, b
    refuse("[RRSet with DNS name d.example.test. is not permitted in zone example.test.]")
    expect_change(stub, ANY)  # c
    refuse("[RRSet with DNS name d.example.test. is not permitted in zone example.test.]")
    provider = make_provider(client, fake_time)
    records = tuple(Endpoint.of(f"{n}.{ZONE}", "A", ["192.0.2.1"]) for n in "abcd")
    with pytest.raises(PermanentProviderError) as caught:
        provider.apply(Changes(create=records))
    message = str(caught.value)
    assert "CREATE d.example.test A" in message
    assert "is not permitted" in message
    assert "a.example.test" not in message
    assert "c.example.test" not in message
    # a failed write means the next read re-lists
    expect_records(stub, *(a_record(f"{n}.{ZONE}", ["192.0.2.1"]) for n in "abc"))
    # (the apex NS and SOA are not listed: they are the zone's own)
    assert {e.name for e in provider.records()} == {f"{n}.{ZONE}" for n in "abc"}


# --- throttling ---------------------------------------------------------------------------------


def test_throttled_calls_are_retried_with_jittered_backoff(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stub.add_client_error("list_hosted_zones", "Throttling", "Rate exceeded", 400)
    stub.add_client_error(
        "list_hosted_zones", "PriorRequestNotComplete", "The request was rejected", 400
    )
    stub.add_client_error("list_hosted_zones", "ServiceUnavailable", "try again", 503)
    stub.add_client_error("list_hosted_zones", "InternalError", "oops", 500)
    expect_zones(stub)
    provider = make_provider(client, fake_time)
    assert provider.zones() == (ZONE,)
    # full jitter at rand=0.5 over Backoff's ceilings 0.2, 0.4, 0.8, 1.6
    assert fake_time.sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8])


def test_throttling_that_never_ends_is_a_transient_error(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    for _ in range(3):
        stub.add_client_error("list_hosted_zones", "Throttling", "Rate exceeded", 400)
    provider = Route53Provider(
        name="r53",
        client=client,
        clock=fake_time.clock,
        limiter=TokenBucket(clock=fake_time.clock, sleep=fake_time.sleep),
        retrier=Retrier(backoff=Backoff(max_attempts=3), sleep=fake_time.sleep),
    )
    with pytest.raises(TransientProviderError, match="Throttling: Rate exceeded") as caught:
        provider.zones()
    assert caught.value.provider == "r53"


def test_every_route53_call_takes_a_token_from_the_shared_bucket(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    bucket = TokenBucket(rate=2.0, burst=1.0, clock=fake_time.clock, sleep=fake_time.sleep)
    one = Route53Provider(name="one", client=client, clock=fake_time.clock, limiter=bucket)
    two = Route53Provider(name="two", client=client, clock=fake_time.clock, limiter=bucket)
    expect_zones(stub)
    expect_zones(stub)
    expect_records(stub)
    one.zones()
    two.zones()
    two.records()
    assert fake_time.sleeps == pytest.approx([0.5, 0.5])  # 3 calls, burst 1, 2 per second


# --- errors are ours ----------------------------------------------------------------------------


def test_access_denied_is_permanent_and_not_retried(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    stub.add_client_error("list_hosted_zones", "AccessDenied", "not authorized", 403)
    with pytest.raises(PermanentProviderError, match="AccessDenied") as caught:
        make_provider(client, fake_time).zones()
    assert fake_time.sleeps == []
    assert type(caught.value) is PermanentProviderError


def test_connection_errors_are_retried_then_transient(
    client: Route53Client, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    def refuse(**_: Any) -> None:
        attempts.append(1)
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")

    client.meta.events.register("before-send.route53", refuse)
    provider = Route53Provider(
        name="r53",
        client=client,
        clock=fake_time.clock,
        limiter=TokenBucket(clock=fake_time.clock, sleep=fake_time.sleep),
        retrier=Retrier(backoff=Backoff(max_attempts=4), sleep=fake_time.sleep),
    )
    with (
        caplog.at_level(logging.DEBUG, logger="providers.route53"),
        pytest.raises(ProviderError) as caught,
    ):
        provider.zones()
    assert isinstance(caught.value, TransientProviderError)
    assert len(attempts) == 4
    ours = "\n".join(
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name == "providers.route53"
    )
    assert "route53 call throttled, retrying" in ours
    for secret in (SECRET, "AKIAEXAMPLEEXAMPLE"):
        assert secret not in ours
        assert secret not in str(caught.value)


# --- zones --------------------------------------------------------------------------------------


def test_a_public_and_a_private_zone_of_one_name_need_a_zone_type(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    both = ((ZONE_ID, ZONE, False), ("ZPRIVATE", ZONE, True))
    expect_zones(stub, *both)
    with pytest.raises(ConfigError, match=r"ZPRIVATE \(private\).*set zoneType"):
        make_provider(client, fake_time).zones()
    expect_zones(stub, *both)
    assert make_provider(client, fake_time, zone_type="private").hosted_zones()[0].id == "ZPRIVATE"


def test_an_unknown_zone_type_is_a_config_error(client: Route53Client) -> None:
    with pytest.raises(ConfigError, match="zoneType"):
        Route53Provider(name="r53", client=client, zone_type="internal")


def test_records_are_listed_at_300_per_page(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    stub.add_response(
        "list_resource_record_sets",
        {
            "ResourceRecordSets": [a_record(f"a.{ZONE}", ["192.0.2.1"])],
            "IsTruncated": True,
            "NextRecordName": f"b.{ZONE}.",
            "NextRecordType": "A",
            "MaxItems": "300",
        },
        {"HostedZoneId": ZONE_ID, "MaxItems": "300"},
    )
    stub.add_response(
        "list_resource_record_sets",
        {
            "ResourceRecordSets": [
                a_record(f"b.{ZONE}", ["192.0.2.2"]),
                {
                    "Name": f"\\052.{ZONE}.",
                    "Type": "TXT",
                    "TTL": 60,
                    "ResourceRecords": [{"Value": '"wild"'}],
                },
            ],
            "IsTruncated": False,
            "MaxItems": "300",
        },
        {
            "HostedZoneId": ZONE_ID,
            "MaxItems": "300",
            "StartRecordName": f"b.{ZONE}.",
            "StartRecordType": "A",
        },
    )
    provider = make_provider(client, fake_time, resync_period=60.0)
    names = {e.name for e in provider.records()}
    assert names == {f"a.{ZONE}", f"b.{ZONE}", f"*.{ZONE}"}
    fake_time.now += 59.0
    assert {e.name for e in provider.records()} == names  # cached: no call queued


def test_the_apex_ns_and_soa_are_not_listed_but_a_delegation_and_apex_data_are(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    # the planner reads an NS without an SOA beside it as a delegation (docs/planner.md)
    delegation = {
        "Name": f"sub.{ZONE}.",
        "Type": "NS",
        "TTL": 300,
        "ResourceRecords": [{"Value": "ns.elsewhere.test."}],
    }
    mail = {
        "Name": f"{ZONE}.",
        "Type": "MX",
        "TTL": 300,
        "ResourceRecords": [{"Value": "10 mx.example.test."}],
    }
    expect_zones(stub)
    expect_records(stub, delegation, mail, a_record(f"www.{ZONE}", ["192.0.2.1"]))
    provider = make_provider(client, fake_time)
    listed = {(e.name, e.record_type) for e in provider.records()}
    assert listed == {(f"sub.{ZONE}", "NS"), (ZONE, "MX"), (f"www.{ZONE}", "A")}
    # the cache keeps the apex NS: a second read lists the same without a call
    assert {(e.name, e.record_type) for e in provider.records()} == listed
    cached = {key for cache in provider._records.values() for key in cache.records}
    assert (ZONE, "NS", "") in cached


# --- endpoint shapes ----------------------------------------------------------------------------


def test_adjust_endpoints_shapes(client: Route53Client, fake_time: FakeTime) -> None:
    provider = make_provider(client, fake_time)
    adjusted = provider.adjust_endpoints(
        [
            Endpoint.of(f"lb.{ZONE}", "CNAME", [NLB], ttl=60),
            Endpoint.of(f"keep.{ZONE}", "CNAME", [NLB], provider_specific={"alias": "false"}),
            Endpoint.of(f"ip.{ZONE}", "A", ["192.0.2.1"]),
            Endpoint.of(f"other.{ZONE}", "CNAME", ["www.example.org"], ttl=30),
        ]
    )
    shapes = {
        (e.name.split(".")[0], e.record_type): (e.ttl, dict(e.provider_specific)) for e in adjusted
    }
    alias = {
        "alias": "true",
        "aws/evaluate-target-health": "true",
        "aws/target-hosted-zone": "Z26RNL4JYFTOTI",
    }
    assert shapes == {
        ("lb", "A"): (None, alias),
        ("lb", "AAAA"): (None, alias),
        ("keep", "CNAME"): (None, {}),  # no TTL asked for: the default applies on create only
        ("ip", "A"): (None, {}),
        ("other", "CNAME"): (30, {}),
    }


def test_default_ttl_applies_on_create(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub)
    expect_change(
        stub,
        [
            {
                "Action": "CREATE",
                "ResourceRecordSet": sent(a_record(f"new.{ZONE}", ["192.0.2.1"], 120)),
            }
        ],
    )
    provider = make_provider(client, fake_time, default_ttl=120)
    provider.apply(Changes(create=(Endpoint.of(f"new.{ZONE}", "A", ["192.0.2.1"]),)))


def test_record_sets_round_trip_through_endpoints() -> None:
    weighted = {
        "Name": f"w.{ZONE}.",
        "Type": "A",
        "SetIdentifier": "blue",
        "Weight": 10,
        "TTL": 60,
        "HealthCheckId": "hc-1",
        "ResourceRecords": [{"Value": "192.0.2.1"}],
    }
    endpoint = endpoint_from_record_set(weighted)
    assert endpoint.set_identifier == "blue"
    assert endpoint.provider_specific == FrozenMap(
        {"aws/weight": "10", "aws/health-check-id": "hc-1"}
    )
    assert record_set_from_endpoint(endpoint) == sent(weighted)
    unquoted = Endpoint.of(f"t.{ZONE}", "TXT", ['say "hi"'])
    assert record_set_from_endpoint(unquoted)["ResourceRecords"] == [{"Value": '"say \\"hi\\""'}]


def test_the_route53_modules_export_documented_names_only() -> None:
    assert sorted(route53_module.__all__) == [
        "HostedZone",
        "PAGE_SIZE",
        "Route53Provider",
        "ZoneType",
        "client_config",
    ]
    assert sorted(records_module.__all__) == [
        "ALIAS",
        "DEFAULT_TTL",
        "EVALUATE_TARGET_HEALTH",
        "ROUTING_KEYS",
        "TARGET_HOSTED_ZONE",
        "clean_zone_id",
        "endpoint_from_record_set",
        "is_alias",
        "record_set_from_endpoint",
    ]
    assert sorted(batches_module.__all__) == [
        "Change",
        "MAX_CHARS_PER_CALL",
        "MAX_VALUES_PER_CALL",
        "group_of",
        "grouped",
        "needs_replace",
        "pack",
    ]
    for module in (route53_module, records_module, batches_module):
        for name in module.__all__:
            if not name.isupper():  # functions and classes say what they are
                assert (getattr(module, name).__doc__ or "").strip(), f"{module.__name__}.{name}"


def test_one_record_set_written_twice_in_a_batch_is_sent_once(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    expect_zones(stub)
    expect_records(stub)
    expect_change(
        stub,
        [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"www.{ZONE}",
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": "192.0.2.2"}],
                },
            }
        ],
    )
    first = Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.1"])
    second = Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.2"])
    make_provider(client, fake_time).apply(Changes(create=(first, second)))


def test_client_config_turns_botocore_retries_and_validation_off() -> None:
    config = client_config()
    retries = getattr(config, "retries")  # noqa: B009 (an attribute the stubs do not type)
    assert retries == {"mode": "standard", "total_max_attempts": 1}
    assert getattr(config, "parameter_validation") is False  # noqa: B009


def elbv2_client() -> ElasticLoadBalancingv2Client:
    return boto3.client(
        "elbv2",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE",
        aws_secret_access_key=SECRET,
        config=client_config(),
    )


def test_alias_zone_falls_back_to_the_table_when_elbv2_refuses(
    client: Route53Client, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    elbv2 = elbv2_client()
    provider = make_provider(client, fake_time, elbv2_client=elbv2)
    with Stubber(elbv2) as elb_stub:
        elb_stub.add_client_error("describe_load_balancers", "AccessDenied", "no", 403)
        with caplog.at_level(logging.WARNING, logger="providers.route53"):
            assert provider.target_hosted_zone_id(NLB) == "Z26RNL4JYFTOTI"
        assert "using the canonical zone table" in caplog.text
        # a remembered miss: not asked again, a minute later or an hour of quiet passes later
        assert provider.target_hosted_zone_id(f"dualstack.{NLB}") == "Z26RNL4JYFTOTI"
        for _ in range(59):
            fake_time.now += 60.0
            assert provider.target_hosted_zone_id(NLB) == "Z26RNL4JYFTOTI"
        elb_stub.add_response(
            "describe_load_balancers",
            {
                "LoadBalancers": [
                    {"DNSName": NLB.upper(), "CanonicalHostedZoneId": "ZFROMELBV2"},
                ]
            },
        )
        fake_time.now += 60.0  # the resync period (3600 s) has passed: listed again
        assert provider.target_hosted_zone_id(f"dualstack.{NLB}") == "ZFROMELBV2"
        assert provider.target_hosted_zone_id(NLB) == "ZFROMELBV2"  # cached
        elb_stub.assert_no_pending_responses()


def test_a_load_balancer_elbv2_cannot_see_costs_one_listing_not_one_per_pass(
    client: Route53Client, fake_time: FakeTime
) -> None:
    elbv2 = elbv2_client()
    provider = make_provider(client, fake_time, elbv2_client=elbv2)
    other = NLB.replace("us-east-1", "eu-west-1")  # another region: ELBv2 here never lists it
    mine = {"DNSName": NLB, "CanonicalHostedZoneId": "ZFROMELBV2"}
    with Stubber(elbv2) as elb_stub:
        elb_stub.add_response("describe_load_balancers", {"LoadBalancers": [mine]})
        assert provider.target_hosted_zone_id(NLB) == "ZFROMELBV2"
        fake_time.now += 60.0
        elb_stub.add_response("describe_load_balancers", {"LoadBalancers": [mine]})
        assert provider.target_hosted_zone_id(other) == "Z2IFOLAFXWLO4F"  # one new listing
        for _ in range(30):  # quiet passes a minute apart: no call at all
            fake_time.now += 60.0
            assert provider.target_hosted_zone_id(other) == "Z2IFOLAFXWLO4F"
            assert provider.target_hosted_zone_id(NLB) == "ZFROMELBV2"
        elb_stub.assert_no_pending_responses()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(1, 40), st.integers(1, 3000)), min_size=1, max_size=3),
        min_size=1,
        max_size=60,
    )
)
def test_packing_keeps_groups_whole_and_calls_within_limits(
    shapes: list[list[tuple[int, int]]],
) -> None:
    groups: list[list[Change]] = []
    for g, members in enumerate(shapes):
        group: list[Change] = []
        for m, (count, length) in enumerate(members):
            width = max(1, length // count)
            endpoint = Endpoint.of(
                f"m{m}.g{g}.{ZONE}", "TXT", [f'"{i:04d}{"x" * width}"' for i in range(count)]
            )
            group.append(
                Change("CREATE", record_set_from_endpoint(endpoint), endpoint, f"g{g}.{ZONE}")
            )
        groups.append(group)
    batches = pack(groups)
    assert sorted(c.endpoint.name for b in batches for c in b) == sorted(
        c.endpoint.name for g in groups for c in g
    )
    for batch in batches:
        assert sum(c.values for c in batch) <= 1000
        assert sum(c.chars for c in batch) <= 32000
    home = {c.group: i for i, b in enumerate(batches) for c in b}
    assert all(c.group in home and c in batches[home[c.group]] for g in groups for c in g)
    total_values = sum(c.values for g in groups for c in g)
    total_chars = sum(c.chars for g in groups for c in g)
    assert len(batches) >= max(math.ceil(total_values / 1000), math.ceil(total_chars / 32000))
    # first-fit: any two consecutive calls together are over one limit's worth
    assert len(batches) <= 2 * (total_values / 1000 + total_chars / 32000) + 1


@pytest.mark.parametrize(
    ("endpoint", "reproduced"),
    [
        (Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.1", "192.0.2.2"], ttl=60), True),
        (Endpoint.of(f"*.{ZONE}", "A", ["192.0.2.1"], ttl=300), True),
        (
            Endpoint.of(f"a-www.{ZONE}", "TXT", ['"heritage=external-dns,external-dns/owner=x"']),
            True,
        ),
        (Endpoint.of(f"raw.{ZONE}", "TXT", ["unquoted text"], ttl=300), False),
        (Endpoint.of(f"v6.{ZONE}", "AAAA", ["2001:db8::1"], ttl=300), False),
        (
            Endpoint.of(
                f"w.{ZONE}",
                "A",
                ["192.0.2.1"],
                ttl=300,
                set_identifier="eu",
                provider_specific={"aws/weight": "10"},
            ),
            False,
        ),
        (Endpoint(f"www.{ZONE}", "A", ("192.0.2.2", "192.0.2.1"), 300), False),  # not normalised
        (Endpoint(f"WWW.{ZONE}", "A", ("192.0.2.1",), 300), False),
    ],
    ids=["a", "wildcard", "txt", "raw-txt", "aaaa", "weighted", "unsorted", "upper-case"],
)
def test_a_written_record_is_remembered_as_route53_reads_it_back(
    endpoint: Endpoint, reproduced: bool
) -> None:
    record_set = record_set_from_endpoint(endpoint)
    stored, reproduces = route53_module._as_stored(endpoint, record_set)
    assert stored == endpoint_from_record_set(record_set)
    # the cache keeps such an endpoint without its record set: it must render to it exactly
    assert reproduces == reproduced
    if reproduces:
        assert record_set_from_endpoint(stored) == record_set


def test_an_elbv2_client_given_as_a_function_is_made_when_an_alias_first_needs_it(
    client: Route53Client, fake_time: FakeTime
) -> None:
    elbv2 = elbv2_client()
    made: list[str] = []

    def make() -> Any:
        made.append("elbv2")
        return elbv2

    provider = make_provider(client, fake_time, elbv2_client=make)
    # a name that is no AWS load balancer needs no client
    assert provider.target_hosted_zone_id("lb.example.test") is None
    assert made == []
    with Stubber(elbv2) as elb_stub:
        elb_stub.add_response(
            "describe_load_balancers",
            {"LoadBalancers": [{"DNSName": NLB, "CanonicalHostedZoneId": "ZFROMELBV2"}]},
        )
        assert provider.target_hosted_zone_id(NLB) == "ZFROMELBV2"
        fake_time.now += 3600.0  # the resync period: listed again, with the same client
        elb_stub.add_response("describe_load_balancers", {"LoadBalancers": []})
        assert provider.target_hosted_zone_id(NLB) == "Z26RNL4JYFTOTI"
        elb_stub.assert_no_pending_responses()
    assert made == ["elbv2"]


def test_the_cache_finds_every_record_set_at_a_name_as_they_come_and_go() -> None:
    from providers.route53 import _ZoneCache  # noqa: PLC0415 (the cache's own bookkeeping)

    def weighted(ident: str) -> Endpoint:
        return Endpoint.of(
            f"www.{ZONE}",
            "A",
            ["192.0.2.1"],
            ttl=60,
            set_identifier=ident,
            provider_specific={"aws/weight": "10"},
        )

    plain = Endpoint.of(f"www.{ZONE}", "TXT", ['"v"'], ttl=300)
    cache = _ZoneCache(records={}, listed_at=0.0)
    sets = [plain, weighted("a"), weighted("b")]
    for endpoint in sets:
        cache.put(endpoint, record_set_from_endpoint(endpoint))
    assert set(cache.keys_at(f"www.{ZONE}")) == {e.key for e in sets}
    assert cache.keys_at(f"other.{ZONE}") == ()
    cache.drop(weighted("a").key)
    cache.drop(weighted("b").key)
    assert cache.keys_at(f"www.{ZONE}") == (plain.key,)
    cache.put(plain, record_set_from_endpoint(plain))  # written again: still one key
    assert cache.keys_at(f"www.{ZONE}") == (plain.key,)
    cache.drop(plain.key)
    assert cache.keys_at(f"www.{ZONE}") == ()
    assert cache.names == {}
    assert cache.records == {}
    # a cache filled from a listing indexes what it holds
    listed = _ZoneCache(records={e.key: e for e in sets}, listed_at=0.0)
    assert set(listed.keys_at(f"www.{ZONE}")) == {e.key for e in sets}


def test_zones_are_listed_planned_and_written_one_after_another_in_zone_id_order(
    client: Route53Client, stub: Stubber, fake_time: FakeTime
) -> None:
    other_id, other = "Z0000000000AAAAAAAAA", "other.test"  # sorts before ZONE_ID
    expect_zones(stub, (ZONE_ID, ZONE, False), (other_id, other, False))
    created = {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2026"}}
    for zone_id, zone in ((other_id, other), (ZONE_ID, ZONE)):
        # each zone's records are read just before its own changes are written
        stub.add_response(
            "list_resource_record_sets",
            {"ResourceRecordSets": [], "IsTruncated": False, "MaxItems": "300"},
            {"HostedZoneId": zone_id, "MaxItems": "300"},
        )
        stub.add_response(
            "change_resource_record_sets",
            created,
            {
                "HostedZoneId": zone_id,
                "ChangeBatch": {
                    "Changes": [
                        {
                            "Action": "CREATE",
                            "ResourceRecordSet": sent(a_record(f"www.{zone}", ["192.0.2.1"])),
                        }
                    ]
                },
            },
        )
    changes = Changes(
        create=(
            Endpoint.of(f"www.{ZONE}", "A", ["192.0.2.1"]),
            Endpoint.of("www.nowhere.test", "A", ["192.0.2.1"]),  # in no zone: skipped
            Endpoint.of(f"www.{other}", "A", ["192.0.2.1"]),
        )
    )
    provider = make_provider(client, fake_time)
    provider.apply(changes)
    stub.assert_no_pending_responses()
    assert {e.name for e in provider.records()} == {f"www.{ZONE}", f"www.{other}"}
