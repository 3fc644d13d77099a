"""UPDATE messages written straight into wire form: the same bytes and meaning as dnspython's."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.update
import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.dns_wire import (
    CLASS_ANY,
    CLASS_IN,
    CLASS_NONE,
    TYPE_ANY,
    Rr,
    UpdateRequest,
    encode_rdata,
    name_labels,
    render_update,
    send_update_tcp,
)

KEY = dns.tsig.Key("ddns-key.", "c2VjcmV0c2VjcmV0c2VjcmV0", dns.tsig.HMAC_SHA256)

LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
NAMES = st.lists(LABEL, min_size=1, max_size=5).map(lambda labels: ".".join([*labels, "test"]))
TXT_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=0, max_size=600
)


def dnspython(rdtype: str, target: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text("IN", rdtype, target, origin=dns.name.root, relativize=False)


@pytest.mark.parametrize(
    ("rdtype", "target", "text"),
    [
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:db8::1", "2001:db8::1"),
        ("CNAME", "lb.example.com", "lb.example.com."),
        ("CNAME", "*.Example.COM.", "*.Example.COM."),
        ("TXT", '"heritage=external-dns,external-dns/owner=x"', None),
        ("TXT", '"first" "second"', None),
        ("TXT", '"with \\"escaped\\" quotes"', None),
        ("TXT", '"caf\\195\\169"', None),
        ("MX", "10 mx.example.test.", None),
        ("SRV", "0 5 5060 sip.example.test.", None),
        ("CAA", '0 issue "letsencrypt.org"', None),
    ],
)
def test_a_record_encodes_as_dnspython_does(rdtype: str, target: str, text: str | None) -> None:
    code = dns.rdatatype.from_text(rdtype).value
    wire, shown = encode_rdata(code, target)
    expected = dnspython(rdtype, target)
    assert wire == expected.to_wire()
    if text is None:  # kept as a zone transfer shows it
        assert shown == expected.to_text()
    else:  # A/AAAA as given, names absolute and lower case
        assert shown == text


def test_a_raw_txt_string_is_cut_into_255_byte_strings() -> None:
    raw = "x" * 600
    wire, shown = encode_rdata(dns.rdatatype.TXT.value, raw)
    strings = [b"x" * 255, b"x" * 255, b"x" * 90]
    assert wire == b"".join(bytes((len(s),)) + s for s in strings)
    assert shown == " ".join(f'"{s.decode()}"' for s in strings)
    # a raw string with a quote in it goes through dnspython, escaped when shown
    wire, shown = encode_rdata(dns.rdatatype.TXT.value, 'say "hi"')
    assert wire == b'\x08say "hi"'
    assert shown == '"say \\"hi\\""'


@given(TXT_TEXT)
def test_any_printable_txt_target_matches_dnspython(raw: str) -> None:
    quoted = '"' + raw.replace("\\", "\\\\").replace('"', '\\"')[:250] + '"'
    code = dns.rdatatype.TXT.value
    wire, shown = encode_rdata(code, quoted)
    expected = dnspython("TXT", quoted)
    assert wire == expected.to_wire()
    assert shown == expected.to_text()


@pytest.mark.parametrize(
    ("rdtype", "target"),
    [("A", "192.0.2.300"), ("A", "2001:db8::1"), ("AAAA", "192.0.2.1"), ("CNAME", "a..b")],
)
def test_a_target_the_type_cannot_hold_is_a_value_error(rdtype: str, target: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        encode_rdata(dns.rdatatype.from_text(rdtype).value, target)


@given(NAMES)
def test_name_labels_match_dnspython(name: str) -> None:
    assert name_labels(name) == dns.name.from_text(name).labels[:-1]
    assert name_labels(name + ".") == name_labels(name)


def test_names_outside_the_fast_path_are_parsed_by_dnspython() -> None:
    assert name_labels("Www.Example.Test") == (b"Www", b"Example", b"Test")
    assert name_labels("a\\.b.example.test") == (b"a.b", b"example", b"test")


@pytest.mark.parametrize(
    "name", ["a..b.test", "x" * 64 + ".test", ".".join(["abcdefghi"] * 26) + ".test", "."]
)
def test_a_name_the_wire_cannot_hold_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        name_labels(name)


def owner(name: str) -> tuple[bytes, ...]:
    return name_labels(name)


def a(name: str, ip: str, *, rdclass: int = CLASS_IN, ttl: int = 300) -> Rr:
    return Rr(owner(name), dns.rdatatype.A.value, rdclass, ttl, encode_rdata(1, ip)[0])


def test_a_signed_update_parses_back_with_every_section_and_a_valid_signature() -> None:
    prerequisites = [
        a("www.example.test", "192.0.2.1", ttl=0),  # holds exactly these values
        Rr(owner("new.example.test"), dns.rdatatype.A.value, CLASS_NONE, 0),  # no such rrset
        Rr(owner("cname.example.test"), TYPE_ANY, CLASS_NONE, 0),  # the name holds nothing
    ]
    updates = [
        Rr(owner("www.example.test"), dns.rdatatype.A.value, CLASS_ANY, 0),  # delete the rrset
        a("www.example.test", "192.0.2.2"),
        a("new.example.test", "192.0.2.3", ttl=60),
    ]
    request = render_update("example.test", prerequisites, updates, key=KEY)
    message = request.message()  # raises unless the TSIG verifies

    expected = dns.update.UpdateMessage("example.test", id=request.id)
    expected.present("www.example.test.", dns.rdataset.from_text("IN", "A", 0, "192.0.2.1"))
    expected.absent("new.example.test.", "A")
    expected.absent("cname.example.test.")
    expected.delete("www.example.test.", "A")
    expected.add("www.example.test.", 300, "A", "192.0.2.2")
    expected.add("new.example.test.", 60, "A", "192.0.2.3")
    assert isinstance(message, dns.update.UpdateMessage)
    assert message.opcode() == dns.opcode.UPDATE
    assert message.id == request.id
    assert message.keyname == KEY.name
    for section in ("zone", "prerequisite", "update"):
        got = [r.to_text() for r in getattr(message, section)]
        want = [r.to_text() for r in getattr(expected, section)]
        assert got == want, section
    # the same bytes as dnspython's own rendering, but for the message id and the signature
    unsigned = render_update("example.test", prerequisites, updates, key=None)
    assert unsigned.wire[2:] == expected.to_wire()[2:]
    assert unsigned.mac == b""
    assert unsigned.message().had_tsig is False


def test_a_tampered_message_fails_verification() -> None:
    request = render_update("example.test", [], [a("www.example.test", "192.0.2.1")], key=KEY)
    tampered = bytearray(request.wire)
    tampered[-80] ^= 0xFF  # inside the signed part or the MAC
    broken = UpdateRequest("example.test", bytes(tampered), request.id, KEY, request.mac)
    with pytest.raises(dns.exception.DNSException):
        broken.message()


@given(st.lists(st.tuples(NAMES, st.integers(0, 2**32 - 1)), min_size=1, max_size=40))
def test_compressed_messages_parse_back_to_the_records_written(
    records: list[tuple[str, int]],
) -> None:
    updates = [
        Rr(owner(f"{name}.example.test"), 1, CLASS_IN, 300, struct.pack("!I", ip))
        for name, ip in records
    ]
    request = render_update("example.test", [], updates, key=None)
    message = request.message()
    assert isinstance(message, dns.update.UpdateMessage)
    got = sorted(
        (rrset.name.to_text(omit_final_dot=True), rd.to_text())
        for rrset in message.update
        for rd in rrset
    )
    want = sorted(
        (f"{name}.example.test", socket.inet_ntoa(struct.pack("!I", ip))) for name, ip in records
    )
    assert got == want
    assert len(request.wire) <= 12 + 18 + sum(rr.max_bytes() for rr in updates)


class OneShotServer:
    """A TCP server on 127.0.0.1 that answers one message with what ``answer`` makes of it."""

    def __init__(self, answer: object) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            length = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))[0]
            wire = conn.recv(length, socket.MSG_WAITALL)
            assert callable(self.answer)
            reply: bytes = self.answer(wire)
            conn.sendall(struct.pack("!H", len(reply)) + reply)

    def close(self) -> None:
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def request_for_test() -> UpdateRequest:
    return render_update("example.test", [], [a("www.example.test", "192.0.2.1")], key=KEY)


def _signed_response(wire: bytes, *, new_id: int | None = None) -> bytes:
    query = dns.message.from_wire(wire, keyring={KEY.name: KEY})
    response = dns.message.make_response(query)
    if new_id is not None:
        response.id = new_id
    return response.to_wire()


@pytest.fixture
def served() -> Iterator[list[OneShotServer]]:
    servers: list[OneShotServer] = []
    yield servers
    for server in servers:
        server.close()


def test_the_response_is_read_and_its_signature_checked(
    request_for_test: UpdateRequest, served: list[OneShotServer]
) -> None:
    server = OneShotServer(_signed_response)
    served.append(server)
    response = send_update_tcp(request_for_test, host="127.0.0.1", port=server.port, timeout=5)
    assert response.id == request_for_test.id
    assert response.had_tsig


def test_a_response_to_another_message_is_refused(
    request_for_test: UpdateRequest, served: list[OneShotServer]
) -> None:
    server = OneShotServer(
        lambda wire: _signed_response(wire, new_id=struct.unpack("!H", wire[:2])[0] ^ 0x5555)
    )
    served.append(server)
    with pytest.raises(dns.exception.DNSException, match="does not answer"):
        send_update_tcp(request_for_test, host="127.0.0.1", port=server.port, timeout=5)


def test_an_unsigned_response_to_a_signed_update_is_refused(
    request_for_test: UpdateRequest, served: list[OneShotServer]
) -> None:
    def unsigned(wire: bytes) -> bytes:
        response = dns.message.make_response(dns.message.from_wire(wire, keyring={KEY.name: KEY}))
        response.keyring = None
        response.tsig = None
        return response.to_wire()

    server = OneShotServer(unsigned)
    served.append(server)
    with pytest.raises(dns.exception.DNSException):
        send_update_tcp(request_for_test, host="127.0.0.1", port=server.port, timeout=5)
