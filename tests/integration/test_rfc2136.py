"""The RFC2136 provider against a real BIND9: the provider contract plus RFC2136-specific cases."""

from __future__ import annotations

import logging
import re
import socket
from collections import Counter
from collections.abc import Iterator, Sequence

import dns.message
import dns.name
import dns.tsig
import dns.zone
import pytest

from e2e.servers.bind import BindServer, ZoneRecord
from providers.dns_wire import UpdateRequest
from providers.rfc2136 import DnspythonTransport, Rfc2136Provider, read_tsig_secret
from reconciler.dns.provider import Provider
from reconciler.model.endpoint import Changes, Endpoint, Update
from reconciler.model.errors import PermanentProviderError, ProviderError, TransientProviderError
from tests.integration.provider_contract import ProviderContract, by_key, only_names

pytestmark = pytest.mark.integration

WRONG_SECRET = "c2VjcmV0LXRoYXQtaXMtd3JvbmctYnV0LXZhbGlkLWJhc2U2NA=="


def provider_for(
    bind: BindServer, *, zones: Sequence[str] | None = None, **overrides: object
) -> Rfc2136Provider:
    """A provider on ``bind`` with the allowed key, unless ``overrides`` say otherwise."""
    kwargs: dict[str, object] = {
        "name": "bind",
        "host": bind.host,
        "port": bind.port,
        "zones": list(bind.zones if zones is None else zones),
        "tsig_key_name": bind.key_name,
        "tsig_algorithm": bind.algorithm,
        "tsig_secret": bind.secret,
        "timeout": 5.0,
    }
    kwargs.update(overrides)
    return Rfc2136Provider(**kwargs)  # type: ignore[arg-type]


class BindHarness:
    """The contract suite's harness over one zone of the session's BIND9 server."""

    def __init__(self, bind: BindServer, zone: str) -> None:
        self.bind = bind
        self.zone = zone
        self._infrastructure = {(f"ns.{zone}", "A")}

    def provider(self) -> Provider:
        return provider_for(self.bind)

    def seed(self, endpoints: Sequence[Endpoint]) -> None:
        records = [
            ZoneRecord(
                name=e.name,
                rdtype=e.record_type,
                ttl=300 if e.ttl is None else e.ttl,
                values=e.targets,
            )
            for e in endpoints
        ]
        self.bind.update(self.zone, delete=[(r.name, r.rdtype) for r in records], add=records)

    def read(self) -> list[Endpoint]:
        return [
            Endpoint.of(r.name, r.rdtype, r.values, ttl=r.ttl)
            for r in self.bind.transfer(self.zone)
            if r.rdtype != "SOA"
            and not (r.rdtype == "NS" and r.name == self.zone)
            and (r.name, r.rdtype) not in self._infrastructure
        ]


class TestRfc2136Contract(ProviderContract):
    """The shared provider contract on BIND9."""

    @pytest.fixture
    def harness(self, bind: BindServer) -> BindHarness:
        return BindHarness(bind, "example.test")


class CountingTransport:
    """The real transport, counting calls and recording the size of every UPDATE sent."""

    def __init__(self) -> None:
        self.inner = DnspythonTransport()
        self.calls: Counter[str] = Counter()
        self.transfers: list[str] = []
        self.update_sizes: list[int] = []

    def send_update(
        self, request: UpdateRequest, *, host: str, port: int, timeout: float
    ) -> dns.message.Message:
        self.calls["update"] += 1
        response = self.inner.send_update(request, host=host, port=port, timeout=timeout)
        self.update_sizes.append(len(request.wire))
        return response

    def query_soa(
        self,
        zone: dns.name.Name,
        *,
        host: str,
        port: int,
        timeout: float,
        key: dns.tsig.Key | None,
    ) -> dns.message.Message:
        self.calls["soa"] += 1
        return self.inner.query_soa(zone, host=host, port=port, timeout=timeout, key=key)

    def transfer_zone(
        self,
        zone: dns.name.Name,
        *,
        host: str,
        port: int,
        timeout: float,
        key: dns.tsig.Key | None,
        base: dns.zone.Zone | None = None,
    ) -> dns.zone.Zone:
        self.calls["axfr" if base is None else "ixfr"] += 1
        self.transfers.append(zone.to_text(omit_final_dot=True))
        return self.inner.transfer_zone(
            zone, host=host, port=port, timeout=timeout, key=key, base=base
        )

    def reset(self) -> None:
        self.calls.clear()
        self.transfers.clear()
        self.update_sizes.clear()


@pytest.fixture
def counting() -> CountingTransport:
    return CountingTransport()


def a_record(name: str, address: str = "192.0.2.1") -> Endpoint:
    return Endpoint.of(name, "A", [address], ttl=300)


# --- authentication ------------------------------------------------------------------------


def assert_names_server_and_key(error: ProviderError, bind: BindServer, key: str) -> None:
    text = str(error)
    assert f"{bind.host}:{bind.port}" in text
    assert repr(key) in text
    assert bind.secret not in text
    assert WRONG_SECRET not in text


def test_wrong_secret_is_a_clear_permanent_error(bind: BindServer) -> None:
    provider = provider_for(bind, tsig_secret=WRONG_SECRET)
    with pytest.raises(PermanentProviderError, match="TSIG signature") as update_error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert_names_server_and_key(update_error.value, bind, bind.key_name)
    assert "example.test" in str(update_error.value)
    with pytest.raises(PermanentProviderError, match="TSIG signature") as read_error:
        provider.records()
    assert_names_server_and_key(read_error.value, bind, bind.key_name)
    assert bind.query("www.example.test", "A") == ()


def test_unknown_key_is_named(bind: BindServer) -> None:
    provider = provider_for(bind, tsig_key_name="no-such-key")
    with pytest.raises(PermanentProviderError, match="does not know this TSIG key") as error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert_names_server_and_key(error.value, bind, "no-such-key")


def test_unsigned_update_is_refused(bind: BindServer) -> None:
    provider = provider_for(bind, tsig_key_name=None, tsig_secret=None)
    with pytest.raises(PermanentProviderError, match="REFUSED") as error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert "no TSIG key" in str(error.value)
    with pytest.raises(PermanentProviderError, match="REFUSED"):
        provider.records()  # the SOA query is answered, the AXFR is refused
    assert bind.query("www.example.test", "A") == ()


def test_key_not_allowed_on_the_zone_is_refused(bind: BindServer) -> None:
    provider = provider_for(bind, tsig_key_name=bind.other_key_name, tsig_secret=bind.other_secret)
    with pytest.raises(PermanentProviderError, match="REFUSED") as error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert repr(bind.other_key_name) in str(error.value)
    assert bind.other_secret not in str(error.value)


def test_secret_file_helper_reads_the_servers_secret(bind: BindServer) -> None:
    provider = provider_for(bind, tsig_secret=read_tsig_secret(bind.secret_file))
    provider.apply(Changes(create=(a_record("file.example.test"),)))
    assert bind.query("file.example.test", "A") == ("192.0.2.1",)


@pytest.mark.parametrize("algorithm", ["hmac-sha384", "hmac-sha512", "hmac-sha1"])
def test_other_tsig_algorithms(algorithm: str, caplog: pytest.LogCaptureFixture) -> None:
    with BindServer(["alg.test"], algorithm=algorithm) as server:
        with caplog.at_level(logging.WARNING, logger="providers.rfc2136"):
            provider = provider_for(server)
        weak = [r for r in caplog.records if r.getMessage().startswith("weak TSIG algorithm")]
        assert len(weak) == (1 if algorithm == "hmac-sha1" else 0)
        assert all(server.secret not in r.getMessage() + str(r.__dict__) for r in caplog.records)
        provider.apply(Changes(create=(a_record("www.alg.test"),)))
        assert only_names(provider.records(), ["www.alg.test"]) == [a_record("www.alg.test")]


# --- network failures ----------------------------------------------------------------------


def test_connection_refused_is_transient(bind: BindServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = int(probe.getsockname()[1])
    provider = provider_for(bind, port=closed_port, timeout=1.0)
    with pytest.raises(TransientProviderError, match="connection refused") as error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert f"127.0.0.1:{closed_port}" in str(error.value)


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that receives and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def test_timeout_is_transient(bind: BindServer, silent_udp_port: int) -> None:
    provider = provider_for(bind, port=silent_udp_port, timeout=0.3)
    with pytest.raises(TransientProviderError, match=r"no answer within 0\.3s"):
        provider.records()


# --- prerequisites guard against out-of-band edits ----------------------------------------


def test_concurrent_edit_fails_the_update_and_nothing_is_written(bind: BindServer) -> None:
    bind.update("example.test", add=[ZoneRecord("web.example.test", "A", 300, ("192.0.2.10",))])
    provider = provider_for(bind)
    (current,) = only_names(provider.records(), ["web.example.test"])
    # Someone edits the record between our read and our write.
    bind.update(
        "example.test",
        delete=[("web.example.test", "A")],
        add=[ZoneRecord("web.example.test", "A", 300, ("192.0.2.99",))],
    )
    wanted = current.with_targets(["192.0.2.11"])
    bystander = a_record("bystander.example.test")
    with pytest.raises(TransientProviderError, match="prerequisite failed") as error:
        provider.apply(Changes(create=(bystander,), update=(Update(current, wanted),)))
    assert "NXRRSET" in str(error.value)
    assert "web.example.test" in str(error.value)
    assert bind.query("web.example.test", "A") == ("192.0.2.99",)
    assert bind.query("bystander.example.test", "A") == ()  # the message is atomic
    # The next pass re-reads and sees the edit (the cache was dropped).
    assert only_names(provider.records(), ["web.example.test"])[0].targets == ("192.0.2.99",)


def test_create_over_a_record_made_out_of_band_fails(bind: BindServer) -> None:
    provider = provider_for(bind)
    provider.records()
    bind.update("example.test", add=[ZoneRecord("new.example.test", "A", 300, ("192.0.2.50",))])
    with pytest.raises(TransientProviderError, match="YXRRSET"):
        provider.apply(Changes(create=(a_record("new.example.test", "192.0.2.51"),)))
    assert bind.query("new.example.test", "A") == ("192.0.2.50",)


def test_a_cname_made_out_of_band_is_not_silently_kept(bind: BindServer) -> None:
    # BIND answers NOERROR to, and ignores, an A added beside a CNAME: the guard makes it fail.
    provider = provider_for(bind)
    provider.records()
    bind.update(
        "example.test", add=[ZoneRecord("race.example.test", "CNAME", 300, ("x.example.com.",))]
    )
    with pytest.raises(TransientProviderError, match="YXRRSET"):
        provider.apply(Changes(create=(a_record("race.example.test"),)))
    assert bind.query("race.example.test", "CNAME") == ("x.example.com.",)


def test_a_cname_beside_data_made_out_of_band_fails(bind: BindServer) -> None:
    provider = provider_for(bind)
    provider.records()
    bind.update("example.test", add=[ZoneRecord("race.example.test", "TXT", 300, ('"x"',))])
    cname = Endpoint.of("race.example.test", "CNAME", ["lb.example.com"], ttl=300)
    with pytest.raises(TransientProviderError, match="YXDOMAIN"):
        provider.apply(Changes(create=(cname,)))
    assert bind.query("race.example.test", "CNAME") == ()


# --- cost: SOA-serial cache, one UPDATE per zone, splitting ------------------------------


def test_quiet_pass_costs_one_soa_query_per_zone(
    bind: BindServer, counting: CountingTransport
) -> None:
    provider = provider_for(bind, transport=counting)
    first = provider.records()
    assert counting.calls == Counter({"soa": 3, "axfr": 3})
    counting.reset()
    assert provider.records() == first
    assert counting.calls == Counter({"soa": 3})  # quiet pass: no AXFR at all

    counting.reset()
    provider.apply(Changes(create=(a_record("www.other.test"),)))
    # our own write is not read back: BIND's serial moved by one, which the provider adopts
    assert counting.calls == Counter({"update": 1, "soa": 1})
    remembered = provider.records()
    assert [e.name for e in remembered if e.name == "www.other.test"] == ["www.other.test"]
    assert counting.transfers == []
    assert remembered == provider_for(bind).records()  # what a new reader transfers

    counting.reset()
    bind.update("example.test", add=[ZoneRecord("oob.example.test", "A", 300, ("192.0.2.8",))])
    assert a_record("oob.example.test", "192.0.2.8") in provider.records()
    assert counting.transfers == ["example.test"]  # serial moved out of band: re-read


def test_one_update_per_zone_for_a_hundred_names(
    bind: BindServer, counting: CountingTransport
) -> None:
    provider = provider_for(bind, transport=counting)
    creates: list[Endpoint] = []
    for i in range(100):
        creates.append(a_record(f"host{i}.example.test", f"10.0.{i // 250}.{i % 250 + 1}"))
        creates.append(
            Endpoint.of(
                f"a-host{i}.example.test",
                "TXT",
                [
                    f'"heritage=external-dns,external-dns/owner=me,external-dns/resource=ingress/ns/h{i}"'
                ],
                ttl=300,
            )
        )
    creates.append(a_record("one.private.example.test"))
    creates.append(a_record("one.other.test"))
    provider.apply(Changes(create=tuple(creates)))
    assert counting.calls["update"] == 3  # example.test, private.example.test, other.test
    assert bind.query("one.private.example.test", "A") == ("192.0.2.1",)
    assert bind.query("host99.example.test", "A") == ("10.0.0.100",)
    stored = by_key(provider.records())
    assert all(stored[e.key] == e for e in creates)

    counting.reset()
    updates = tuple(
        Update(e, e.with_targets(["10.9.9.9"])) for e in creates if e.record_type == "A"
    )
    deletes = tuple(e for e in creates if e.record_type == "TXT")
    provider.apply(Changes(update=updates, delete=deletes))
    assert counting.calls["update"] == 3
    assert bind.query("host42.example.test", "A") == ("10.9.9.9",)
    assert bind.query("a-host42.example.test", "TXT") == ()


def test_large_change_is_split_below_64k(bind: BindServer, counting: CountingTransport) -> None:
    provider = provider_for(bind, transport=counting)
    chunk = "x" * 250
    value = " ".join(f'"{i}{chunk}"' for i in range(3))  # ~760 bytes of rdata per record
    creates = tuple(
        Endpoint.of(f"big{i}.example.test", "TXT", [value], ttl=300) for i in range(250)
    )
    provider.apply(Changes(create=creates))
    assert counting.calls["update"] >= 3
    assert max(counting.update_sizes) <= 65_535
    stored = by_key(provider.records())
    assert all(stored[e.key] == e for e in creates)

    counting.reset()
    provider.apply(Changes(delete=creates))
    assert counting.calls["update"] >= 1
    assert [e for e in provider.records() if e.name.startswith("big")] == []


# --- odd but legal data --------------------------------------------------------------------


def test_mixed_case_records_written_elsewhere_can_be_replaced(bind: BindServer) -> None:
    bind.update(
        "example.test",
        add=[
            ZoneRecord("Shop.Example.Test", "CNAME", 300, ("LB-1.Elb.Example.COM.",)),
            ZoneRecord("API.example.test", "TXT", 300, ('"Case Kept"',)),
        ],
    )
    provider = provider_for(bind)
    current = by_key(only_names(provider.records(), ["shop.example.test", "api.example.test"]))
    cname = current["shop.example.test", "CNAME", ""]
    assert cname.targets == ("lb-1.elb.example.com",)
    assert current["api.example.test", "TXT", ""].targets == ('"Case Kept"',)
    a = a_record("shop.example.test", "203.0.113.9")
    provider.apply(Changes(create=(a,), delete=(cname,)))  # guards match despite the case
    assert bind.query("shop.example.test", "A") == ("203.0.113.9",)
    assert bind.query("shop.example.test", "CNAME") == ()


def test_wildcard_and_underscore_names_round_trip(bind: BindServer) -> None:
    provider = provider_for(bind)
    wanted = (
        a_record("*.apps.example.test", "192.0.2.77"),
        Endpoint.of("_acme-challenge.example.test", "TXT", ['"token-123"'], ttl=120),
    )
    provider.apply(Changes(create=wanted))
    stored = by_key(provider.records())
    assert all(stored[e.key] == e for e in wanted)
    assert bind.query("anything.apps.example.test", "A") == ("192.0.2.77",)


def test_a_zone_the_server_does_not_serve_is_a_clear_error(bind: BindServer) -> None:
    provider = provider_for(bind, zones=["missing.test"])
    with pytest.raises(PermanentProviderError, match=r"missing\.test") as error:
        provider.records()
    assert "REFUSED" in str(error.value)


@pytest.fixture
def silent_tcp_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_an_update_without_answer_is_transient(bind: BindServer, silent_tcp_port: int) -> None:
    provider = provider_for(bind, port=silent_tcp_port, timeout=0.3)
    with pytest.raises(TransientProviderError, match="no answer") as error:
        provider.apply(Changes(create=(a_record("www.example.test"),)))
    assert f"127.0.0.1:{silent_tcp_port}" in str(error.value)


def _transfers_logged(bind: BindServer, since: int) -> list[str]:
    """The kinds of transfer BIND logged after byte ``since`` of its log."""
    started = re.compile(r"transfer of '[^']+': ((?:AXFR-style )?IXFR|AXFR) started")
    return [m.group(1) for m in started.finditer(bind.log_text[since:])]


def test_reads_after_a_write_transfer_only_the_difference(bind: BindServer) -> None:
    """Our own UPDATE moves the serial; the next read asks for the difference (IXFR) instead of
    the whole zone, and still sees what someone else wrote meanwhile."""
    zone = "example.test"
    harness = BindHarness(bind, zone)
    harness.seed([Endpoint.of(f"seed{i}.{zone}", "A", [f"192.0.2.{i}"]) for i in range(1, 60)])
    provider = provider_for(bind, zones=[zone])
    first = provider.records()
    mark = len(bind.log_text)
    provider.apply(Changes(create=(Endpoint.of(f"ours.{zone}", "A", ["198.51.100.1"], ttl=60),)))
    harness.seed([Endpoint.of(f"theirs.{zone}", "A", ["198.51.100.2"])])
    after = provider.records()
    assert _transfers_logged(bind, mark) == ["IXFR"], bind.log_text[mark:]
    names = {e.name for e in after}
    assert {f"ours.{zone}", f"theirs.{zone}"} <= names
    assert len(after) == len(first) + 2
    # exactly what the server holds (the zone's own ns record aside)
    seen = {e.key: (e.targets, e.ttl) for e in after if e.name != f"ns.{zone}"}
    assert seen == {e.key: (e.targets, e.ttl) for e in harness.read()}
    # a quiet read: no transfer at all
    mark = len(bind.log_text)
    assert provider.records() == after
    assert _transfers_logged(bind, mark) == []


def test_our_own_writes_are_never_transferred_back(bind: BindServer) -> None:
    """Five writes in a row, each adopted at the serial BIND gave it: BIND logs no transfer, and
    what the provider holds is what a new reader transfers."""
    zone = "example.test"
    harness = BindHarness(bind, zone)
    harness.seed([Endpoint.of(f"seed{i}.{zone}", "A", [f"192.0.2.{i}"]) for i in range(1, 30)])
    provider = provider_for(bind, zones=[zone])
    provider.records()
    mark = len(bind.log_text)
    for i in range(5):
        record = Endpoint.of(f"ours{i}.{zone}", "A", [f"198.51.100.{i + 1}"], ttl=60)
        provider.apply(Changes(create=(record,)))
        assert record in provider.records_named([record.name])
    provider.apply(Changes(delete=(Endpoint.of(f"ours0.{zone}", "A", ["198.51.100.1"], ttl=60),)))
    held = provider.records()
    assert _transfers_logged(bind, mark) == [], bind.log_text[mark:]
    assert held == provider_for(bind, zones=[zone]).records()
    assert f"ours0.{zone}" not in {e.name for e in held}


def test_a_large_write_is_remembered_and_the_next_change_of_theirs_read_whole(
    bind: BindServer,
) -> None:
    """Past 500 changes in one write, the provider keeps the records it wrote but not the zone
    it would need as an IXFR base: nothing is read back, and when someone else writes next the
    zone is transferred whole, not as a difference."""
    zone = "example.test"
    provider = provider_for(bind, zones=[zone])
    provider.records()
    creates = tuple(
        Endpoint.of(f"bulk{i}.{zone}", "A", [f"10.9.{i // 250}.{i % 250 + 1}"], ttl=60)
        for i in range(600)
    )
    mark = len(bind.log_text)
    provider.apply(Changes(create=creates))
    held = provider.records()
    assert _transfers_logged(bind, mark) == []
    assert held == provider_for(bind, zones=[zone]).records()
    BindHarness(bind, zone).seed([Endpoint.of(f"theirs.{zone}", "A", ["198.51.100.9"])])
    mark = len(bind.log_text)
    after = provider.records()
    assert _transfers_logged(bind, mark) == ["AXFR"], bind.log_text[mark:]
    assert after == provider_for(bind, zones=[zone]).records()
