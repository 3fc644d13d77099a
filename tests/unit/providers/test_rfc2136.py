"""The RFC2136 provider with a fake transport: errors, message shape, cache, config. No network."""

# dnspython's exception classes have untyped constructors.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update
import dns.xfr
import dns.zone
import pytest

import e2e.servers.bind as bind_launcher
from providers import rfc2136
from providers.dns_wire import UpdateRequest
from providers.rfc2136 import (
    MAX_MESSAGE_BYTES,
    SUPPORTED_TSIG_ALGORITHMS,
    Rfc2136Provider,
    read_tsig_secret,
)
from reconciler.dns.provider import Provider
from reconciler.model.endpoint import Changes, Endpoint, Label, Update
from reconciler.model.errors import (
    ConfigError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)

SECRET = "dGhpcy1pcy1hLXRlc3Qtc2VjcmV0LW9mLTMyLWJ5dGVzISE="
KEY = "ddns-key"

ZONE_TEXT = {
    "example.test": """
@ 300 IN SOA ns.example.test. hostmaster.example.test. {serial} 3600 600 86400 300
@ 300 IN NS ns.example.test.
@ 300 IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopK==
@ 300 IN TXT "apex text"
ns 300 IN A 127.0.0.1
www 60 IN A 192.0.2.2
www 60 IN A 192.0.2.1
a-www 300 IN TXT "heritage=external-dns,external-dns/owner=me,external-dns/resource=ingress/ns/web"
multi 300 IN TXT "first" "second"
alias 300 IN CNAME lb.example.com.
mail 300 IN MX 10 mx.example.test.
sub 300 IN NS ns.elsewhere.test.
""",
    "other.test": """
@ 300 IN SOA ns.other.test. hostmaster.other.test. {serial} 3600 600 86400 300
@ 300 IN NS ns.other.test.
""",
}


class FakeTransport:
    """An in-memory server: zones from text, scripted failures and rcodes, recorded calls."""

    def __init__(self) -> None:
        self.serials = {zone: 1 for zone in ZONE_TEXT}
        self.calls: list[tuple[str, str]] = []
        self.updates: list[dns.message.Message] = []
        self.requests: list[UpdateRequest] = []
        self.raise_on: dict[str, BaseException] = {}
        self.update_rcode = dns.rcode.NOERROR

    def _maybe_raise(self, call: str) -> None:
        if call in self.raise_on:
            raise self.raise_on[call]

    def send_update(
        self, request: UpdateRequest, *, host: str, port: int, timeout: float
    ) -> dns.message.Message:
        message = request.message()  # parsed back by dnspython, its TSIG checked
        self.calls.append(("update", message.question[0].name.to_text(omit_final_dot=True)))
        self._maybe_raise("update")
        self.updates.append(message)
        self.requests.append(request)
        response = dns.message.make_response(message)
        response.set_rcode(self.update_rcode)
        if self.update_rcode == dns.rcode.NOERROR:  # as a server's increment method does
            self.serials[message.question[0].name.to_text(omit_final_dot=True)] += 1
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
        name = zone.to_text(omit_final_dot=True)
        self.calls.append(("soa", name))
        self._maybe_raise("soa")
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        response = dns.message.make_response(query)
        soa = dns.rrset.from_text(
            zone,
            300,
            "IN",
            "SOA",
            f"ns.{name}. hostmaster.{name}. {self.serials[name]} 3600 600 86400 300",
        )
        response.find_rrset(
            response.answer, zone, dns.rdataclass.IN, dns.rdatatype.SOA, create=True
        ).update(soa)
        return response

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
        name = zone.to_text(omit_final_dot=True)
        self.calls.append(("axfr" if base is None else "ixfr", name))
        self._maybe_raise("axfr" if base is None else "ixfr")
        text = ZONE_TEXT[name].format(serial=self.serials[name])
        return dns.zone.from_text(text, origin=zone, relativize=False, check_origin=True)


@pytest.fixture
def fake() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def provider(fake: FakeTransport) -> Rfc2136Provider:
    return Rfc2136Provider(
        name="bind",
        host="127.0.0.1",
        port=5353,
        zones=["Example.Test.", "other.test"],
        tsig_key_name=KEY,
        tsig_secret=SECRET,
        transport=fake,
    )


def a_record(name: str, *targets: str) -> Endpoint:
    return Endpoint.of(name, "A", targets or ["192.0.2.1"], ttl=300)


# --- reading ---------------------------------------------------------------------------------


def test_zones_are_normalised(provider: Rfc2136Provider) -> None:
    assert provider.zones() == ("example.test", "other.test")
    assert provider.name == "bind"


def test_records_skip_soa_apex_ns_and_dnssec(provider: Rfc2136Provider) -> None:
    got = {(e.name, e.record_type): e for e in provider.records()}
    assert set(got) == {
        ("example.test", "TXT"),
        ("ns.example.test", "A"),
        ("www.example.test", "A"),
        ("a-www.example.test", "TXT"),
        ("multi.example.test", "TXT"),
        ("alias.example.test", "CNAME"),
        ("mail.example.test", "MX"),
        ("sub.example.test", "NS"),  # a delegation below the apex is a record like any other
    }
    assert got["www.example.test", "A"] == Endpoint.of(
        "www.example.test", "A", ["192.0.2.1", "192.0.2.2"], ttl=60
    )
    assert got["a-www.example.test", "TXT"].targets == (
        '"heritage=external-dns,external-dns/owner=me,external-dns/resource=ingress/ns/web"',
    )
    assert got["multi.example.test", "TXT"].targets == ('"first" "second"',)
    assert got["alias.example.test", "CNAME"].targets == ("lb.example.com",)
    assert got["mail.example.test", "MX"].targets == ("10 mx.example.test.",)


def test_quiet_pass_skips_the_transfer(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    first = provider.records()
    assert [c for c, _ in fake.calls] == ["soa", "axfr", "soa", "axfr"]
    fake.calls.clear()
    assert provider.records() == first
    assert fake.calls == [("soa", "example.test"), ("soa", "other.test")]
    fake.calls.clear()
    fake.serials["other.test"] += 1
    provider.records()
    # only what changed since the serial last read, applied to the zone as last read
    assert ("ixfr", "other.test") in fake.calls
    assert ("axfr", "other.test") not in fake.calls
    assert not any(name == "example.test" and c.endswith("xfr") for c, name in fake.calls)


def test_our_own_write_is_not_read_back(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    provider.records()
    fake.calls.clear()
    provider.apply(Changes(create=(a_record("new.other.test"),)))
    # one SOA query after the write: the serial moved by one per message, so nobody else wrote
    assert fake.calls == [("update", "other.test"), ("soa", "other.test")]
    fake.calls.clear()
    got = provider.records()
    assert fake.calls == [("soa", "example.test"), ("soa", "other.test")]
    assert a_record("new.other.test") in got
    assert provider.records_named(["new.other.test"]) == [a_record("new.other.test")]


def test_a_write_beside_someone_elses_transfers_the_zone_again(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    provider.records()
    fake.serials["other.test"] += 1  # someone else's UPDATE, after our read
    provider.apply(Changes(create=(a_record("new.other.test"),)))
    fake.calls.clear()
    provider.records()
    # their change is not in what we remember: the whole zone is read again
    assert ("axfr", "other.test") in fake.calls


def test_records_named_reads_only_the_zones_of_the_names(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    provider.records()
    fake.calls.clear()
    got = provider.records_named(["www.example.test", "a-www.example.test", "nowhere.invalid"])
    assert [(e.name, e.record_type) for e in got] == [
        ("a-www.example.test", "TXT"),
        ("www.example.test", "A"),
    ]
    assert fake.calls == [("soa", "example.test")]


def test_the_remembered_zone_holds_what_we_wrote(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    provider.records()
    provider.apply(
        Changes(
            create=(a_record("new.example.test", "192.0.2.7"),),
            update=(
                Update(
                    Endpoint.of("www.example.test", "A", ["192.0.2.1", "192.0.2.2"], ttl=60),
                    a_record("www.example.test", "192.0.2.3"),
                ),
            ),
            delete=(Endpoint.of("alias.example.test", "CNAME", ["lb.example.com"], ttl=300),),
        )
    )
    remembered = provider.records()
    assert a_record("new.example.test", "192.0.2.7") in remembered
    assert a_record("www.example.test", "192.0.2.3") in remembered
    assert not any(e.name == "alias.example.test" for e in remembered)


def test_a_failed_write_drops_the_cache_too(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    provider.records()
    fake.update_rcode = dns.rcode.NXRRSET
    with pytest.raises(TransientProviderError):
        provider.apply(Changes(delete=(a_record("www.example.test", "192.0.2.9"),)))
    fake.calls.clear()
    provider.records()
    assert ("axfr", "example.test") in fake.calls


# --- writing: message shape ------------------------------------------------------------------


def sections(message: dns.message.Message) -> tuple[list[str], list[str]]:
    """Prerequisite and update sections as text lines, in order."""
    assert isinstance(message, dns.update.UpdateMessage)
    pre = [line for rrset in message.prerequisite for line in rrset.to_text().splitlines()]
    upd = [line for rrset in message.update for line in rrset.to_text().splitlines()]
    return pre, upd


def test_one_signed_message_per_zone_with_guards(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    old = Endpoint.of("www.example.test", "A", ["192.0.2.1", "192.0.2.2"], ttl=60)
    new = Endpoint.of("www.example.test", "A", ["192.0.2.3"], ttl=None)
    gone = Endpoint.of("alias.example.test", "CNAME", ["lb.example.com"], ttl=300)
    made = Endpoint.of("alias.example.test", "A", ["198.51.100.1"], ttl=120)
    txt = Endpoint.of("t.example.test", "TXT", ['"a b" "c"'], ttl=300)
    other = a_record("x.other.test")
    provider.apply(Changes(create=(made, txt, other), update=(Update(old, new),), delete=(gone,)))
    assert [zone for call, zone in fake.calls if call == "update"] == [
        "example.test",
        "other.test",
    ]
    message = fake.updates[0]
    assert message.opcode() == dns.opcode.UPDATE
    assert message.keyname == dns.name.from_text(KEY)
    pre, upd = sections(message)
    assert pre == [
        # per name: value-dependent "exists exactly" (TTL 0) for what we delete or replace,
        # "rrset does not exist" for what we create, and no CNAME where it would be ignored
        "alias.example.test. 0 IN CNAME lb.example.com.",
        "alias.example.test. NONE A",
        "t.example.test. NONE TXT",
        "t.example.test. NONE CNAME",
        "www.example.test. 0 IN A 192.0.2.1",
        "www.example.test. 0 IN A 192.0.2.2",
    ]
    assert upd == [
        # deletes first, then adds, so a CNAME can become an A in one message
        "alias.example.test. ANY CNAME",
        "www.example.test. ANY A",
        "alias.example.test. 120 IN A 198.51.100.1",
        't.example.test. 300 IN TXT "a b" "c"',
        "www.example.test. 300 IN A 192.0.2.3",  # ttl None → default 300
    ]


def test_delete_and_create_of_one_rrset_needs_no_absence_guard(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    old = a_record("www.example.test", "192.0.2.1")
    new = a_record("www.example.test", "192.0.2.5")
    provider.apply(Changes(create=(new,), delete=(old,)))
    pre, upd = sections(fake.updates[0])
    assert pre == ["www.example.test. 0 IN A 192.0.2.1", "www.example.test. NONE CNAME"]
    assert upd == ["www.example.test. ANY A", "www.example.test. 300 IN A 192.0.2.5"]


def test_an_update_across_zones_is_a_delete_and_a_create(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    old = a_record("www.example.test", "192.0.2.1")
    new = a_record("www.other.test", "192.0.2.1")
    provider.apply(Changes(update=(Update(old, new),)))
    assert [zone for call, zone in fake.calls if call == "update"] == [
        "example.test",
        "other.test",
    ]
    assert sections(fake.updates[0]) == (
        ["www.example.test. 0 IN A 192.0.2.1"],
        ["www.example.test. ANY A"],
    )
    assert sections(fake.updates[1]) == (
        ["www.other.test. NONE A", "www.other.test. NONE CNAME"],
        ["www.other.test. 300 IN A 192.0.2.1"],
    )


def test_bind_launcher_says_how_to_install_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(bind_launcher.BindNotInstalledError, match="apt-get install bind9"):
        bind_launcher.BindServer(["example.test"]).start()


def test_a_new_cname_needs_an_empty_name(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    fresh = Endpoint.of("c.example.test", "CNAME", ["lb.example.com"], ttl=300)
    provider.apply(Changes(create=(fresh,)))
    assert sections(fake.updates[-1])[0] == ["c.example.test. NONE ANY"]
    # replacing an A by a CNAME: the A is still there when prerequisites are checked
    old = a_record("d.example.test")
    cname = Endpoint.of("d.example.test", "CNAME", ["lb.example.com"], ttl=300)
    provider.apply(Changes(create=(cname,), delete=(old,)))
    assert sections(fake.updates[-1]) == (
        ["d.example.test. 0 IN A 192.0.2.1", "d.example.test. NONE CNAME"],
        ["d.example.test. ANY A", "d.example.test. 300 IN CNAME lb.example.com."],
    )


def test_unquoted_txt_is_one_string(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    provider.apply(Changes(create=(Endpoint.of("t.other.test", "TXT", ["two words"]),)))
    _, upd = sections(fake.updates[0])
    assert upd == ['t.other.test. 300 IN TXT "two words"']


def test_names_outside_the_zones_send_nothing(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    with pytest.raises(PermanentProviderError, match="outside its zones") as error:
        provider.apply(Changes(create=(a_record("www.example.test"), a_record("www.evil.test"))))
    assert "www.evil.test" in str(error.value)
    assert fake.calls == []


def test_a_target_that_cannot_be_encoded_sends_nothing(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    bad = Endpoint("m.example.test", "MX", ("not a number mx.example.test",), ttl=300)
    with pytest.raises(PermanentProviderError, match="cannot encode MX record"):
        provider.apply(Changes(create=(a_record("ok.other.test"), bad)))
    two_cnames = Endpoint.of("c.example.test", "CNAME", ["a.example.com", "b.example.com"])
    with pytest.raises(PermanentProviderError, match="exactly one target"):
        provider.apply(Changes(create=(two_cnames,)))
    assert fake.calls == []


def test_empty_changes_send_nothing(provider: Rfc2136Provider, fake: FakeTransport) -> None:
    provider.apply(Changes())
    assert fake.calls == []


def test_large_changes_split_in_order_below_the_limit(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    value = " ".join(f'"{i}{"y" * 250}"' for i in range(3))
    deletes = tuple(
        Endpoint.of(f"old{i}.example.test", "TXT", [value], ttl=300) for i in range(150)
    )
    creates = tuple(
        Endpoint.of(f"new{i}.example.test", "TXT", [value], ttl=300) for i in range(150)
    )
    provider.apply(Changes(create=creates, delete=deletes))
    assert len(fake.updates) >= 3
    for request in fake.requests:
        assert len(request.wire) <= MAX_MESSAGE_BYTES
    sequence = [
        ("delete" if rrset.deleting == dns.rdataclass.ANY else "add", rrset.name.to_text())
        for message in fake.updates
        if isinstance(message, dns.update.UpdateMessage)
        for rrset in message.update
    ]
    assert sorted(name for kind, name in sequence if kind == "delete") == sorted(
        f"old{i}.example.test." for i in range(150)
    )
    assert sorted(name for kind, name in sequence if kind == "add") == sorted(
        f"new{i}.example.test." for i in range(150)
    )
    for message in fake.updates:  # within each message: deletes before adds
        assert isinstance(message, dns.update.UpdateMessage)
        kinds = [rrset.deleting == dns.rdataclass.ANY for rrset in message.update]
        assert kinds == sorted(kinds, reverse=True)


def test_a_record_and_its_ownership_txt_share_one_message(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    value = " ".join(f'"{i}{"y" * 250}"' for i in range(3))
    records = [a_record(f"host{i}.example.test") for i in range(200)]
    txts = [
        Endpoint.of(f"a-host{i}.example.test", "TXT", [value], ttl=300).with_labels(
            {Label.OWNED_RECORD.value: f"host{i}.example.test"}
        )
        for i in range(200)
    ]
    # records first, TXTs after (as a registry may list them): still never split
    provider.apply(Changes(create=(*records, *txts)))
    assert len(fake.updates) >= 3
    for message in fake.updates:
        assert isinstance(message, dns.update.UpdateMessage)
        names = {rrset.name.to_text(omit_final_dot=True) for rrset in message.update}
        for name in names:
            partner = name.removeprefix("a-") if name.startswith("a-") else f"a-{name}"
            assert partner in names, f"{name} was sent without {partner}"


# --- errors: nothing from dnspython leaks ----------------------------------------------------

TRANSPORT_FAILURES: list[tuple[BaseException, type[ProviderError], str]] = [
    (dns.exception.Timeout(timeout=10.0), TransientProviderError, "no answer within"),
    (ConnectionRefusedError(111, "Connection refused"), TransientProviderError, "refused"),
    (ConnectionResetError(104, "reset"), TransientProviderError, "network error"),
    (EOFError(), TransientProviderError, "network error"),
    (OSError(101, "Network is unreachable"), TransientProviderError, "network error"),
    (dns.tsig.PeerBadKey(), PermanentProviderError, "does not know this TSIG key"),
    (dns.tsig.PeerBadSignature(), PermanentProviderError, "TSIG signature"),
    (dns.tsig.PeerBadTime(), PermanentProviderError, "TSIG time"),
    (dns.tsig.PeerBadTruncation(), PermanentProviderError, "TSIG error"),
    (dns.tsig.BadSignature(), PermanentProviderError, "failed TSIG verification"),
    (dns.xfr.TransferError(dns.rcode.REFUSED), PermanentProviderError, "REFUSED"),
    (dns.xfr.TransferError(dns.rcode.NOTAUTH), PermanentProviderError, "NOTAUTH"),
    (dns.xfr.TransferError(dns.rcode.SERVFAIL), TransientProviderError, "SERVFAIL"),
    (dns.message.ShortHeader(), PermanentProviderError, "DNS error"),
    (dns.exception.FormError("bad"), PermanentProviderError, "DNS error"),
]

OPERATIONS: dict[str, Callable[[Rfc2136Provider], object]] = {
    "soa": lambda p: p.records(),
    "axfr": lambda p: p.records(),
    "update": lambda p: p.apply(Changes(create=(a_record("www.other.test"),))),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("case", TRANSPORT_FAILURES, ids=lambda c: type(c[0]).__name__)
def test_transport_exceptions_become_provider_errors(
    provider: Rfc2136Provider,
    fake: FakeTransport,
    operation: str,
    case: tuple[BaseException, type[ProviderError], str],
) -> None:
    failure, kind, words = case
    fake.raise_on[operation] = failure
    with pytest.raises(ProviderError) as caught:
        OPERATIONS[operation](provider)
    error = caught.value
    assert type(error) is kind
    assert not isinstance(error, dns.exception.DNSException)
    assert words in str(error)
    assert "127.0.0.1:5353" in str(error)
    assert repr(KEY) in str(error)
    assert SECRET not in str(error)
    assert error.provider == "bind"
    assert error.zone in {"example.test", "other.test"}
    assert error.__cause__ is failure


@pytest.mark.parametrize(
    ("rcode", "kind", "words"),
    [
        (dns.rcode.REFUSED, PermanentProviderError, "refused"),
        (dns.rcode.NOTAUTH, PermanentProviderError, "not authoritative"),
        (dns.rcode.NXRRSET, TransientProviderError, "prerequisite failed"),
        (dns.rcode.YXRRSET, TransientProviderError, "prerequisite failed"),
        (dns.rcode.YXDOMAIN, TransientProviderError, "prerequisite failed"),
        (dns.rcode.SERVFAIL, TransientProviderError, "server failed"),
        (dns.rcode.FORMERR, PermanentProviderError, "rejected the request"),
        (dns.rcode.NOTIMP, PermanentProviderError, "rejected the request"),
    ],
)
def test_update_rcodes(
    provider: Rfc2136Provider,
    fake: FakeTransport,
    rcode: dns.rcode.Rcode,
    kind: type[ProviderError],
    words: str,
) -> None:
    fake.update_rcode = rcode
    with pytest.raises(ProviderError, match=words) as caught:
        provider.apply(Changes(create=(a_record("www.other.test"),)))
    assert type(caught.value) is kind
    assert dns.rcode.to_text(rcode) in str(caught.value)
    assert "www.other.test" in str(caught.value)


def test_a_soa_answer_without_soa_is_a_clear_error(fake: FakeTransport) -> None:
    class NoSoa(FakeTransport):
        def query_soa(
            self,
            zone: dns.name.Name,
            *,
            host: str,
            port: int,
            timeout: float,
            key: dns.tsig.Key | None,
        ) -> dns.message.Message:
            return dns.message.make_response(dns.message.make_query(zone, dns.rdatatype.SOA))

    provider = Rfc2136Provider(
        name="bind", host="127.0.0.1", port=5353, zones=["example.test"], transport=NoSoa()
    )
    with pytest.raises(PermanentProviderError, match="not authoritative"):
        provider.records()


def test_programming_errors_are_not_disguised(fake: FakeTransport) -> None:
    fake.raise_on["soa"] = KeyError("bug")
    provider = Rfc2136Provider(
        name="bind", host="127.0.0.1", port=5353, zones=["example.test"], transport=fake
    )
    with pytest.raises(KeyError):
        provider.records()


# --- configuration and secrets ---------------------------------------------------------------


def test_repr_and_logs_never_show_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        provider = Rfc2136Provider(
            name="bind",
            host="127.0.0.1",
            port=53,
            zones=["example.test"],
            tsig_key_name=KEY,
            tsig_algorithm="hmac-sha1",
            tsig_secret=SECRET,
            transport=FakeTransport(),
        )
        provider.records()
        provider.apply(Changes(create=(a_record("x.example.test"),)))
    assert SECRET not in repr(provider)
    assert KEY in repr(provider)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "weak TSIG algorithm; prefer hmac-sha256 or stronger"
    ]
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in str(record.__dict__)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"tsig_algorithm": "hmac-md5"}, "unsupported TSIG algorithm"),
        ({"tsig_secret": "not base64!"}, "not valid base64"),
        ({"tsig_secret": None}, "set both"),
        ({"tsig_key_name": None}, "set both"),
        ({"zones": []}, "at least one zone"),
        ({"zones": ["bad..zone"]}, "invalid zone name"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_configuration_is_a_config_error(kwargs: dict[str, object], words: str) -> None:
    base: dict[str, object] = {
        "name": "bind",
        "host": "127.0.0.1",
        "port": 53,
        "zones": ["example.test"],
        "tsig_key_name": KEY,
        "tsig_secret": SECRET,
    }
    with pytest.raises(ConfigError, match=words) as caught:
        Rfc2136Provider(**{**base, **kwargs})  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)


def test_supported_algorithms_are_accepted() -> None:
    for algorithm in SUPPORTED_TSIG_ALGORITHMS:
        Rfc2136Provider(
            name="bind",
            host="127.0.0.1",
            port=53,
            zones=["example.test"],
            tsig_key_name=KEY,
            tsig_algorithm=algorithm.upper(),
            tsig_secret=SECRET,
        )


def test_adjust_endpoints_leaves_an_unset_ttl_unset(provider: Rfc2136Provider) -> None:
    # None means "any TTL": an existing record keeps its own, a new one gets the default
    given = [
        Endpoint.of("a.example.test", "A", ["192.0.2.1"]),
        Endpoint.of("b.example.test", "A", ["192.0.2.1"], ttl=30),
    ]
    adjusted = provider.adjust_endpoints(given)
    assert [e.ttl for e in adjusted] == [None, 30]
    assert [e.targets for e in adjusted] == [e.targets for e in given]


def test_read_tsig_secret_bare_and_key_file(tmp_path: Path) -> None:
    bare = tmp_path / "secret"
    bare.write_text(f"  {SECRET}\n")
    assert read_tsig_secret(bare) == SECRET
    key_file = tmp_path / "ddns.key"
    key_file.write_text(f'key "ddns-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n')
    assert read_tsig_secret(key_file) == SECRET


@pytest.mark.parametrize("content", ["not base64 at all!", "", 'key "k" { algorithm x; };'])
def test_read_tsig_secret_rejects_garbage_without_echoing_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret"
    path.write_text(content)
    with pytest.raises(ConfigError, match=str(path)) as caught:
        read_tsig_secret(path)
    if content:
        assert content not in str(caught.value)


def test_read_tsig_secret_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        read_tsig_secret(tmp_path / "missing")


def test_ipv6_servers_are_shown_bracketed() -> None:
    provider = Rfc2136Provider(name="bind", host="::1", port=53, zones=["example.test"])
    assert "server='[::1]:53'" in repr(provider)


def test_exported_surface() -> None:
    assert sorted(rfc2136.__all__) == [
        "DnsTransport",
        "DnspythonTransport",
        "Rfc2136Provider",
        "SUPPORTED_TSIG_ALGORITHMS",
        "read_tsig_secret",
    ]
    assert isinstance(
        Rfc2136Provider(name="x", host="127.0.0.1", port=53, zones=["a.test"]), Provider
    )


@pytest.mark.parametrize(
    ("rtype", "target"),
    [
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("CNAME", "lb.example.com"),
        ("CNAME", "lb.example.com."),
        ("TXT", '"heritage=external-dns,external-dns/owner=x,external-dns/resource=ingress/a/b"'),
        ("TXT", '"first" "second"'),
        ("TXT", '"a\\"b"'),
        ("TXT", '"x"  "y"'),
        ("TXT", '"" ""'),
        ("TXT", '"ünï"'),
        ("TXT", '"' + "x" * 255 + '"'),
        ("MX", "10 mx.example.test."),
    ],
)
def test_rdata_sent_equals_the_target_parsed_from_presentation_form(
    provider: Rfc2136Provider, fake: FakeTransport, rtype: str, target: str
) -> None:
    endpoint = Endpoint.of("data.example.test", rtype, [target], ttl=300)
    provider.apply(Changes(create=(endpoint,)))
    rdtype = dns.rdatatype.from_text(rtype)
    message = fake.updates[-1]
    assert isinstance(message, dns.update.UpdateMessage)
    added = [rrset for rrset in message.update if rrset.rdtype == rdtype]
    parsed = dns.rdata.from_text(
        dns.rdataclass.IN, rdtype, endpoint.targets[0], origin=dns.name.root, relativize=False
    )
    assert [list(rrset) for rrset in added] == [[parsed]]


def test_a_bad_address_is_refused_before_anything_is_sent(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    with pytest.raises(PermanentProviderError, match="cannot encode A record"):
        provider.apply(Changes(create=(Endpoint("bad.example.test", "A", ("192.0.2.999",)),)))
    assert not fake.updates


def test_a_target_that_cannot_be_encoded_fails_its_zone_after_earlier_zones(
    provider: Rfc2136Provider, fake: FakeTransport
) -> None:
    bad = Endpoint("m.other.test", "MX", ("not a number mx.other.test",), ttl=300)
    with pytest.raises(PermanentProviderError, match="cannot encode MX record") as error:
        provider.apply(Changes(create=(a_record("ok.example.test"), bad)))
    assert "m.other.test" in str(error.value)
    # zones are written in order, one at a time: example.test before other.test
    assert [call for call in fake.calls if call[0] == "update"] == [("update", "example.test")]
    message = fake.updates[0]
    assert isinstance(message, dns.update.UpdateMessage)
    assert {rrset.name.to_text(omit_final_dot=True) for rrset in message.update} == {
        "ok.example.test"
    }
