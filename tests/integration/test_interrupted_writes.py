"""Writes cut off at every message (RFC2136) or change batch (Route53) boundary.

One pass deletes, updates and creates records in several messages or batches. The write is cut
after each possible number of sent messages (the server gone: a connection error from then on).
After every cut the zone holds no record of ours without its ownership TXT, the foreign and
pre-existing records are as they were, and the next pass converges (a pass after it plans
nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import boto3
import dns.message
import pytest
from botocore.exceptions import EndpointConnectionError

from e2e.servers.bind import BindServer, ZoneRecord
from e2e.servers.moto import MotoServer
from providers import route53_batches
from providers.dns_wire import UpdateRequest
from providers.rfc2136 import DnspythonTransport, Rfc2136Provider
from providers.route53 import Route53Provider
from reconciler.dns.plan import DomainFilter, Policy
from reconciler.dns.provider import Provider
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import sync_dns
from reconciler.dns.txt_format import parse_ownership
from reconciler.model.endpoint import Endpoint, Label
from tests.fixtures.moto import aws_client_kwargs

pytestmark = pytest.mark.integration

OWNER = "cut-test"
ZONE = "example.test"
FOREIGN = Endpoint.of(f"foreign.{ZONE}", "A", ["192.0.2.200"], ttl=300)


def _desired(names: Sequence[str], address: str) -> list[Endpoint]:
    return [
        Endpoint.of(f"{name}.{ZONE}", "A", [address], ttl=300).with_labels(
            {Label.RESOURCE.value: f"ingress/cut/{name}"}
        )
        for name in names
    ]


BEFORE = _desired([f"old{i}" for i in range(10)] + [f"keep{i}" for i in range(10)], "192.0.2.1")
AFTER = _desired([f"keep{i}" for i in range(10)], "192.0.2.2") + _desired(
    [f"new{i}" for i in range(30)], "192.0.2.3"
)


def _pass(provider: Provider, desired: Sequence[Endpoint]) -> Any:
    registry = TxtRegistry(provider=provider, owner_id=OWNER)
    return sync_dns(
        desired=desired,
        targets=[registry],
        owner_id=OWNER,
        policy=Policy.SYNC,
        managed_types=frozenset({"A", "AAAA", "CNAME"}),
        domain_filter=DomainFilter(),
    )


def _without_ownership(records: Sequence[Endpoint]) -> list[str]:
    """Records of a managed type whose ``a-``/``cname-`` TXT holds no value of ours."""
    owned = {
        (r.name.split(".", 1)[0].split("-", 1)[1] + "." + r.name.split(".", 1)[1], r.name[0])
        for r in records
        if r.record_type == "TXT"
        and "-" in r.name.split(".", 1)[0]
        and any((parse_ownership(v) or {}).get("owner") == OWNER for v in r.targets)
    }
    return sorted(
        r.name
        for r in records
        if r.record_type in ("A", "AAAA", "CNAME")
        and r.name != FOREIGN.name
        and (r.name, r.record_type[0].lower()) not in owned
    )


def _check_cut_then_converge(
    *,
    fresh: Callable[[], None],
    provider: Callable[[], Provider],
    read: Callable[[], list[Endpoint]],
    cut_after: Callable[[int | None], None],
    sent: Callable[[], int],
) -> int:
    """Run the scenario for every cut; returns the number of messages of the full write."""
    fresh()
    cut_after(None)
    assert _pass(provider(), BEFORE).ok
    cut_after(None)
    assert _pass(provider(), AFTER).ok
    messages = sent()
    assert messages >= 3, "the scenario must take several messages to test their boundaries"
    for cut in range(messages):
        fresh()
        cut_after(None)
        assert _pass(provider(), BEFORE).ok
        before = read()
        cut_after(cut)
        interrupted = _pass(provider(), AFTER)
        assert not interrupted.ok, f"the write cut after {cut} messages must fail"
        between = read()
        assert _without_ownership(between) == [], f"cut after {cut} messages"
        assert FOREIGN in between
        assert FOREIGN in before
        cut_after(None)
        repaired = _pass(provider(), AFTER)
        assert repaired.ok, repaired
        after = read()
        assert _without_ownership(after) == []
        assert FOREIGN in after
        wanted = {(e.name, e.targets) for e in AFTER}
        have = {(e.name, e.targets) for e in after if e.record_type == "A" and e != FOREIGN}
        assert have == wanted, f"cut after {cut} messages: not converged in one pass"
        quiet = _pass(provider(), AFTER)
        assert quiet.ok
        assert all(r.changes.is_empty() for r in quiet.providers)
    return messages


class CuttingTransport(DnspythonTransport):
    """The real transport, with the server 'gone' after ``cut`` UPDATE messages."""

    def __init__(self) -> None:
        self.cut: int | None = None
        self.sent = 0

    def send_update(
        self, request: UpdateRequest, *, host: str, port: int, timeout: float
    ) -> dns.message.Message:
        if self.cut is not None and self.sent >= self.cut:
            raise ConnectionResetError("connection reset by peer (cut by the test)")
        self.sent += 1
        return super().send_update(request, host=host, port=port, timeout=timeout)


def test_rfc2136_write_cut_at_every_message_boundary(bind: BindServer) -> None:
    transport = CuttingTransport()

    def fresh() -> None:
        bind.reset([ZONE])
        bind.update(ZONE, add=[ZoneRecord(FOREIGN.name, "A", 300, FOREIGN.targets)])

    def provider() -> Provider:
        return Rfc2136Provider(
            name="bind",
            host=bind.host,
            port=bind.port,
            zones=[ZONE],
            tsig_key_name=bind.key_name,
            tsig_algorithm=bind.algorithm,
            tsig_secret=bind.secret,
            transport=transport,
            max_message_bytes=2048,
        )

    def read() -> list[Endpoint]:
        return [
            Endpoint.of(r.name, r.rdtype, r.values, ttl=r.ttl)
            for r in bind.transfer(ZONE)
            if r.rdtype in ("A", "AAAA", "CNAME", "TXT") and r.name != f"ns.{ZONE}"
        ]

    def cut_after(cut: int | None) -> None:
        transport.cut = cut
        transport.sent = 0

    messages = _check_cut_then_converge(
        fresh=fresh, provider=provider, read=read, cut_after=cut_after, sent=lambda: transport.sent
    )
    print(f"rfc2136: cut at each of {messages} message boundaries, 0 records without ownership")


def test_route53_write_cut_at_every_batch_boundary(
    moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = boto3.client("route53", **aws_client_kwargs(moto))
    state: dict[str, Any] = {"cut": None, "sent": 0, "zone": "", "zones": 0}

    def gate(**_: Any) -> None:
        if state["cut"] is not None and state["sent"] >= state["cut"]:
            raise EndpointConnectionError(endpoint_url=moto.endpoint_url)
        state["sent"] += 1

    client.meta.events.register("before-call.route53.ChangeResourceRecordSets", gate)

    def fresh() -> None:
        moto.reset()
        state["zones"] += 1
        created = client.create_hosted_zone(Name=ZONE, CallerReference=f"cut-{state['zones']}")
        state["zone"] = created["HostedZone"]["Id"]
        client.change_resource_record_sets(
            HostedZoneId=state["zone"],
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "CREATE",
                        "ResourceRecordSet": {
                            "Name": FOREIGN.name,
                            "Type": "A",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": FOREIGN.targets[0]}],
                        },
                    }
                ]
            },
        )

    def provider() -> Provider:
        return Route53Provider(name="r53", client=client)

    def read() -> list[Endpoint]:
        found: list[Endpoint] = []
        for page in client.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=state["zone"]
        ):
            for r in page["ResourceRecordSets"]:
                if r["Type"] in ("A", "AAAA", "CNAME", "TXT"):
                    values = [v["Value"] for v in r.get("ResourceRecords", [])]
                    found.append(Endpoint.of(r["Name"], r["Type"], values, ttl=r.get("TTL")))
        return found

    def cut_after(cut: int | None) -> None:
        state["cut"] = cut
        state["sent"] = 0

    # Smaller batches than Route53's limits, so that 80 changes take several calls.
    monkeypatch.setattr(route53_batches, "MAX_VALUES_PER_CALL", 30)
    messages = _check_cut_then_converge(
        fresh=fresh, provider=provider, read=read, cut_after=cut_after, sent=lambda: state["sent"]
    )
    print(f"route53: cut at each of {messages} batch boundaries, 0 records without ownership")
