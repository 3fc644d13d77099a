"""Zone snapshots: what DNS held, saved to a file, so that ``plan`` can run without DNS servers.

Two formats are read:

- the JSON snapshot ``plan --save-zones FILE`` writes::

      {"kind": "ingress-reconciler/zone-snapshot",
       "providers": {"<provider name>": {"zones": ["example.test"],
                                          "records": [{"name", "type", "targets", "ttl",
                                                       "setIdentifier", "providerSpecific"}]}}}

- RFC 1035 zone files (a file, or every file of a directory), one zone each: the zone is the file's
  ``$ORIGIN``, else its file name without a ``.zone``/``.db`` suffix.

Both come back as plain endpoints; a bad file is a :class:`ConfigError` naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import dns.exception
import dns.name
import dns.rdatatype
import dns.zone

from reconciler.model.endpoint import Endpoint, InvalidNameError, normalize_name
from reconciler.model.errors import ConfigError

__all__ = ["SNAPSHOT_KIND", "ProviderSnapshot", "read_snapshot", "read_zone_files", "snapshot_json"]

SNAPSHOT_KIND: Final = "ingress-reconciler/zone-snapshot"
"""The ``kind`` of a JSON zone snapshot."""

_ZONE_SUFFIXES: Final = (".zone", ".db")
_SKIPPED: Final = frozenset({"SOA", "RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "DS"})


@dataclass(frozen=True, slots=True)
class ProviderSnapshot:
    """What one provider held: its zones and their record sets (ownership TXTs included)."""

    zones: tuple[str, ...]
    """Normalised zone names."""
    records: tuple[Endpoint, ...]
    """Every record set of those zones but the apex SOA and NS."""


def snapshot_json(providers: Mapping[str, ProviderSnapshot]) -> str:
    """The JSON snapshot of ``providers`` (sorted, so the same zones give the same bytes)."""
    doc = {
        "kind": SNAPSHOT_KIND,
        "providers": {
            name: {
                "zones": list(snap.zones),
                "records": [
                    {
                        "name": e.name,
                        "type": e.record_type,
                        "targets": list(e.targets),
                        "ttl": e.ttl,
                        "setIdentifier": e.set_identifier,
                        "providerSpecific": dict(e.provider_specific),
                    }
                    for e in sorted(snap.records, key=lambda e: e.key)
                ],
            }
            for name, snap in sorted(providers.items())
        },
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def read_snapshot(path: Path) -> dict[str, ProviderSnapshot]:
    """The providers of a JSON snapshot file."""
    where = f"--zones: {str(path)!r}"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: not a JSON zone snapshot ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("kind") != SNAPSHOT_KIND:
        raise ConfigError(f"{where}: not a zone snapshot (write one with plan --save-zones)")
    providers = doc.get("providers")
    if not isinstance(providers, dict):
        raise ConfigError(f"{where}: 'providers' must map provider names to their zones")
    return {
        str(name): _provider_snapshot(entry, f"{where}, provider {name!r}")
        for name, entry in providers.items()
    }


def _provider_snapshot(entry: Any, where: str) -> ProviderSnapshot:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object with 'zones' and 'records'")
    zones, records = entry.get("zones"), entry.get("records", [])
    if not isinstance(zones, list) or not isinstance(records, list):
        raise ConfigError(f"{where}: 'zones' and 'records' must be lists")
    try:
        names = tuple(sorted({normalize_name(str(z)) for z in zones}))
        endpoints = tuple(_endpoint(r) for r in records)
    except (InvalidNameError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: a record or zone is not valid: {exc}") from None
    return ProviderSnapshot(zones=names, records=endpoints)


def _endpoint(record: Any) -> Endpoint:
    if not isinstance(record, dict):
        raise TypeError("a record must be an object")
    ttl = record.get("ttl")
    return Endpoint.of(
        str(record["name"]),
        str(record["type"]),
        [str(t) for t in record.get("targets") or []],
        ttl=int(ttl) if ttl is not None else None,
        set_identifier=str(record.get("setIdentifier") or ""),
        provider_specific={
            str(k): str(v) for k, v in (record.get("providerSpecific") or {}).items()
        },
    )


def read_zone_files(path: Path) -> dict[str, tuple[Endpoint, ...]]:
    """Zone name → its record sets, from a zone file or a directory of zone files."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise ConfigError(f"--zones: {str(path)!r} is neither a file nor a directory")
    zones: dict[str, tuple[Endpoint, ...]] = {}
    for file in files:
        name, records = _zone_file(file)
        if name in zones:
            raise ConfigError(f"--zones: zone {name} is given twice (in {str(file)!r})")
        zones[name] = records
    return zones


def _zone_file(file: Path) -> tuple[str, tuple[Endpoint, ...]]:
    where = f"--zones: {str(file)!r}"
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    stem = file.name
    for suffix in _ZONE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    try:
        origin = None if "$ORIGIN" in text.upper() else dns.name.from_text(stem)
        zone = dns.zone.from_text(
            text, origin=origin, relativize=False, check_origin=False, filename=str(file)
        )
    except (dns.exception.DNSException, ValueError) as exc:
        raise ConfigError(f"{where}: not a valid zone file: {exc}") from None
    zone_name = zone.origin.to_text(omit_final_dot=True) if zone.origin else stem
    records: list[Endpoint] = []
    for owner, rds in zone.iterate_rdatasets():
        rtype = dns.rdatatype.to_text(rds.rdtype)
        if rtype in _SKIPPED or (rtype == "NS" and owner == zone.origin):
            continue
        try:
            records.append(
                Endpoint.of(
                    owner.to_text(omit_final_dot=True),
                    rtype,
                    [rd.to_text() for rd in rds],
                    ttl=rds.ttl,
                )
            )
        except InvalidNameError as exc:
            raise ConfigError(f"{where}: record {owner} {rtype}: {exc}") from None
    try:
        return normalize_name(zone_name), tuple(records)
    except InvalidNameError as exc:
        raise ConfigError(f"{where}: zone name {zone_name!r}: {exc}") from None
