"""RFC2136 provider: any DNS server that takes dynamic updates (BIND9, Knot, PowerDNS, Windows).

Reads a zone by AXFR over TCP and writes with TSIG-signed UPDATE messages, one per zone per
:meth:`Rfc2136Provider.apply` (split only when a message would pass 65,535 bytes, and then only
between records: a record and its ownership TXT always travel in the same message, so a write cut
off between messages leaves no record without its ownership). Every record
it deletes or replaces is guarded by a prerequisite ("this rrset holds exactly these values"),
every record it creates by "this rrset does not exist" (and "no CNAME here", or for a new CNAME
"this name holds nothing", since a server silently ignores such an add), so an edit made out of
band since the last read fails the update (YXRRSET/NXRRSET/YXDOMAIN) instead of being silently
overwritten or dropped.

A zone is transferred again only when someone else moved its SOA serial: a quiet pass costs one
SOA query per zone. Our own UPDATE is applied to the zone as remembered, and the serial it produced
is adopted (read once after the write: one more per message than before means nobody else wrote in
between), so a write is never read back. When someone else moved the serial, only the difference
is transferred, by IXFR from the serial last known, and applied to the zone as remembered; a
server without that history answers with the whole zone. A failed transfer, a failed UPDATE or an
unexpected serial after our write drops what was remembered, and the next read is a full AXFR.
:meth:`Rfc2136Provider.records_named` answers from the same memory, by name.

TXT targets are in presentation form, each character-string double-quoted as in a zone file:
``"heritage=external-dns,external-dns/owner=x,external-dns/resource=ingress/a/b"``. A TXT target
that does not start with ``"`` is taken as one raw string (and reads back quoted).

All network I/O goes through one seam, :class:`DnsTransport`; the default is
:class:`DnspythonTransport`. dnspython's exceptions never leave this module: they become
:class:`~reconciler.model.errors.TransientProviderError` (timeouts, connection failures, SERVFAIL, a
failed prerequisite: a concurrent edit the next pass re-reads) or
:class:`~reconciler.model.errors.PermanentProviderError` (refused, bad key or signature), whose
message
names the server, the zone and the key name, never the secret.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tsig
import dns.xfr
import dns.zone

from providers.dns_wire import (
    CLASS_ANY,
    CLASS_IN,
    CLASS_NONE,
    TYPE_ANY,
    Rr,
    UpdateRequest,
    encode_rdata,
    name_labels,
    name_wire_length,
    render_update,
    send_update_tcp,
)
from reconciler.model.endpoint import (
    Changes,
    Endpoint,
    InvalidNameError,
    Label,
    RecordType,
    Update,
    normalize_name,
)
from reconciler.model.errors import (
    ConfigError,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from reconciler.model.zones import zone_for

__all__ = [
    "SUPPORTED_TSIG_ALGORITHMS",
    "DnsTransport",
    "DnspythonTransport",
    "Rfc2136Provider",
    "read_tsig_secret",
]

logger = logging.getLogger(__name__)

SUPPORTED_TSIG_ALGORITHMS: tuple[str, ...] = (
    "hmac-sha256",
    "hmac-sha384",
    "hmac-sha512",
    "hmac-sha1",
)
"""TSIG algorithms accepted (``hmac-sha1`` only with a warning: it is deprecated)."""

_ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
}
_WEAK_ALGORITHMS = frozenset({"hmac-sha1"})

# DNSSEC machinery (and BIND's private signing-state type 65534) is the server's business.
_SKIPPED_TYPES = frozenset(
    {
        dns.rdatatype.RRSIG,
        dns.rdatatype.NSEC,
        dns.rdatatype.NSEC3,
        dns.rdatatype.NSEC3PARAM,
        dns.rdatatype.DNSKEY,
        dns.rdatatype.CDS,
        dns.rdatatype.CDNSKEY,
        dns.rdatatype.DS,
        dns.rdatatype.RdataType.make(65534),
    }
)

MAX_MESSAGE_BYTES = 65_535
# Room for the header, the zone section and the TSIG record on top of the changes themselves.
_MESSAGE_OVERHEAD_BYTES = 1_024

_RR_FIXED_BYTES = 10  # type, class, TTL, rdlength
_TRANSPORT_ERRORS = (dns.exception.DNSException, OSError, EOFError)
_ZONE_EDIT_LIMIT = 500
"""Changes of one write above which the zone kept as the base of IXFR is dropped, not edited."""

_PREREQUISITE_FAILURES = frozenset(
    {dns.rcode.YXRRSET, dns.rcode.NXRRSET, dns.rcode.YXDOMAIN, dns.rcode.NXDOMAIN}
)


class DnsTransport(Protocol):
    """The provider's only I/O: send an UPDATE, ask for a SOA, transfer a zone.

    Implementations may raise dnspython exceptions and ``OSError``; the provider translates them.
    """

    def send_update(
        self, request: UpdateRequest, *, host: str, port: int, timeout: float
    ) -> dns.message.Message:
        """Send a (signed) UPDATE over TCP and return the server's response (its TSIG checked
        against ``request.mac``)."""
        ...

    def query_soa(
        self,
        zone: dns.name.Name,
        *,
        host: str,
        port: int,
        timeout: float,
        key: dns.tsig.Key | None,
    ) -> dns.message.Message:
        """Ask the server for the zone's SOA record and return its response."""
        ...

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
        """The zone as the server holds it now; names absolute (``relativize=False``).

        Without ``base``: the whole zone by AXFR over TCP. With ``base`` (the zone as last read,
        its SOA included): only what changed since its serial, by IXFR, applied to ``base`` in
        place; a server without the history answers with the whole zone, which replaces it.
        """
        ...


class DnspythonTransport:
    """The real transport: dnspython's blocking TCP/UDP queries."""

    def send_update(
        self, request: UpdateRequest, *, host: str, port: int, timeout: float
    ) -> dns.message.Message:
        """Send the UPDATE over TCP (updates can be large; TCP avoids truncation)."""
        return send_update_tcp(request, host=host, port=port, timeout=timeout)

    def query_soa(
        self,
        zone: dns.name.Name,
        *,
        host: str,
        port: int,
        timeout: float,
        key: dns.tsig.Key | None,
    ) -> dns.message.Message:
        """One SOA query over UDP, retried over TCP if truncated; signed when a key is set."""
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        if key is not None:
            query.use_tsig(key, key.name)
        response, _ = dns.query.udp_with_fallback(query, host, port=port, timeout=timeout)
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
        """AXFR into a new in-memory zone, or IXFR into ``base`` (dnspython asks for IXFR from
        the serial of a zone that has an SOA); ``timeout`` bounds the wait for each message."""
        holder = base if base is not None else dns.zone.Zone(zone, relativize=False)
        query, _ = dns.xfr.make_query(
            holder, keyring=key, keyname=key.name if key is not None else None
        )
        dns.query.inbound_xfr(host, holder, query, port=port, timeout=timeout)
        return holder


def read_tsig_secret(path: str | Path) -> str:
    """The base64 TSIG secret stored in ``path`` (for the CLI and mounted Secrets).

    The file holds either the bare secret or a BIND key clause as ``tsig-keygen`` writes it
    (``secret "...";``). Raises ConfigError naming the file, never quoting its content.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the TSIG secret file {file}: {type(exc).__name__}") from exc
    secret = text.strip()
    if "secret" in text and "{" in text:
        found = [
            line.split('"')[1]
            for line in text.splitlines()
            if line.strip().startswith("secret") and line.count('"') >= 2
        ]
        if len(found) != 1:
            raise ConfigError(f'{file}: expected exactly one `secret "...";` line in the key file')
        secret = found[0].strip()
    _decode_secret(secret, where=str(file))
    return secret


def _decode_secret(secret: str, *, where: str) -> bytes:
    try:
        decoded = base64.b64decode(secret.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ConfigError(f"{where}: the TSIG secret is not valid base64") from exc
    if not decoded:
        raise ConfigError(f"{where}: the TSIG secret is empty")
    return decoded


class _ZoneSnapshot:
    """One zone as last read, with this provider's own writes applied since."""

    def __init__(
        self, serial: int, zone: dns.zone.Zone | None, by_name: dict[str, tuple[Endpoint, ...]]
    ) -> None:
        self.serial = serial
        """The server's serial this state equals (read, or adopted after our own UPDATE)."""
        self.zone = zone
        """The zone itself: the base of the next incremental transfer (None: the next is full)."""
        self.by_name = by_name
        """Record sets (as endpoints) by owner name."""
        self._endpoints: tuple[Endpoint, ...] | None = None

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """Every record set, sorted by key."""
        if self._endpoints is None:
            everything = [e for group in self.by_name.values() for e in group]
            everything.sort(key=lambda e: e.key)
            self._endpoints = tuple(everything)
        return self._endpoints

    def replace_names(self, found: Mapping[str, list[Endpoint]]) -> None:
        """Record the record sets now held at some names (an empty list: nothing left)."""
        for name, endpoints in found.items():
            if endpoints:
                self.by_name[name] = tuple(endpoints)
            else:
                self.by_name.pop(name, None)
        self._endpoints = None


@dataclass(frozen=True, slots=True)
class _Rrset:
    """One record set in wire form, and the endpoint a zone transfer reads back for it."""

    owner: tuple[bytes, ...]
    rdtype: int
    ttl: int
    rdatas: tuple[bytes, ...]
    endpoint: Endpoint

    def records(self, *, rdclass: int = CLASS_IN, ttl: int | None = None) -> list[Rr]:
        """Its records: each value with ``rdclass`` and ``ttl`` (default: its own)."""
        at = self.ttl if ttl is None else ttl
        return [Rr(self.owner, self.rdtype, rdclass, at, rdata) for rdata in self.rdatas]

    def deletion(self) -> Rr:
        """ "Delete this RRset" (RFC 2136 2.5.2)."""
        return Rr(self.owner, self.rdtype, CLASS_ANY, 0)


@dataclass(frozen=True, slots=True)
class _Unit:
    """The part of an UPDATE message that one change needs; never split across messages."""

    names: tuple[str, ...]
    group: str
    """The record this change belongs to: a record and its ownership TXT share one group."""
    prerequisites: tuple[Rr, ...] = ()
    deletes: tuple[_Rrset, ...] = ()
    adds: tuple[_Rrset, ...] = ()

    def wire_bytes(self) -> int:
        """An upper bound of what the unit adds to a message (no name compression)."""
        size = sum(rr.max_bytes() for rr in self.prerequisites)
        for rrset in self.deletes:
            size += name_wire_length(rrset.owner) + _RR_FIXED_BYTES
        for rrset in self.adds:
            values = len(rrset.rdatas)
            size += (name_wire_length(rrset.owner) + _RR_FIXED_BYTES) * values
            size += sum(map(len, rrset.rdatas))
        return size


class Rfc2136Provider:
    """The Provider for RFC2136 servers: AXFR to read, TSIG-signed UPDATE to write.

    ``zones`` are the zones on the server this provider reads and writes. ``tsig_key_name`` and
    ``tsig_secret`` (base64) go together; without them updates and transfers are unsigned.
    ``transport`` is the I/O seam (default :class:`DnspythonTransport`); ``max_message_bytes``
    caps one UPDATE message (65,535, the DNS limit over TCP, unless a server wants less).
    """

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        zones: Sequence[str],
        tsig_key_name: str | None = None,
        tsig_algorithm: str = "hmac-sha256",
        tsig_secret: str | None = None,
        timeout: float = 10.0,
        default_ttl: int = 300,
        transport: DnsTransport | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        where = f"provider {name!r}"
        if not zones:
            raise ConfigError(f"{where}: at least one zone is required")
        try:
            self._zones: tuple[str, ...] = tuple(sorted({normalize_name(zone) for zone in zones}))
            self._zone_set = frozenset(self._zones)
        except InvalidNameError as exc:
            raise ConfigError(f"{where}: invalid zone name: {exc}") from exc
        if (tsig_key_name is None) != (tsig_secret is None):
            raise ConfigError(f"{where}: set both tsig_key_name and tsig_secret, or neither")
        algorithm = tsig_algorithm.lower().rstrip(".")
        if algorithm not in _ALGORITHMS:
            raise ConfigError(
                f"{where}: unsupported TSIG algorithm {tsig_algorithm!r}; "
                f"use one of {', '.join(SUPPORTED_TSIG_ALGORITHMS)}"
            )
        if timeout <= 0 or default_ttl < 0:
            raise ConfigError(f"{where}: timeout must be > 0 and default_ttl >= 0")
        self._key: dns.tsig.Key | None = None
        if tsig_key_name is not None and tsig_secret is not None:
            secret = _decode_secret(tsig_secret, where=f"{where}, key {tsig_key_name!r}")
            try:
                key_name = dns.name.from_text(tsig_key_name)
            except dns.exception.DNSException as exc:
                raise ConfigError(f"{where}: invalid TSIG key name {tsig_key_name!r}") from exc
            self._key = dns.tsig.Key(key_name, secret, algorithm=_ALGORITHMS[algorithm])
            if algorithm in _WEAK_ALGORITHMS:
                logger.warning(
                    "weak TSIG algorithm; prefer hmac-sha256 or stronger",
                    extra={"provider": name, "algorithm": algorithm, "key": tsig_key_name},
                )
        self._name = name
        self._host = host
        self._port = port
        self._algorithm = algorithm
        self._timeout = timeout
        self._default_ttl = default_ttl
        self._transport: DnsTransport = transport or DnspythonTransport()
        if not 2 * _MESSAGE_OVERHEAD_BYTES <= max_message_bytes <= MAX_MESSAGE_BYTES:
            raise ConfigError(
                f"{where}: max_message_bytes must lie between {2 * _MESSAGE_OVERHEAD_BYTES} "
                f"and {MAX_MESSAGE_BYTES}"
            )
        self._max_message_bytes = max_message_bytes
        self._cache: dict[str, _ZoneSnapshot] = {}
        self._generation = 0

    def __repr__(self) -> str:
        return (
            f"Rfc2136Provider(name={self._name!r}, server={self._server!r}, "
            f"zones={self._zones!r}, tsig_key_name={self._key_name!r}, "
            f"tsig_algorithm={self._algorithm!r})"
        )

    # --- the Provider protocol -----------------------------------------------------------

    @property
    def name(self) -> str:
        """The configured provider name."""
        return self._name

    def zones(self) -> Sequence[str]:
        """Normalised names of the configured zones, sorted."""
        return self._zones

    def records(self) -> Sequence[Endpoint]:
        """Every record set of every zone (AXFR only for zones whose SOA serial moved)."""
        out: list[Endpoint] = []
        for zone in self._zones:
            out.extend(self._zone_records(zone))
        return out

    def generation(self) -> int:
        """One SOA query per zone; a zone whose serial someone else moved is transferred (and
        counted)."""
        for zone in self._zones:
            self._current(zone)
        return self._generation

    def records_named(self, names: Collection[str]) -> Sequence[Endpoint]:
        """The record sets at these names: one SOA query per zone they lie in, and a transfer
        only when someone else moved its serial."""
        by_zone: dict[str, list[str]] = {}
        for name in names:
            zone = zone_for(name, self._zone_set)
            if zone is not None:
                by_zone.setdefault(zone, []).append(name)
        found: list[Endpoint] = []
        for zone, in_zone in sorted(by_zone.items()):
            held = self._current(zone).by_name
            for name in in_zone:
                found.extend(held.get(name, ()))
        found.sort(key=lambda e: e.key)
        return found

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Endpoints as they are: a TTL of None means "any" (the default TTL applies on create
        only, and an existing record keeps the TTL it has)."""
        return list(endpoints)

    def apply(self, changes: Changes) -> None:
        """Write ``changes``: one guarded UPDATE per zone, deletes before adds.

        Nothing is sent when a name lies outside every zone, and nothing of a zone when one of its
        targets cannot be encoded. Raises ProviderError naming the server, zone and key on the
        first zone that fails; zones before it stay written.
        """
        if changes.is_empty():
            return
        plan = self._plan_messages(changes)
        for zone, units in plan:
            messages = list(_split_groups(_grouped(units), self._max_message_bytes))
            for index, batch in enumerate(messages, start=1):
                try:
                    self._send_update(zone, batch, part=(index, len(messages)))
                except ProviderError:
                    # a refused or lost update: what was read may be wrong (a failed prerequisite
                    # says so), so the next read is a full transfer
                    self._cache.pop(zone, None)
                    raise
            self._remember_written(zone, messages)
            logger.debug(
                "rfc2136 zone updated",
                extra={
                    "provider": self._name,
                    "zone": zone,
                    "changes": len(units),
                    "messages": len(messages),
                },
            )

    # --- reading ------------------------------------------------------------------------

    @property
    def _server(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    def _address(self, zone: str, action: str) -> str:
        """The server's IP address: ``host`` itself, or what the name resolves to now."""
        try:
            ipaddress.ip_address(self._host)
        except ValueError:
            pass
        else:
            return self._host
        try:
            found = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise self._error(
                TransientProviderError,
                zone,
                action,
                f"cannot resolve the host name {self._host!r} ({exc}); give the server's IP "
                "address as host, or a name this machine resolves",
            ) from None
        return str(found[0][4][0])

    @property
    def _key_name(self) -> str | None:
        return None if self._key is None else self._key.name.to_text(omit_final_dot=True)

    def _zone_records(self, zone: str) -> tuple[Endpoint, ...]:
        return self._current(zone).endpoints

    def _current(self, zone: str) -> _ZoneSnapshot:
        """The zone as the server holds it: what we remember, unless its serial moved."""
        serial = self._soa_serial(zone)
        cached = self._cache.get(zone)
        if cached is not None and cached.serial == serial:
            logger.debug(
                "rfc2136 zone unchanged, transfer skipped",
                extra={"provider": self._name, "zone": zone, "serial": serial},
            )
            return cached
        snapshot = self._transfer(zone, base=None if cached is None else cached.zone)
        self._cache[zone] = snapshot
        self._generation += 1
        logger.debug(
            "rfc2136 zone transferred",
            extra={
                "provider": self._name,
                "zone": zone,
                "serial": snapshot.serial,
                "records": len(snapshot.endpoints),
                "incremental": cached is not None,
            },
        )
        return snapshot

    def _remember_written(self, zone: str, messages: Sequence[Sequence[_Unit]]) -> None:
        """Apply our own successful UPDATE messages to what we remember of ``zone``.

        The server's serial is read once: when it moved by exactly one per message (the
        server's increment method) nobody else wrote in between, and the state we remember plus
        our messages *is* the server's state at that serial, adopted without a transfer. Any
        other serial drops what we remember, so the next read transfers the whole zone.
        """
        cached = self._cache.get(zone)
        if cached is None:
            return
        try:
            serial = self._soa_serial(zone)
        except ProviderError as exc:
            self._cache.pop(zone, None)
            logger.debug(
                "rfc2136 serial not read after a write", extra={"zone": zone, "error": str(exc)}
            )
            return
        if serial != (cached.serial + len(messages)) % 2**32:
            self._cache.pop(zone, None)
            logger.debug(
                "rfc2136 zone written by someone else too: next read transfers it",
                extra={"provider": self._name, "zone": zone, "serial": serial},
            )
            return
        self._apply_to_memory(cached, zone, messages, serial)

    def _apply_to_memory(
        self,
        cached: _ZoneSnapshot,
        zone: str,
        messages: Sequence[Sequence[_Unit]],
        serial: int,
    ) -> None:
        """Our messages, applied to the records (and the IXFR base) we remember at ``serial``."""
        holder = cached.zone
        units = sum(len(batch) for batch in messages)
        if holder is not None and units > _ZONE_EDIT_LIMIT:
            # editing dnspython's zone costs more than one transfer would when someone else
            # writes next: keep the records, drop the base (that next read is a full AXFR)
            holder = cached.zone = None
        found: dict[str, list[Endpoint]] = {}

        def held(name: str) -> list[Endpoint]:
            if name not in found:
                found[name] = list(cached.by_name.get(name, ()))
            return found[name]

        for batch in messages:  # as the server applies each message: deletes, then adds
            for unit in batch:
                for rrset in unit.deletes:
                    if holder is not None:
                        holder.delete_rdataset(
                            _dns_name(rrset.owner), dns.rdatatype.RdataType.make(rrset.rdtype)
                        )
                    endpoints = held(rrset.endpoint.name)
                    rtype = rrset.endpoint.record_type
                    endpoints[:] = [e for e in endpoints if e.record_type != rtype]
            for unit in batch:
                for rrset in unit.adds:
                    if holder is not None:
                        holder.replace_rdataset(_dns_name(rrset.owner), _dns_rdataset(rrset))
                    if not self._read_back(rrset, zone):
                        continue
                    endpoint = rrset.endpoint
                    endpoints = held(endpoint.name)
                    endpoints[:] = [e for e in endpoints if e.record_type != endpoint.record_type]
                    endpoints.append(endpoint)
        if holder is not None:
            origin = holder.origin
            assert origin is not None  # zones are read with an origin
            soa = holder.find_rdataset(origin, dns.rdatatype.SOA)
            holder.replace_rdataset(
                origin, dns.rdataset.from_rdata(soa.ttl, soa[0].replace(serial=serial))
            )
        cached.serial = serial
        cached.replace_names(found)

    def _soa_serial(self, zone: str) -> int:
        origin = dns.name.from_text(zone)
        try:
            response = self._transport.query_soa(
                origin,
                host=self._address(zone, "SOA query"),
                port=self._port,
                timeout=self._timeout,
                key=self._key,
            )
        except _TRANSPORT_ERRORS as exc:
            self._raise_io_error(exc, zone, "SOA query")
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            self._raise_rcode(rcode, zone, "SOA query")
        rrset = response.get_rrset(response.answer, origin, dns.rdataclass.IN, dns.rdatatype.SOA)
        if rrset is None or len(rrset) == 0:
            raise self._error(
                PermanentProviderError,
                zone,
                "SOA query",
                "no SOA record in the answer: the server is not authoritative for the zone",
            )
        serial: int = rrset[0].serial
        return serial

    def _transfer(self, zone: str, *, base: dns.zone.Zone | None) -> _ZoneSnapshot:
        origin = dns.name.from_text(zone)
        action = "zone transfer (AXFR)" if base is None else "zone transfer (IXFR)"
        try:
            holder = self._transport.transfer_zone(
                origin,
                host=self._address(zone, action),
                port=self._port,
                timeout=self._timeout,
                key=self._key,
                base=base,
            )
        except _TRANSPORT_ERRORS as exc:
            # a failed incremental transfer may have left the base half-applied: start over
            self._cache.pop(zone, None)
            self._raise_io_error(exc, zone, action)
        serial: int | None = None
        by_name: dict[str, tuple[Endpoint, ...]] = {}
        for owner, rds in holder.iterate_rdatasets():
            if rds.rdtype == dns.rdatatype.SOA:
                serial = rds[0].serial
                continue
            endpoint = self._endpoint_at(owner, rds, zone, origin=origin)
            if endpoint is not None:
                # tuples: a tuple of one costs 56 bytes, a list of one 88
                by_name[endpoint.name] = (*by_name.get(endpoint.name, ()), endpoint)
        if serial is None:
            raise self._error(
                PermanentProviderError, zone, "zone transfer (AXFR)", "no SOA in the transfer"
            )
        return _ZoneSnapshot(serial=serial, zone=holder, by_name=by_name)

    def _endpoint_at(
        self,
        owner: dns.name.Name,
        rds: dns.rdataset.Rdataset,
        zone: str,
        *,
        origin: dns.name.Name | None,
    ) -> Endpoint | None:
        """The endpoint of one rdataset, or None for what is the server's business (the SOA,
        DNSSEC types, the apex NS)."""
        if rds.rdtype in _SKIPPED_TYPES or rds.rdtype == dns.rdatatype.SOA:
            return None
        if rds.rdtype == dns.rdatatype.NS and owner == origin:
            return None
        return self._endpoint_of(owner, rds, zone)

    @staticmethod
    def _read_back(rrset: _Rrset, zone: str) -> bool:
        """Whether a transfer reads ``rrset`` back as a record (see :meth:`_endpoint_at`)."""
        if rrset.rdtype in _SKIPPED_TYPES or rrset.rdtype == dns.rdatatype.SOA:
            return False
        return not (rrset.rdtype == dns.rdatatype.NS and rrset.endpoint.name == zone)

    def _endpoint_of(
        self, owner: dns.name.Name, rds: dns.rdataset.Rdataset, zone: str
    ) -> Endpoint | None:
        rtype = dns.rdatatype.to_text(rds.rdtype)
        try:
            return Endpoint.of(
                owner.to_text(omit_final_dot=True),
                rtype,
                [rd.to_text() for rd in rds],
                ttl=rds.ttl,
            )
        except InvalidNameError:
            logger.warning(
                "rfc2136 record skipped: name or target not representable",
                extra={"provider": self._name, "zone": zone, "record_type": rtype},
            )
            return None

    # --- writing ------------------------------------------------------------------------

    def _plan_messages(self, changes: Changes) -> Iterator[tuple[str, list[_Unit]]]:
        """Translate changes into per-zone units (deletes, then updates, then creates), one zone
        at a time: only one zone's encoded records are held at once. Names outside every zone
        raise before the first zone is planned."""
        outside = sorted(
            {e.name for e in _endpoints_of(changes) if zone_for(e.name, self._zone_set) is None}
        )
        if outside:
            raise PermanentProviderError(
                f"rfc2136 provider {self._name!r} ({self._server}): names outside its zones "
                f"{list(self._zones)}: {outside[:10]}; nothing was written",
                provider=self._name,
            )
        removed = {e.key for e in changes.delete} | {u.old.key for u in changes.update}
        deletes = list(changes.delete)
        updates: list[Update] = []
        creates = list(changes.create)
        for update in changes.update:
            if zone_for(update.old.name, self._zone_set) == zone_for(
                update.new.name, self._zone_set
            ):
                updates.append(update)
            else:  # a move across zones is a delete in one message and a create in another
                deletes.append(update.old)
                creates.append(update.new)
        touched = {key[0] for key in removed}
        by_zone: dict[str, tuple[list[Endpoint], list[Update], list[Endpoint]]] = {}

        def of_zone(name: str) -> tuple[list[Endpoint], list[Update], list[Endpoint]]:
            zone = zone_for(name, self._zone_set)
            assert zone is not None  # checked above
            return by_zone.setdefault(zone, ([], [], []))

        for old in deletes:
            of_zone(old.name)[0].append(old)
        for update in updates:
            of_zone(update.old.name)[1].append(update)
        for new in creates:
            of_zone(new.name)[2].append(new)
        for zone, (zone_deletes, zone_updates, zone_creates) in sorted(by_zone.items()):
            yield (
                zone,
                self._zone_units(
                    zone_deletes, zone_updates, zone_creates, removed=removed, touched=touched
                ),
            )

    def _zone_units(
        self,
        deletes: Sequence[Endpoint],
        updates: Sequence[Update],
        creates: Sequence[Endpoint],
        *,
        removed: Collection[tuple[str, str, str]],
        touched: Collection[str],
    ) -> list[_Unit]:
        units: list[_Unit] = []
        for old in deletes:
            held = self._rrset(old, ttl=old.ttl or 0)
            units.append(
                _Unit(
                    names=(old.name,),
                    group=_group_of(old),
                    prerequisites=tuple(held.records(ttl=0)),
                    deletes=(held,),
                )
            )
        for update in updates:
            held = self._rrset(update.old, ttl=update.old.ttl or 0)
            new = self._rrset(update.new, ttl=self._ttl(update.new))
            guards = held.records(ttl=0)
            if update.new.key != update.old.key and update.new.key not in removed:
                guards.append(Rr(new.owner, new.rdtype, CLASS_NONE, 0))
            units.append(
                _Unit(
                    names=tuple(sorted({update.old.name, update.new.name})),
                    group=_group_of(update.new),
                    prerequisites=tuple(guards),
                    deletes=(held,),
                    adds=(new,),
                )
            )
        # A server ignores (and answers NOERROR to) the add of a CNAME beside other data, or of
        # other data beside a CNAME (RFC 2136 3.4.2.2): guard so that such a race fails loudly.
        for created in creates:
            new = self._rrset(created, ttl=self._ttl(created))
            absent: list[Rr] = []
            is_cname = created.record_type == RecordType.CNAME
            if is_cname and created.name not in touched:
                absent.append(Rr(new.owner, TYPE_ANY, CLASS_NONE, 0))  # the name holds nothing
            elif created.key not in removed:
                absent.append(Rr(new.owner, new.rdtype, CLASS_NONE, 0))
            cname_key = (created.name, RecordType.CNAME.value, created.set_identifier)
            if not is_cname and cname_key not in removed:
                absent.append(Rr(new.owner, dns.rdatatype.CNAME.value, CLASS_NONE, 0))
            units.append(
                _Unit(
                    names=(created.name,),
                    group=_group_of(created),
                    prerequisites=tuple(absent),
                    adds=(new,),
                )
            )
        return units

    def _ttl(self, endpoint: Endpoint) -> int:
        return self._default_ttl if endpoint.ttl is None else endpoint.ttl

    def _rrset(self, endpoint: Endpoint, *, ttl: int) -> _Rrset:
        """``endpoint`` in wire form, with ``ttl``, and as a transfer would read it back."""
        try:
            rdtype = _type_code(endpoint.record_type)
            if not endpoint.targets:
                raise ValueError("no targets")
            if rdtype == dns.rdatatype.CNAME and len(endpoint.targets) > 1:
                raise ValueError("a CNAME holds exactly one target")
            targets = endpoint.targets
            if len(targets) == 1:  # the usual record set: one value
                rdata, text = encode_rdata(rdtype, targets[0])
                rdatas: tuple[bytes, ...] = (rdata,)
                texts: tuple[str, ...] = (text,)
            else:
                encoded = [encode_rdata(rdtype, target) for target in targets]
                texts = tuple(text for _, text in encoded)
                # a server holds a value once, whatever the spellings that encode to it
                rdatas = tuple(dict.fromkeys(rdata for rdata, _ in encoded))
            name = endpoint.name
            if texts == endpoint.targets and rdtype in _AS_GIVEN and name == name.lower():
                # an A target inet_pton takes and a TXT target in presentation form read back
                # as they are: the endpoint is already what Endpoint.of would make of them
                read_back = Endpoint(name, endpoint.record_type, texts, ttl)
            else:
                read_back = Endpoint.of(name, endpoint.record_type, texts, ttl=ttl)
            return _Rrset(
                owner=name_labels(name),
                rdtype=rdtype,
                ttl=ttl,
                rdatas=rdatas,
                endpoint=read_back,
            )
        except (dns.exception.DNSException, ValueError, InvalidNameError) as exc:
            raise PermanentProviderError(
                f"rfc2136 provider {self._name!r}: cannot encode {endpoint.record_type} record "
                f"{endpoint.name!r}: {exc}; nothing was written",
                provider=self._name,
            ) from exc

    def _send_update(self, zone: str, units: Sequence[_Unit], *, part: tuple[int, int]) -> None:
        prerequisites = [rr for unit in units for rr in unit.prerequisites]
        updates = [rrset.deletion() for unit in units for rrset in unit.deletes]
        updates += [rr for unit in units for rrset in unit.adds for rr in rrset.records()]
        request = render_update(zone, prerequisites, updates, key=self._key)
        action = "update" if part[1] == 1 else f"update (message {part[0]} of {part[1]})"
        try:
            response = self._transport.send_update(
                request, host=self._address(zone, action), port=self._port, timeout=self._timeout
            )
        except _TRANSPORT_ERRORS as exc:
            self._raise_io_error(exc, zone, action)
        rcode = response.rcode()
        if rcode != dns.rcode.NOERROR:
            names = sorted({n for unit in units for n in unit.names})
            self._raise_rcode(rcode, zone, action, names=names)

    # --- errors -------------------------------------------------------------------------

    def _error(
        self, kind: type[ProviderError], zone: str, action: str, detail: str
    ) -> ProviderError:
        key = f"TSIG key {self._key_name!r}" if self._key is not None else "no TSIG key"
        return kind(
            f"rfc2136 {action} of zone {zone!r} on {self._server} ({key}): {detail}",
            provider=self._name,
            zone=zone,
        )

    def _raise_io_error(
        self, exc: dns.exception.DNSException | OSError | EOFError, zone: str, action: str
    ) -> NoReturn:
        """Translate a transport exception into the project's error hierarchy."""
        kind: type[ProviderError]
        if isinstance(exc, dns.tsig.PeerBadKey):
            kind, detail = PermanentProviderError, "the server does not know this TSIG key"
        elif isinstance(exc, dns.tsig.PeerBadSignature):
            kind, detail = (
                PermanentProviderError,
                "the server rejected the TSIG signature (wrong secret or algorithm)",
            )
        elif isinstance(exc, dns.tsig.PeerBadTime):
            kind, detail = (
                PermanentProviderError,
                "the server rejected the TSIG time (clocks differ by more than the fudge)",
            )
        elif isinstance(exc, dns.tsig.PeerError):
            kind, detail = PermanentProviderError, f"TSIG error from the server: {exc}"
        elif isinstance(exc, dns.xfr.TransferError):
            self._raise_rcode(exc.rcode, zone, action, cause=exc)
        elif isinstance(exc, (dns.exception.Timeout, TimeoutError)):
            kind, detail = TransientProviderError, f"no answer within {self._timeout}s"
        elif isinstance(exc, ConnectionRefusedError):
            kind, detail = TransientProviderError, "connection refused"
        elif isinstance(exc, (OSError, EOFError)):
            kind, detail = TransientProviderError, f"network error: {type(exc).__name__}: {exc}"
        elif isinstance(exc, (dns.tsig.BadSignature, dns.tsig.BadKey, dns.tsig.BadTime)):
            kind, detail = (
                PermanentProviderError,
                f"the server's response failed TSIG verification: {type(exc).__name__}",
            )
        else:
            kind, detail = PermanentProviderError, f"DNS error: {type(exc).__name__}: {exc}"
        raise self._error(kind, zone, action, detail) from exc

    def _raise_rcode(
        self,
        rcode: int,
        zone: str,
        action: str,
        *,
        names: Sequence[str] = (),
        cause: BaseException | None = None,
    ) -> NoReturn:
        text = dns.rcode.to_text(dns.rcode.Rcode.make(rcode))
        kind: type[ProviderError] = PermanentProviderError
        if rcode in _PREREQUISITE_FAILURES:
            # a concurrent edit: the next pass re-reads the zone and plans again
            kind = TransientProviderError
            detail = (
                f"{text}: a prerequisite failed, records changed out of band since they were "
                "read; nothing in this message was written, the next pass re-reads the zone"
            )
        elif rcode == dns.rcode.REFUSED:
            detail = (
                f"{text}: the server refused (is the key allowed to update/transfer this zone, "
                "and is the request signed?)"
            )
        elif rcode == dns.rcode.NOTAUTH:
            detail = f"{text}: the server is not authoritative for the zone or rejected the key"
        elif rcode == dns.rcode.SERVFAIL:
            kind, detail = TransientProviderError, f"{text}: the server failed"
        else:
            detail = f"{text}: the server rejected the request"
        if names:
            shown = ", ".join(names[:10]) + (" …" if len(names) > 10 else "")
            detail += f"; names: {shown}"
        raise self._error(kind, zone, action, detail) from cause


def _endpoints_of(changes: Changes) -> Iterator[Endpoint]:
    yield from changes.create
    yield from changes.delete
    for update in changes.update:
        yield update.old
        yield update.new


def _type_code(record_type: str) -> int:
    """The numeric type of a record type's name (``A``, ``TYPE65534``); ValueError if unknown."""
    code = _TYPE_CODES.get(record_type)
    if code is None:
        try:
            code = _TYPE_CODES[record_type] = dns.rdatatype.from_text(record_type).value
        except dns.exception.DNSException as exc:
            raise ValueError(f"unknown record type {record_type!r}") from exc
    return code


_TYPE_CODES: dict[str, int] = {}
_AS_GIVEN = frozenset({dns.rdatatype.A.value, dns.rdatatype.TXT.value})


def _dns_name(owner: tuple[bytes, ...]) -> dns.name.Name:
    return dns.name.Name((*owner, b""))


def _dns_rdataset(rrset: _Rrset) -> dns.rdataset.Rdataset:
    rdtype = dns.rdatatype.RdataType.make(rrset.rdtype)
    rdatas = [
        dns.rdata.from_wire(dns.rdataclass.IN, rdtype, rdata, 0, len(rdata))
        for rdata in rrset.rdatas
    ]
    return dns.rdataset.from_rdata_list(rrset.ttl, rdatas)


def _group_of(endpoint: Endpoint) -> str:
    """The record a change belongs to: its own name, or for an ownership TXT the record it owns."""
    return endpoint.labels.get(Label.OWNED_RECORD, "") or endpoint.name


def _grouped(units: Sequence[_Unit]) -> list[list[_Unit]]:
    """Units by group (a record with its ownership TXT), each group in the order given."""
    groups: dict[str, list[_Unit]] = {}
    for unit in units:
        groups.setdefault(unit.group, []).append(unit)
    return [groups[key] for key in sorted(groups)]


def _split_groups(groups: Sequence[Sequence[_Unit]], max_bytes: int) -> Iterable[list[_Unit]]:
    """Messages under ``max_bytes``, each holding whole groups only.

    A record and its ownership TXT are never split across two messages, so whatever message a
    write is cut off at, every record written so far has its ownership written with it.
    """
    budget = max_bytes - _MESSAGE_OVERHEAD_BYTES
    batch: list[_Unit] = []
    used = 0
    for group in groups:
        size = sum(unit.wire_bytes() for unit in group)
        if batch and used + size > budget:
            yield batch
            batch, used = [], 0
        batch.extend(group)
        used += size
    if batch:
        yield batch
