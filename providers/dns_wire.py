"""DNS UPDATE messages (RFC 2136) written straight into wire form, TSIG-signed by dnspython.

The RFC2136 provider writes thousands of records in one pass; building dnspython's ``Rdata``,
``Rdataset`` and ``UpdateMessage`` objects for each and rendering them again cost more CPU than
the rest of the pass. Here a record is encoded once, from its text, into the bytes that go on the
wire: A, AAAA, CNAME and TXT directly, any other type through dnspython's parser. A message is
the header, the zone, the prerequisite and update sections (names compressed, RFC 1035 4.1.4)
and the TSIG record (:func:`dns.tsig.sign`, RFC 8945). dnspython still reads every response and
checks its signature.

Each encoded record also carries its presentation form as a zone transfer reads it back, so the
provider can apply its own write to the zone it remembers without asking the server.
"""

from __future__ import annotations

import re
import secrets
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import dns.exception
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.rdtypes.ANY.TXT
import dns.tsig

__all__ = [
    "CLASS_ANY",
    "CLASS_IN",
    "CLASS_NONE",
    "TYPE_ANY",
    "Rr",
    "UpdateRequest",
    "encode_rdata",
    "name_labels",
    "name_wire_length",
    "render_update",
    "send_update_tcp",
]

CLASS_IN = 1
CLASS_NONE = 254
CLASS_ANY = 255
TYPE_ANY = 255
_TYPE_SOA = 6
_TYPE_TSIG = 250
_OPCODE_UPDATE_FLAGS = 5 << 11
_FLAG_QR = 0x8000
_TSIG_FUDGE = 300
_MAX_LABEL = 63
_MAX_NAME_WIRE = 255
_TXT_STRING_BYTES = 255
_POINTER_LIMIT = 0x3FFF
_PLAIN_NAME_RE = re.compile(rb"[a-z0-9_*.-]+")
_PLAIN_TXT_RE = re.compile(rb"[ !#-\[\]-~]*")
"""Printable ASCII but for the quote and the backslash: shown as they are, without escapes."""

# dnspython's untyped callables, typed for this module
_TSIG: Callable[..., Any] = dns.rdtypes.ANY.TSIG.TSIG
_SIGN: Callable[..., tuple[Any, Any]] = dns.tsig.sign
_BAD_RESPONSE: Callable[[str], Exception] = dns.query.BadResponse

_A = dns.rdatatype.A.value
_AAAA = dns.rdatatype.AAAA.value
_CNAME = dns.rdatatype.CNAME.value
_TXT = dns.rdatatype.TXT.value


class Rr(NamedTuple):
    """One resource record of an UPDATE: owner labels (no root label), type, class, TTL, rdata."""

    owner: tuple[bytes, ...]
    rdtype: int
    rdclass: int
    ttl: int
    rdata: bytes = b""

    def max_bytes(self) -> int:
        """Its size on the wire without name compression (an upper bound)."""
        return name_wire_length(self.owner) + 10 + len(self.rdata)


def name_labels(name: str) -> tuple[bytes, ...]:
    """The labels of an absolute name (``a.example.test``), root label left off.

    Raises ValueError for an empty label or a name or label too long for the wire.
    """
    raw = name.encode("ascii") if name.isascii() else b""
    if raw.endswith(b"."):
        raw = raw[:-1]
    if raw and _PLAIN_NAME_RE.fullmatch(raw):
        labels = tuple(raw.split(b"."))
        if b"" not in labels and max(map(len, labels)) <= _MAX_LABEL and len(raw) + 2 <= 255:
            return labels
    else:
        try:
            parsed = dns.name.from_text(name, origin=dns.name.root)
        except dns.exception.DNSException as exc:
            raise ValueError(f"{name!r} is not a DNS name: {exc}") from None
        labels = tuple(parsed.labels[:-1])
    if not labels or b"" in labels or max(map(len, labels)) > _MAX_LABEL:
        raise ValueError(f"{name!r}: a label is empty or longer than 63 bytes")
    if name_wire_length(labels) > _MAX_NAME_WIRE:
        raise ValueError(f"{name!r}: longer than 255 bytes on the wire")
    return labels


def name_wire_length(labels: tuple[bytes, ...]) -> int:
    """Bytes of a name's uncompressed wire form (a length byte per label and the root)."""
    return sum(map(len, labels)) + len(labels) + 1


def _name_wire(labels: tuple[bytes, ...]) -> bytes:
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def encode_rdata(rdtype: int, target: str) -> tuple[bytes, str]:
    """One target in wire form, and its presentation form as a zone transfer reads it back.

    A TXT target that starts with ``"`` is presentation form (``"a" "b"``); any other TXT target is
    one raw string, cut into 255-byte character-strings. Raises ValueError for a target the type
    cannot hold.
    """
    try:
        if rdtype == _A:
            return socket.inet_pton(socket.AF_INET, target), target
        if rdtype == _AAAA:
            return socket.inet_pton(socket.AF_INET6, target), target
    except OSError:
        raise ValueError(f"{target!r} is not an IP address of the record's type") from None
    if rdtype == _CNAME:
        labels = name_labels(target)
        return _name_wire(labels), ".".join(label.decode("ascii") for label in labels) + "."
    if rdtype == _TXT:
        strings = _txt_strings(target)
        if strings is not None and len(strings) == 1 and _PLAIN_TXT_RE.fullmatch(strings[0]):
            # one plain string: quoted, it is its own presentation form
            string = strings[0]
            text = target if target.startswith('"') else f'"{string.decode("ascii")}"'
            return bytes((len(string),)) + string, text
        if strings is not None and all(_PLAIN_TXT_RE.fullmatch(s) for s in strings):
            wire = b"".join(bytes((len(s),)) + s for s in strings)
            return wire, " ".join(f'"{s.decode("ascii")}"' for s in strings)
    try:
        if rdtype == _TXT and not target.startswith('"'):
            strings = _chunks(target.encode("utf-8"))
            rdata: dns.rdata.Rdata = dns.rdtypes.ANY.TXT.TXT(
                dns.rdataclass.IN, dns.rdatatype.TXT, strings
            )
        else:
            rdata = dns.rdata.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.RdataType.make(rdtype),
                target,
                origin=dns.name.root,
                relativize=False,
            )
        return rdata.to_wire() or b"", rdata.to_text()
    except (dns.exception.DNSException, ValueError) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None


def _chunks(raw: bytes) -> list[bytes]:
    return [raw[i : i + _TXT_STRING_BYTES] for i in range(0, len(raw), _TXT_STRING_BYTES)] or [b""]


def _txt_strings(target: str) -> list[bytes] | None:
    """The character-strings of a plain TXT target: one raw string, or ``"a" "b"`` without
    escapes and each at most 255 bytes; None for anything else (dnspython parses it)."""
    if not target.startswith('"'):
        return _chunks(target.encode("utf-8"))
    plain_one = target.count('"') == 2 and target.endswith('"') and "\\" not in target
    if plain_one and len(target) <= _TXT_STRING_BYTES + 2:  # the common case: one string
        return [target[1:-1].encode("utf-8")]
    if "\\" in target or not target.endswith('"'):
        return None
    parts = target.split('"')
    # '"a" "b"' splits into ['', 'a', ' ', 'b', '']: strings at odd places, single spaces between
    if len(parts) % 2 == 0 or any(p != " " for p in parts[2:-1:2]) or parts[0] or parts[-1]:
        return None
    strings = [p.encode("utf-8") for p in parts[1::2]]
    if any(len(s) > _TXT_STRING_BYTES for s in strings):
        return None
    return strings


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """One signed UPDATE message as sent: its bytes, id and the MAC its response must answer."""

    zone: str
    wire: bytes
    id: int
    key: dns.tsig.Key | None
    mac: bytes

    def message(self) -> dns.message.Message:
        """The message parsed back by dnspython (its signature checked): for tests and tools."""
        keyring = None if self.key is None else {self.key.name: self.key}
        return dns.message.from_wire(self.wire, keyring=keyring)


class _Writer:
    """Wire output with RFC 1035 name compression (pointers to names already written)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0
        self._offsets: dict[tuple[bytes, ...], int] = {}

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def name(self, labels: tuple[bytes, ...]) -> None:
        offsets = self._offsets
        out = bytearray()
        for i in range(len(labels)):
            suffix = labels[i:]
            known = offsets.get(suffix)
            if known is not None:
                out += struct.pack("!H", 0xC000 | known)
                self.write(bytes(out))
                return
            at = self.size + len(out)
            if at <= _POINTER_LIMIT:
                offsets[suffix] = at
            label = labels[i]
            out.append(len(label))
            out += label
        out.append(0)
        self.write(bytes(out))

    def rr(self, rr: Rr) -> None:
        self.name(rr.owner)
        self.write(struct.pack("!HHIH", rr.rdtype, rr.rdclass, rr.ttl, len(rr.rdata)) + rr.rdata)


def render_update(
    zone: str,
    prerequisites: Iterable[Rr],
    updates: Iterable[Rr],
    *,
    key: dns.tsig.Key | None,
) -> UpdateRequest:
    """An UPDATE of ``zone`` (class IN): prerequisites, then updates, signed with ``key``."""
    msg_id = secrets.randbits(16)
    out = _Writer()
    out.write(b"\x00" * 12)  # the header, written last
    out.name(name_labels(zone))
    out.write(struct.pack("!HH", _TYPE_SOA, CLASS_IN))
    counts = [0, 0]
    for section, rrs in enumerate((prerequisites, updates)):
        for rr in rrs:
            out.rr(rr)
            counts[section] += 1
    out.parts[0] = struct.pack("!HHHHHH", msg_id, _OPCODE_UPDATE_FLAGS, 1, counts[0], counts[1], 0)
    wire = b"".join(out.parts)
    if key is None:
        return UpdateRequest(zone=zone, wire=wire, id=msg_id, key=None, mac=b"")
    unsigned = _TSIG(
        dns.rdataclass.ANY,
        dns.rdatatype.TSIG,
        key.algorithm,
        0,
        _TSIG_FUDGE,
        b"",
        msg_id,
        0,
        b"",
    )
    signed, _ = _SIGN(wire, key, unsigned, int(time.time()), b"")
    tsig: bytes = signed.to_wire()
    wire = (
        wire[:10]
        + struct.pack("!H", 1)
        + wire[12:]
        + _name_wire(tuple(key.name.labels[:-1]))
        + struct.pack("!HHIH", _TYPE_TSIG, CLASS_ANY, 0, len(tsig))
        + tsig
    )
    return UpdateRequest(zone=zone, wire=wire, id=msg_id, key=key, mac=signed.mac)


def send_update_tcp(
    request: UpdateRequest, *, host: str, port: int, timeout: float
) -> dns.message.Message:
    """Send ``request`` over TCP and read the response, its TSIG checked against the request's."""
    expiration = time.time() + timeout
    keyring = None if request.key is None else {request.key.name: request.key}
    with socket.create_connection((host, port), timeout=timeout) as sock:
        dns.query.send_tcp(sock, request.wire, expiration)
        response, _ = dns.query.receive_tcp(
            sock, expiration, keyring=keyring, request_mac=request.mac
        )
    if (
        response.id != request.id
        or not response.flags & _FLAG_QR
        or response.opcode() != dns.opcode.UPDATE
    ):
        raise _BAD_RESPONSE("the response does not answer the UPDATE sent")
    return response
