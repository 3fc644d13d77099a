"""The benchmark's pure parts: percentiles, call counting, Route53 batch targets, BIND log parsing.

Nothing here starts a process or touches the network; the runner (:mod:`bench.run`) feeds these
functions what it observed (moto's request recording, BIND's query log, measured latencies), and
the unit tests feed them tables.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from e2e.servers.moto import action_of

__all__ = [
    "ApiCall",
    "LatencySummary",
    "QueryLogEntry",
    "change_batch_target",
    "change_calls_per_zone",
    "count_actions",
    "parse_query_log_line",
    "parse_recorded_call",
    "percentile",
    "queries_per_zone",
    "record_set_cost",
    "recorded_entries",
    "summarize_latencies",
    "zone_of",
]

ROUTE53_MAX_VALUES = 1000
"""Route53: at most 1,000 ResourceRecord values per ChangeResourceRecordSets call."""
ROUTE53_MAX_CHARS = 32000
"""Route53: at most 32,000 characters of values per ChangeResourceRecordSets call."""

_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")
_ZONE_PATH = re.compile(r"^/2013-04-01/hostedzone/([^/]+)/rrset/?$")
# named's query log: "... client @0x.. 127.0.0.1#5353 (name): query: name IN SOA -E(0)K (127.0.0.1)"
_QUERY = re.compile(r"\bquery: (?P<name>\S+) (?P<cls>\S+) (?P<type>\S+) ")
# named's update log, one line per record changed:
# "... client @0x7fa6 127.0.0.1#55110/key k: updating zone 'zone/IN': adding an RR at ..."
_UPDATE = re.compile(
    r"\bclient (?P<client>\S+ \S+?)(?:/key \S+)?: updating zone '(?P<zone>[^/']+)/"
)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values`` by linear interpolation between ranks.

    The same definition as numpy's default ("linear"): p0 is the minimum, p100 the maximum.
    Raises ValueError for an empty sequence or ``q`` outside 0..100.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Latencies of the changes that arrived, and how many never did before the deadline."""

    count: int
    """Changes that arrived."""
    missed: int
    """Changes that had not arrived at the deadline (not part of the percentiles)."""
    p50: float | None
    """Median in seconds (None when nothing arrived)."""
    p99: float | None
    """99th percentile in seconds (None when nothing arrived)."""
    max: float | None
    """Slowest in seconds (None when nothing arrived)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "count": self.count,
            "missed": self.missed,
            "p50": self.p50,
            "p99": self.p99,
            "max": self.max,
        }


def summarize_latencies(latencies: Sequence[float | None]) -> LatencySummary:
    """p50/p99/max over the arrived changes; ``None`` entries are changes that never arrived."""
    arrived = [x for x in latencies if x is not None]
    missed = len(latencies) - len(arrived)
    if not arrived:
        return LatencySummary(count=0, missed=missed, p50=None, p99=None, max=None)
    return LatencySummary(
        count=len(arrived),
        missed=missed,
        p50=percentile(arrived, 50),
        p99=percentile(arrived, 99),
        max=max(arrived),
    )


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One AWS request as moto recorded it, with the access key that signed it."""

    access_key: str
    """The access key id of the SigV4 credential ("" for unsigned requests)."""
    service: str
    """SigV4 service, e.g. ``route53``; ``moto-api`` for moto's own unsigned API."""
    action: str
    """API action, e.g. ``ChangeResourceRecordSets``."""
    path: str
    """URL path (Route53 names the hosted zone in it)."""


def recorded_entries(text: str) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of moto's recording, and how many pieces of it could not be read.

    moto writes an entry and its newline as two unlocked writes, so two entries can share a line
    (``{...}{...}``) and a line can be empty: the text is read as a stream of JSON objects, not as
    one object per line. Whatever does not decode (a torn entry) is skipped up to the next ``{``
    and counted, so one bad entry never loses the others.
    """
    decoder = json.JSONDecoder()
    entries: list[dict[str, Any]] = []
    unreadable = 0
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos >= end:
            return entries, unreadable
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            unreadable += 1
            following = text.find("{", pos + 1)
            if following < 0:
                return entries, unreadable
            pos = following
            continue
        if isinstance(value, dict):
            entries.append(value)
        else:
            unreadable += 1


def parse_recorded_call(entry: Mapping[str, Any]) -> ApiCall:
    """One line of moto's request recording (already JSON-decoded) as an :class:`ApiCall`."""
    headers: Mapping[str, str] = entry.get("headers") or {}
    raw = entry.get("body") or ""
    body = base64.b64decode(raw) if entry.get("body_encoded") else str(raw).encode()
    method = str(entry.get("method", ""))
    url = str(entry.get("url", ""))
    service, action = action_of(method, url, headers, body)
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    match = _CREDENTIAL.search(authorization)
    return ApiCall(
        access_key=match.group(1) if match else "",
        service=service,
        action=action,
        path=urlsplit(url).path,
    )


def count_actions(
    calls: Iterable[ApiCall], *, access_key: str | None = None, service: str | None = None
) -> Counter[str]:
    """Calls per action, of one signer and/or one service when given."""
    return Counter(
        c.action
        for c in calls
        if (access_key is None or c.access_key == access_key)
        and (service is None or c.service == service)
    )


def change_calls_per_zone(
    calls: Iterable[ApiCall], zone_names: Mapping[str, str], *, access_key: str | None = None
) -> Counter[str]:
    """ChangeResourceRecordSets calls per zone name (``zone_names`` maps hosted zone id -> name).

    Ids are matched with or without the ``/hostedzone/`` prefix; an unknown id counts under itself.
    """
    names = {k.rsplit("/", 1)[-1]: v for k, v in zone_names.items()}
    out: Counter[str] = Counter()
    for call in calls:
        if call.action != "ChangeResourceRecordSets":
            continue
        if access_key is not None and call.access_key != access_key:
            continue
        match = _ZONE_PATH.match(call.path)
        zone_id = match.group(1) if match else call.path
        out[names.get(zone_id, zone_id)] += 1
    return out


def record_set_cost(values: Sequence[str], *, upsert: bool = False) -> tuple[int, int]:
    """(values, characters) one record set adds to a change batch; an UPSERT counts twice."""
    factor = 2 if upsert else 1
    return factor * len(values), factor * sum(len(v) for v in values)


def change_batch_target(values: int, chars: int) -> int:
    """Fewest ChangeResourceRecordSets calls for a zone's changes: ceil(max(v/1000, c/32000))."""
    if values < 0 or chars < 0:
        raise ValueError("values and characters cannot be negative")
    return max(
        math.ceil(values / ROUTE53_MAX_VALUES),
        math.ceil(chars / ROUTE53_MAX_CHARS),
    )


def zone_of(name: str, zones: Iterable[str]) -> str | None:
    """The longest of ``zones`` that ``name`` is in (case-insensitive, trailing dots ignored)."""
    lowered = name.lower().rstrip(".")
    best: str | None = None
    for zone in zones:
        z = zone.lower().rstrip(".")
        if (lowered == z or lowered.endswith("." + z)) and (best is None or len(z) > len(best)):
            best = z
    return best


@dataclass(frozen=True, slots=True)
class QueryLogEntry:
    """One request BIND logged: the name asked about and its kind (SOA, AXFR, A, UPDATE...)."""

    name: str
    """Query name, or the zone of an UPDATE; lower case, no trailing dot."""
    kind: str
    """Query type (``SOA``, ``AXFR``, ``IXFR``, ``A``, ``TXT``...) or ``UPDATE``."""
    message: str = ""
    """For an UPDATE: the client handle and address, the same on every line of one message."""


def parse_query_log_line(line: str) -> QueryLogEntry | None:
    """A ``queries`` or ``update`` line of named's log; None for any other line.

    named logs one ``updating zone`` line per record an UPDATE changes; :attr:`message` tells
    the messages apart (client handle and source address and port).
    """
    match = _QUERY.search(line)
    if match is not None:
        return QueryLogEntry(name=match["name"].lower().rstrip("."), kind=match["type"].upper())
    update = _UPDATE.search(line)
    if update is not None:
        return QueryLogEntry(
            name=update["zone"].lower().rstrip("."), kind="UPDATE", message=update["client"]
        )
    return None


def queries_per_zone(lines: Iterable[str], zones: Sequence[str]) -> dict[str, dict[str, int]]:
    """Requests per zone and kind from named's log lines; names outside ``zones`` are skipped.

    Consecutive ``updating zone`` lines of one message count as one UPDATE.
    """
    out: dict[str, Counter[str]] = {z.lower().rstrip("."): Counter() for z in zones}
    last_update: tuple[str, str] | None = None
    for line in lines:
        entry = parse_query_log_line(line)
        if entry is None:
            continue
        zone = zone_of(entry.name, zones)
        if zone is None:
            continue
        if entry.kind == "UPDATE":
            if last_update == (zone, entry.message):
                continue
            last_update = (zone, entry.message)
        out[zone][entry.kind] += 1
    return {zone: dict(sorted(counts.items())) for zone, counts in sorted(out.items())}
