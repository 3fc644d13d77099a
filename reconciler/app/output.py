"""How ``plan`` and ``once`` show a DNS pass: one JSON object for machines, a table for people.

JSON (``--output json``)::

    {"create": [record, ...], "update": [{"old": record, "new": record}, ...],
     "delete": [record, ...], "conflicts": [conflict, ...], "errors": [error, ...]}

where a record is ``{"name", "type", "targets", "ttl", "provider"}``, a conflict is
``{"name", "type", "reason", "message", "detail", "resource", "provider"}`` (planner refusals,
tenancy refusals under their reason (``HostnameNotAllowed``, ``HostnameConflict``,
``FleetNotAllowed``, ...), source rejections with ``reason: "rejected"``, names no provider holds
a zone for with ``reason: "no-zone"``; ``message`` and ``detail`` are the same text), and an error
is ``{"provider", "error", "transient"}``. Lists are sorted,
so the same input always prints the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.dns.ingress_source import Rejection
from reconciler.dns.sync import DnsPassResult
from reconciler.model.endpoint import Endpoint

__all__ = ["plan_document", "printable", "render_json", "render_table"]

REJECTED = "rejected"
"""Conflict reason of a source rejection (bad Ingress data)."""
NO_ZONE = "no-zone"
"""Conflict reason of a name that no configured provider holds a zone for."""


def _record(endpoint: Endpoint, provider: str) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "type": endpoint.record_type,
        "targets": list(endpoint.targets),
        "ttl": endpoint.ttl,
        "provider": provider,
    }


def _record_key(record: dict[str, Any]) -> tuple[str, str, str]:
    return (str(record["name"]), str(record["type"]), str(record["provider"]))


def _conflict_key(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(item.get(k) or "") for k in ("name", "type", "provider", "reason", "resource"))


def plan_document(
    result: DnsPassResult,
    rejections: Sequence[Rejection] = (),
    refusals: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The JSON-able document of one pass (see the module docstring).

    ``refusals`` are extra conflict entries (tenancy refusals) in the same shape.
    """
    create: list[dict[str, Any]] = []
    update: list[dict[str, Any]] = []
    delete: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for provider in result.providers:
        name = provider.provider
        create.extend(_record(e, name) for e in provider.changes.create)
        update.extend(
            {"old": _record(u.old, name), "new": _record(u.new, name)}
            for u in provider.changes.update
        )
        delete.extend(_record(e, name) for e in provider.changes.delete)
        conflicts.extend(
            {
                "name": c.name,
                "type": str(c.record_type) if c.record_type else None,
                "reason": str(c.reason),
                "detail": c.detail,
                "resource": c.resource or None,
                "provider": name,
            }
            for c in provider.conflicts
        )
        errors.extend(
            {"provider": name, "error": message, "transient": provider.transient}
            for message in provider.errors
        )
    conflicts.extend(
        {
            "name": r.host or None,
            "type": None,
            "reason": REJECTED,
            "detail": r.reason,
            "resource": r.resource,
            "provider": None,
        }
        for r in rejections
    )
    # One entry per (name, resource): an address-less Ingress claims several types at a name.
    seen: set[tuple[str, str]] = set()
    for endpoint in result.unrouted:
        key = (endpoint.name, endpoint.labels.get("resource", ""))
        if key in seen:
            continue
        seen.add(key)
        conflicts.append(
            {
                "name": endpoint.name,
                "type": endpoint.record_type if endpoint.targets else None,
                "reason": NO_ZONE,
                "detail": "no configured provider holds a zone for this name",
                "resource": endpoint.labels.get("resource") or None,
                "provider": None,
            }
        )
    conflicts.extend(dict(r) for r in refusals)
    for item in conflicts:
        item.setdefault("message", item.get("detail"))
    return {
        "create": sorted(create, key=_record_key),
        "update": sorted(update, key=lambda u: _record_key(u["new"])),
        "delete": sorted(delete, key=_record_key),
        "conflicts": sorted(conflicts, key=_conflict_key),
        "errors": sorted(errors, key=lambda e: (e["provider"], e["error"])),
    }


def render_json(
    result: DnsPassResult,
    rejections: Sequence[Rejection] = (),
    refusals: Sequence[Mapping[str, Any]] = (),
) -> str:
    """One JSON object (one line, sorted keys) describing the pass."""
    return json.dumps(plan_document(result, rejections, refusals), sort_keys=True)


def _targets(record: dict[str, Any]) -> str:
    return ",".join(record["targets"]) or "-"


def _ttl(record: dict[str, Any]) -> str:
    return "-" if record["ttl"] is None else str(record["ttl"])


def printable(text: str) -> str:
    """``text`` with every control or other non-printable character shown as an escape.

    Host names, resource names and server messages come from users and servers; raw, an ANSI
    escape sequence in one would recolour or clear the reader's terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _columns(rows: list[list[str]]) -> list[str]:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_table(
    result: DnsPassResult,
    rejections: Sequence[Rejection] = (),
    *,
    dry_run: bool = True,
    refusals: Sequence[Mapping[str, Any]] = (),
    zones: str = "",
) -> str:
    """A human-readable table of the pass: changes, then conflicts, then errors, then a summary.

    ``zones`` says what the plan compared against when it was not the providers themselves (a
    zone snapshot, empty zones); it heads the table. Every cell is passed through
    :func:`printable`.
    """
    doc = plan_document(result, rejections, refusals)
    lines: list[str] = []
    if zones:
        lines.append(f"Planned against {printable(zones)}, not the DNS servers.")
        lines.append("")
    rows = [["PROVIDER", "CHANGE", "NAME", "TYPE", "TTL", "TARGETS"]]
    rows.extend(
        [r["provider"], "create", r["name"], r["type"], _ttl(r), _targets(r)] for r in doc["create"]
    )
    for u in doc["update"]:
        old, new = u["old"], u["new"]
        ttl = _ttl(new) if old["ttl"] == new["ttl"] else f"{_ttl(old)} -> {_ttl(new)}"
        targets = (
            _targets(new)
            if old["targets"] == new["targets"]
            else f"{_targets(old)} -> {_targets(new)}"
        )
        rows.append([new["provider"], "update", new["name"], new["type"], ttl, targets])
    rows.extend(
        [r["provider"], "delete", r["name"], r["type"], _ttl(r), _targets(r)] for r in doc["delete"]
    )
    if len(rows) > 1:
        lines.extend(_columns(rows))
    elif doc["errors"]:
        failed = sorted({e["provider"] for e in doc["errors"]})
        lines.append(
            f"Incomplete: {len(failed)} provider(s) could not be read or written "
            f"({printable(', '.join(failed))}); their changes are unknown."
        )
    elif zones:
        lines.append(f"No changes against {printable(zones)}.")
    else:
        lines.append("No changes: DNS is in sync.")
    if doc["conflicts"]:
        lines.append("")
        lines.append(f"Refused ({len(doc['conflicts'])}):")
        crows = [["REASON", "NAME", "TYPE", "RESOURCE", "DETAIL"]]
        crows.extend(
            [c["reason"], c["name"] or "-", c["type"] or "-", c["resource"] or "-", c["detail"]]
            for c in doc["conflicts"]
        )
        lines.extend("  " + line for line in _columns(crows))
    if doc["errors"]:
        lines.append("")
        lines.append(f"Errors ({len(doc['errors'])}):")
        lines.extend(
            f"  {printable(e['provider'])}: {printable(e['error'])}"
            + (" (will retry)" if e["transient"] else "")
            for e in doc["errors"]
        )
    if dry_run:
        verb = "planned"
    elif doc["errors"]:
        verb = "applied, except by the providers with errors: they wrote nothing"
    else:
        verb = "applied"
    lines.append("")
    lines.append(
        f"{len(doc['create'])} to create, {len(doc['update'])} to update, "
        f"{len(doc['delete'])} to delete ({verb}); {len(doc['conflicts'])} refused; "
        f"{len(doc['errors'])} provider errors."
    )
    return "\n".join(lines) + "\n"
