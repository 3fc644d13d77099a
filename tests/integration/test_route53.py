"""The Route53 provider on moto's server: zones, ALIAS, API call counts, batching, takeover."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from e2e.servers.moto import MotoServer
from providers.route53 import Route53Provider
from providers.route53_batches import MAX_CHARS_PER_CALL, MAX_VALUES_PER_CALL
from providers.route53_records import endpoint_from_record_set
from reconciler.dns.plan import calculate
from reconciler.dns.registry import TxtRegistry
from reconciler.model.endpoint import Changes, Endpoint, FrozenMap, Label, Update
from reconciler.model.errors import ConfigError, PermanentProviderError
from tests.integration.test_route53_contract import Route53Harness

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client

pytestmark = pytest.mark.integration

OWNER = "default"
OWNERSHIP = (
    '"heritage=external-dns,external-dns/owner=default,external-dns/resource=ingress/shop/web"'
)
NLB_NOT_IN_ACCOUNT = "web-0123456789abcdef.elb.us-east-1.amazonaws.com"


class CallCounter:
    """Counts Route53 API calls made by one client, with botocore's event hooks."""

    def __init__(self, client: Route53Client) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.route53", self._seen)

    def _seen(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # a copy: later handlers may move parameters (providers.route53_xml takes the body out)
        self.calls.append((str(model.name), dict(params)))

    def count(self) -> Counter[str]:
        """Calls per operation so far."""
        return Counter(name for name, _ in self.calls)

    def reset(self) -> None:
        """Forget the calls so far."""
        self.calls.clear()

    def change_batches(self) -> list[list[dict[str, Any]]]:
        """The change lists of every ChangeResourceRecordSets call, in order."""
        return [
            list(p["ChangeBatch"]["Changes"])
            for name, p in self.calls
            if name == "ChangeResourceRecordSets"
        ]


@pytest.fixture
def counter(route53_client: Route53Client) -> CallCounter:
    """A call counter on the test's Route53 client."""
    return CallCounter(route53_client)


def private_zone(client: Route53Client, ec2: EC2Client, name: str) -> str:
    """Create a private hosted zone (with a fresh VPC) and return its id."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    created = client.create_hosted_zone(
        Name=name,
        CallerReference=f"private-{name}-{vpc}",
        HostedZoneConfig={"Comment": "private", "PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": vpc},
    )
    return created["HostedZone"]["Id"].removeprefix("/hostedzone/")


def public_zone(client: Route53Client, name: str) -> str:
    created = client.create_hosted_zone(Name=name, CallerReference=f"public-{name}")
    return created["HostedZone"]["Id"].removeprefix("/hostedzone/")


def names_in(client: Route53Client, zone_id: str) -> set[tuple[str, str]]:
    """(name, type) of every record set of a zone but SOA and NS."""
    page = client.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="300")
    return {
        (r["Name"].rstrip("."), r["Type"])
        for r in page["ResourceRecordSets"]
        if r["Type"] not in ("SOA", "NS")
    }


# --- zones: one name, one zone ----------------------------------------------------------------


def test_public_and_private_zones_of_one_name_are_never_both_written(
    route53_client: Route53Client, ec2_client: EC2Client
) -> None:
    public = public_zone(route53_client, "example.test")
    private = private_zone(route53_client, ec2_client, "example.test")
    corp = private_zone(route53_client, ec2_client, "corp.example.test")
    other = public_zone(route53_client, "other.test")

    with pytest.raises(ConfigError, match="zoneType"):
        Route53Provider(name="any", client=route53_client).zones()

    public_provider = Route53Provider(name="public", client=route53_client, zone_type="public")
    assert public_provider.zones() == ("example.test", "other.test")
    public_provider.apply(Changes(create=(Endpoint.of("www.example.test", "A", ["192.0.2.1"]),)))

    private_provider = Route53Provider(name="private", client=route53_client, zone_type="private")
    assert private_provider.zones() == ("corp.example.test", "example.test")
    private_provider.apply(
        Changes(
            create=(
                Endpoint.of("app.corp.example.test", "A", ["10.0.0.1"]),
                Endpoint.of("db.example.test", "A", ["10.0.0.2"]),
            )
        )
    )

    assert names_in(route53_client, public) == {("www.example.test", "A")}
    assert names_in(route53_client, private) == {("db.example.test", "A")}
    # the longest private zone only: not fanned out into example.test (external-dns #973, #4241)
    assert names_in(route53_client, corp) == {("app.corp.example.test", "A")}
    assert names_in(route53_client, other) == set()


def test_zone_ids_and_domain_filter_select_zones(
    route53_client: Route53Client, ec2_client: EC2Client
) -> None:
    public_zone(route53_client, "example.test")
    private = private_zone(route53_client, ec2_client, "example.test")
    public_zone(route53_client, "other.test")

    pinned = Route53Provider(
        name="pinned", client=route53_client, zone_ids=[f"/hostedzone/{private}"]
    )
    assert [(z.id, z.private) for z in pinned.hosted_zones()] == [(private, True)]

    filtered = Route53Provider(
        name="filtered", client=route53_client, zone_type="public", domain_filter=["other.test"]
    )
    assert filtered.zones() == ("other.test",)

    with pytest.raises(ConfigError, match="ZNOSUCHZONE"):
        Route53Provider(name="missing", client=route53_client, zone_ids=["ZNOSUCHZONE"]).zones()


def test_zones_are_cached_until_the_refresh_period(
    route53_client: Route53Client, counter: CallCounter
) -> None:
    public_zone(route53_client, "example.test")
    now = [0.0]
    provider = Route53Provider(
        name="r53", client=route53_client, clock=lambda: now[0], zone_refresh_period=600.0
    )
    counter.reset()
    assert provider.zones() == ("example.test",)
    public_zone(route53_client, "other.test")
    now[0] = 599.0
    assert provider.zones() == ("example.test",)
    assert counter.count()["ListHostedZones"] == 1
    now[0] = 600.0
    assert provider.zones() == ("example.test", "other.test")
    assert counter.count()["ListHostedZones"] == 2


# --- ALIAS records ----------------------------------------------------------------------------


def network_load_balancer(ec2: EC2Client, elbv2: ElasticLoadBalancingv2Client) -> tuple[str, str]:
    """Create an internet-facing NLB in moto; return its DNS name and canonical hosted zone id."""
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    lb = elbv2.create_load_balancer(
        Name="public-fleet", Subnets=subnets, Type="network", Scheme="internet-facing"
    )["LoadBalancers"][0]
    return lb["DNSName"], lb["CanonicalHostedZoneId"]


def test_alias_target_zone_from_elbv2_else_from_the_table(
    route53_client: Route53Client,
    ec2_client: EC2Client,
    elbv2_client: ElasticLoadBalancingv2Client,
) -> None:
    h = Route53Harness(route53_client)
    dns_name, moto_zone_id = network_load_balancer(ec2_client, elbv2_client)
    assert moto_zone_id == "Z2P70J7EXAMPLE"  # moto's placeholder: proves the ELBv2 path
    provider = h.route53(elbv2_client=elbv2_client, evaluate_target_health=False)
    desired = [
        Endpoint.of(f"www.{h.zone}", "CNAME", [dns_name]),
        Endpoint.of(f"nlb.{h.zone}", "CNAME", [NLB_NOT_IN_ACCOUNT]),
        Endpoint.of(f"alb.{h.zone}", "CNAME", ["k8s-web-0abc.eu-west-1.elb.amazonaws.com"]),
        Endpoint.of(f"plain.{h.zone}", "CNAME", ["ingress.example.org"]),
        Endpoint.of(
            f"keep.{h.zone}", "CNAME", [NLB_NOT_IN_ACCOUNT], provider_specific={"alias": "false"}
        ),
    ]
    adjusted = provider.adjust_endpoints(desired)
    shape = {
        (e.name.split(".")[0], e.record_type): e.provider_specific.get("aws/target-hosted-zone")
        for e in adjusted
    }
    assert shape == {
        ("www", "A"): "Z2P70J7EXAMPLE",
        ("www", "AAAA"): "Z2P70J7EXAMPLE",
        ("nlb", "A"): "Z26RNL4JYFTOTI",  # NLB, us-east-1, from the published table
        ("nlb", "AAAA"): "Z26RNL4JYFTOTI",
        ("alb", "A"): "Z32O12XQLNTSW2",  # ALB/CLB, eu-west-1
        ("alb", "AAAA"): "Z32O12XQLNTSW2",
        ("plain", "CNAME"): None,
        ("keep", "CNAME"): None,
    }
    assert all(
        e.provider_specific.get("aws/evaluate-target-health") == "false"
        for e in adjusted
        if e.record_type != "CNAME"
    )

    provider.apply(Changes(create=tuple(adjusted)))
    raw = {(r["Name"].rstrip("."), r["Type"]): r for r in h.raw()}
    www = raw[(f"www.{h.zone}", "A")]
    assert www["AliasTarget"]["HostedZoneId"] == "Z2P70J7EXAMPLE"
    assert www["AliasTarget"]["DNSName"].rstrip(".") == dns_name.lower()
    assert www["AliasTarget"]["EvaluateTargetHealth"] is False
    assert "TTL" not in www
    assert raw[(f"plain.{h.zone}", "CNAME")]["TTL"] == 300
    # what a fresh provider reads back is exactly what adjust_endpoints asked for
    fresh = h.route53(elbv2_client=elbv2_client, evaluate_target_health=False)
    assert sorted(e.key for e in fresh.records()) == sorted(e.key for e in adjusted)
    current = {e.key: e for e in fresh.records()}
    # a record created without a TTL holds the default one
    assert all(
        current[e.key]
        == (e if e.ttl is not None or e.record_type != "CNAME" else replace(e, ttl=300))
        for e in adjusted
    )

    # without an ELBv2 client (or when the LB is not ours to see) the table decides
    tabled = h.route53().adjust_endpoints([Endpoint.of(f"www.{h.zone}", "CNAME", [dns_name])])
    assert {e.provider_specific["aws/target-hosted-zone"] for e in tabled} == {"Z35SXDOTRQ7X7K"}


def test_alias_and_plain_records_swap_with_delete_and_create(route53_client: Route53Client) -> None:
    h = Route53Harness(route53_client)
    provider = h.route53()
    (alias_a, alias_aaaa) = provider.adjust_endpoints(
        [Endpoint.of(f"svc.{h.zone}", "CNAME", [NLB_NOT_IN_ACCOUNT])]
    )
    provider.apply(Changes(create=(alias_a, alias_aaaa)))
    plain = Endpoint.of(f"svc.{h.zone}", "A", ["192.0.2.9"], ttl=60)
    provider.apply(Changes(update=(Update(alias_a, plain),), delete=(alias_aaaa,)))
    assert h.read() == [plain]
    assert h.route53().records() == provider.records()
    # back to an alias (a new one: moto refuses a CREATE identical to one in its change journal
    # while the record set still exists, even after a DELETE earlier in the same batch)
    back = replace(
        alias_a,
        provider_specific=alias_a.provider_specific.with_item(
            "aws/evaluate-target-health", "false"
        ),
    )
    provider.apply(Changes(update=(Update(plain, back),)))
    assert h.read() == [back]
    assert h.route53().records() == provider.records()


# --- API calls --------------------------------------------------------------------------------


def test_a_quiet_pass_makes_no_route53_call(
    route53_client: Route53Client, moto: MotoServer, counter: CallCounter
) -> None:
    h = Route53Harness(route53_client)
    h.seed([Endpoint.of(f"seeded.{h.zone}", "A", ["192.0.2.1"])])
    provider = h.route53()
    desired = provider.adjust_endpoints([Endpoint.of(f"www.{h.zone}", "A", ["192.0.2.2"], ttl=300)])
    counter.reset()
    moto.reset_calls()
    provider.zones()
    provider.records()
    provider.apply(Changes(create=tuple(desired)))
    assert counter.count() == Counter(
        {"ListHostedZones": 1, "ListResourceRecordSets": 1, "ChangeResourceRecordSets": 1}
    )
    assert moto.call_counts("route53") == counter.count()  # the server saw the same calls

    counter.reset()
    moto.reset_calls()
    for _ in range(3):  # quiet passes: read, adjust, plan nothing, apply nothing
        provider.zones()
        current = provider.records()
        assert [e for e in current if e.name == f"www.{h.zone}"] == list(desired)
        provider.adjust_endpoints(desired)
        provider.apply(Changes())
    # an update whose record Route53 already holds is dropped before any call
    provider.apply(Changes(update=(Update(desired[0], desired[0]),)))
    assert counter.count() == Counter()
    assert moto.call_counts("route53") == Counter()


@pytest.mark.parametrize(
    ("ownership", "bound", "minimum"),
    [
        (OWNERSHIP, "characters", 9),  # ~100-character TXT values: 32,000 characters bind
        ('"o"', "values", 5),  # tiny TXT values: 1,000 values per call bind
    ],
)
def test_2500_records_are_written_in_the_fewest_calls(
    route53_client: Route53Client, counter: CallCounter, ownership: str, bound: str, minimum: int
) -> None:
    h = Route53Harness(route53_client)
    provider = h.route53()
    records = [
        Endpoint.of(f"host-{i:04d}.{h.zone}", "A", [f"10.{i // 250}.{i % 250}.{1 + i % 7}"])
        for i in range(2500)
    ]
    txts = [
        Endpoint.of(
            f"a-{r.name}",
            "TXT",
            [ownership.replace("ingress/shop/web", f"ingress/shop/web-{i}")],
            labels={Label.OWNED_RECORD.value: r.name},
        )
        for i, r in enumerate(records)
    ]
    provider.records()
    counter.reset()
    provider.apply(Changes(create=(*records, *txts)))

    values = len(records) + len(txts)
    chars = sum(len(t) for e in (*records, *txts) for t in e.targets)
    by_values = math.ceil(values / MAX_VALUES_PER_CALL)
    by_chars = math.ceil(chars / MAX_CHARS_PER_CALL)
    assert max(by_values, by_chars) == minimum
    assert (by_chars > by_values) == (bound == "characters")
    batches = counter.change_batches()
    assert len(batches) == minimum
    assert counter.count() == Counter({"ChangeResourceRecordSets": minimum})
    for batch in batches:
        assert sum(len(c["ResourceRecordSet"]["ResourceRecords"]) for c in batch) <= 1000
        assert (
            sum(len(v["Value"]) for c in batch for v in c["ResourceRecordSet"]["ResourceRecords"])
            <= 32000
        )
        names = {c["ResourceRecordSet"]["Name"] for c in batch}
        # every record travels with its TXT ownership record
        assert {n for n in names if not n.startswith("a-")} == {
            n.removeprefix("a-") for n in names if n.startswith("a-")
        }
        assert all(c["Action"] == "CREATE" for c in batch)

    assert len(h.read()) == 5000
    counter.reset()
    assert len(provider.records()) == 5000  # from the write-through cache (apex NS not listed)
    assert counter.count() == Counter()


# --- rejected batches -------------------------------------------------------------------------


def test_one_rejected_record_does_not_block_the_others(
    route53_client: Route53Client, counter: CallCounter
) -> None:
    h = Route53Harness(route53_client)
    # Written with capitals out of band: moto then refuses a DELETE that spells the name in
    # lower case (Route53 would accept it); a handy way to make exactly one change fail.
    route53_client.change_resource_record_sets(
        HostedZoneId=h.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"Bad.{h.zone}",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "192.0.2.66"}],
                    },
                }
            ]
        },
    )
    provider = h.route53()
    (bad,) = [e for e in provider.records() if e.name == f"bad.{h.zone}"]
    good = tuple(Endpoint.of(f"good-{i}.{h.zone}", "A", [f"192.0.2.{i + 1}"]) for i in range(20))
    counter.reset()
    with pytest.raises(PermanentProviderError) as caught:
        provider.apply(Changes(create=good, delete=(bad,)))
    message = str(caught.value)
    assert f"DELETE bad.{h.zone} A" in message
    assert "InvalidInput" in message
    assert "good-" not in message
    assert {e.name for e in h.read()} >= {e.name for e in good}
    calls = counter.count()["ChangeResourceRecordSets"]
    assert 2 < calls <= 2 * math.ceil(math.log2(21)) + 1  # bisected, not one call per record

    counter.reset()
    provider.records()  # a failed write makes the next read re-list the zone
    assert counter.count() == Counter({"ListResourceRecordSets": 1})


# --- takeover of an external-dns zone ---------------------------------------------------------


def test_takeover_of_an_external_dns_zone_changes_nothing(
    route53_client: Route53Client, counter: CallCounter
) -> None:
    h = Route53Harness(route53_client)
    zone = h.zone
    alias = {
        "alias": "true",
        "aws/evaluate-target-health": "true",
        "aws/target-hosted-zone": "Z26RNL4JYFTOTI",
    }
    written_by_external_dns = [
        Endpoint(f"www.{zone}", "A", (NLB_NOT_IN_ACCOUNT,), provider_specific=FrozenMap(alias)),
        Endpoint(f"www.{zone}", "AAAA", (NLB_NOT_IN_ACCOUNT,), provider_specific=FrozenMap(alias)),
        Endpoint.of(f"a-www.{zone}", "TXT", [OWNERSHIP]),
        Endpoint.of(f"aaaa-www.{zone}", "TXT", [OWNERSHIP]),
        Endpoint.of(f"api.{zone}", "A", ["192.0.2.5"]),
        Endpoint.of(f"a-api.{zone}", "TXT", [OWNERSHIP]),
        Endpoint.of(f"foreign.{zone}", "A", ["198.51.100.1"]),
    ]
    h.seed(written_by_external_dns)
    before = h.raw()

    provider = h.route53()
    registry = TxtRegistry(provider=provider, owner_id=OWNER)
    resource = {Label.RESOURCE.value: "ingress/shop/web"}
    desired = provider.adjust_endpoints(
        [
            Endpoint.of(f"www.{zone}", "CNAME", [NLB_NOT_IN_ACCOUNT], labels=resource),
            Endpoint.of(f"api.{zone}", "A", ["192.0.2.5"], labels=resource),
        ]
    )
    plan = calculate(current=registry.records(), desired=desired, owner_id=OWNER)
    assert plan.changes.is_empty(), plan.changes
    counter.reset()
    registry.apply(plan.changes)
    assert counter.count() == Counter()

    # now move api: one call, its TXT beside it, the foreign record untouched
    moved = provider.adjust_endpoints(
        [Endpoint.of(f"api.{zone}", "A", ["192.0.2.6"], labels=resource)]
    )
    plan = calculate(current=registry.records(), desired=[*desired[:2], *moved], owner_id=OWNER)
    assert len(plan.changes.update) == 1
    registry.apply(plan.changes)
    assert counter.count() == Counter({"ChangeResourceRecordSets": 1})
    after = {(r["Name"], r["Type"]): r for r in h.raw()}
    assert after[(f"api.{zone}.", "A")]["ResourceRecords"] == [{"Value": "192.0.2.6"}]
    untouched = {(r["Name"], r["Type"]): r for r in before}
    for key in [(f"foreign.{zone}.", "A"), (f"www.{zone}.", "A"), (f"a-www.{zone}.", "TXT")]:
        assert after[key] == untouched[key]
    assert endpoint_from_record_set(after[(f"a-api.{zone}.", "TXT")]).targets == (OWNERSHIP,)


def test_an_ingress_at_the_zone_apex_becomes_an_alias_with_its_txt_inside_the_zone(
    route53_client: Route53Client, counter: CallCounter
) -> None:
    h = Route53Harness(route53_client)
    zone = h.zone
    # an apex as people have it: NS and SOA from Route53, plus mail and SPF
    h.seed(
        [
            Endpoint.of(zone, "MX", ["10 mx.example.org"]),
            Endpoint.of(zone, "TXT", ['"v=spf1 -all"']),
        ]
    )
    before = {(r["Name"], r["Type"]): r for r in h.raw()}
    assert (f"{zone}.", "NS") in before
    provider = h.route53()
    registry = TxtRegistry(provider=provider, owner_id=OWNER)
    resource = {Label.RESOURCE.value: "ingress/shop/web"}
    desired = provider.adjust_endpoints(
        [Endpoint.of(zone, "CNAME", [NLB_NOT_IN_ACCOUNT], labels=resource)]
    )
    plan = calculate(current=registry.records(), desired=desired, owner_id=OWNER)
    assert plan.conflicts == ()
    assert sorted((e.name, e.record_type) for e in plan.changes.create) == [
        (zone, "A"),
        (zone, "AAAA"),
    ]
    registry.apply(plan.changes)

    after = {(r["Name"], r["Type"]): r for r in h.raw()}
    apex_a = after[(f"{zone}.", "A")]
    assert apex_a["AliasTarget"]["DNSName"].rstrip(".") == NLB_NOT_IN_ACCOUNT
    assert apex_a["AliasTarget"]["HostedZoneId"] == "Z26RNL4JYFTOTI"
    assert "AliasTarget" in after[(f"{zone}.", "AAAA")]
    # the ownership TXTs sit inside the zone (a-_apex), never at a-example.test beside it
    for rtype in ("a", "aaaa"):
        txt = after[(f"{rtype}-_apex.{zone}.", "TXT")]
        assert endpoint_from_record_set(txt).targets == (OWNERSHIP,)
    assert not any(name.startswith(f"a-{zone}") for name, _ in after)
    for key in [(f"{zone}.", "NS"), (f"{zone}.", "MX"), (f"{zone}.", "TXT")]:
        assert after[key] == before[key]

    # read back by a fresh registry, the apex records are ours and the next pass is quiet
    fresh = TxtRegistry(provider=h.route53(), owner_id=OWNER)
    current = fresh.records()
    apex = {e.record_type: e for e in current if e.name == zone}
    assert apex["A"].owner == OWNER
    assert apex["AAAA"].owner == OWNER
    assert "NS" not in apex
    again = calculate(current=current, desired=desired, owner_id=OWNER)
    assert again.changes.is_empty(), again.changes
    assert again.conflicts == ()
    counter.reset()
    fresh.apply(again.changes)
    assert counter.count() == Counter()


def test_data_not_ours_at_ownership_names_refuses_only_its_records(
    route53_client: Route53Client, counter: CallCounter
) -> None:
    h = Route53Harness(route53_client)
    zone = h.zone
    verification = '"google-site-verification=abc123"'
    spf = '"v=spf1 -all"'
    seeded = [
        Endpoint.of(f"a-squat.{zone}", "TXT", [verification]),
        # one TXT record set: an SPF string beside an external-dns old-format ownership value
        Endpoint.of(f"mail.{zone}", "TXT", [spf, OWNERSHIP]),
    ]
    h.seed(seeded)
    before = {(r["Name"], r["Type"]): r for r in h.raw()}
    provider = h.route53()
    registry = TxtRegistry(provider=provider, owner_id=OWNER)
    resource = {Label.RESOURCE.value: "ingress/shop/web"}
    desired = provider.adjust_endpoints(
        [
            Endpoint.of(f"squat.{zone}", "A", ["192.0.2.1"], labels=resource),
            Endpoint.of(f"mail.{zone}", "CNAME", ["ingress.example.org"], labels=resource),
            Endpoint.of(f"ok.{zone}", "A", ["192.0.2.2"], labels=resource),
        ]
    )
    plan = calculate(current=registry.records(), desired=desired, owner_id=OWNER)
    assert sorted((c.name, c.record_type, c.reason.name) for c in plan.conflicts) == [
        (f"mail.{zone}", "CNAME", "TYPE_CLASH"),  # Route53 refuses a CNAME beside the TXT
        (f"squat.{zone}", "A", "CLAIM_BLOCKED"),
    ]
    counter.reset()
    registry.apply(plan.changes)
    assert counter.count() == Counter({"ChangeResourceRecordSets": 1})
    after = {(r["Name"], r["Type"]): r for r in h.raw()}
    assert after[(f"ok.{zone}.", "A")]["ResourceRecords"] == [{"Value": "192.0.2.2"}]
    assert endpoint_from_record_set(after[(f"a-ok.{zone}.", "TXT")]).targets == (OWNERSHIP,)
    assert (f"mail.{zone}.", "CNAME") not in after
    assert (f"squat.{zone}.", "A") not in after
    for key in [(f"a-squat.{zone}.", "TXT"), (f"mail.{zone}.", "TXT")]:
        assert after[key] == before[key]
    again = calculate(current=registry.records(), desired=desired, owner_id=OWNER)
    assert again.changes.is_empty(), again.changes
    assert again.conflicts == plan.conflicts


def test_the_server_counts_calls_of_every_protocol(
    moto: MotoServer,
    route53_client: Route53Client,
    ec2_client: EC2Client,
    elbv2_client: ElasticLoadBalancingv2Client,
) -> None:
    """The benchmarks count calls on moto's side, the same way for us and for external-dns."""
    moto.reset_calls()
    route53_client.list_hosted_zones()
    ec2_client.describe_vpcs()
    elbv2_client.describe_load_balancers()
    elbv2_client.describe_load_balancers()
    assert moto.call_counts("route53") == Counter({"ListHostedZones": 1})
    assert moto.call_counts("ec2") == Counter({"DescribeVpcs": 1})
    assert moto.call_counts("elasticloadbalancing") == Counter({"DescribeLoadBalancers": 2})
    moto.reset_calls()
    assert moto.call_counts() == Counter()


def test_wildcard_records_round_trip(route53_client: Route53Client) -> None:
    h = Route53Harness(route53_client)
    provider = h.route53()
    wildcard = Endpoint.of(f"*.apps.{h.zone}", "A", ["192.0.2.80"], ttl=300)
    (adjusted,) = provider.adjust_endpoints([wildcard])
    provider.apply(Changes(create=(adjusted,)))
    assert h.read() == [adjusted]
    assert h.route53().records() == provider.records()
    provider.apply(Changes(delete=(adjusted,)))
    assert h.read() == []
