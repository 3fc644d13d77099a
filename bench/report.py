"""The benchmark's results as a Markdown table: each target, ours against external-dns, met or not.

Pure: :func:`target_rows` and :func:`render_markdown` read the dict :mod:`bench.run` writes to
results.json and return data or text; nothing here measures anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OURS",
    "PEER",
    "SUMMARY_END",
    "SUMMARY_START",
    "TargetRow",
    "render_markdown",
    "render_summary",
    "replace_summary",
    "target_rows",
]

SUMMARY_START = "<!-- latest-results:start (generated from results.json; do not edit) -->"
"""Marks the start of the generated results in bench/README.md."""
SUMMARY_END = "<!-- latest-results:end -->"
"""Marks its end."""

OURS = "ingress-reconciler"
PEER = "external-dns"
CPU_TARGET_SECONDS = 2.0
RSS_TARGET_MB = 300.0
LATENCY_P99_TARGET = 1.0


@dataclass(frozen=True, slots=True)
class TargetRow:
    """One line of the targets table."""

    target: str
    """What is measured and its target, in words."""
    ingresses: int
    """N of the round (the in-memory pass uses the largest N)."""
    ours: str
    """Our value, rendered."""
    peer: str
    """external-dns's value, rendered ("n/a" when not measured)."""
    met: bool | None
    """Whether our value meets the target (None: no value)."""
    note: str = ""
    """By how much a missed target is missed, or a remark."""


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def _quiet_route53(program: Mapping[str, Any] | None, suffix: str = "") -> int | None:
    key = f"route53_quiet_calls{suffix}"
    if program is None or key not in program:
        return None
    return sum(int(v) for v in program[key].values())


def _with_first(steady: str, first: str) -> str:
    """The steady interval's value, and the first interval's (after the creating pass) if other."""
    return (
        steady if first in (steady, "n/a") else f"{steady} (first interval after writes: {first})"
    )


def _changes(program: Mapping[str, Any] | None) -> tuple[int, int, bool] | None:
    """(change calls, target calls, every zone within its target) summed over zones."""
    if program is None or "route53_zones" not in program:
        return None
    zones = program["route53_zones"].values()
    calls = sum(int(z["change_calls"]) for z in zones)
    target = sum(int(z["target"]) for z in zones)
    within = all(int(z["change_calls"]) <= int(z["target"]) for z in zones)
    return calls, target, within


def _rfc2136_quiet(program: Mapping[str, Any] | None, suffix: str = "") -> tuple[str, bool] | None:
    """Per-zone request kinds in the quiet interval, rendered; and "1 SOA per zone, no more"."""
    key = f"rfc2136_quiet_queries{suffix}"
    if program is None or key not in program:
        return None
    per_zone: Mapping[str, Mapping[str, int]] = program[key]
    kinds: dict[str, list[int]] = {}
    for counts in per_zone.values():
        for kind in counts:
            kinds.setdefault(kind, [])
    for counts in per_zone.values():
        for kind, values in kinds.items():
            values.append(int(counts.get(kind, 0)))
    text = ", ".join(
        f"{kind} {min(v)}" + ("" if min(v) == max(v) else f"-{max(v)}") + "/zone"
        for kind, v in sorted(kinds.items())
    )
    ideal = all(dict(c) == {"SOA": 1} for c in per_zone.values())
    return text or "nothing", ideal


def _latency(program: Mapping[str, Any] | None) -> tuple[str, float | None]:
    if program is None or "latency" not in program:
        return "n/a", None
    lat = program["latency"]
    missed = f", {lat['missed']} missed" if lat.get("missed") else ""
    return f"p50 {_fmt(lat['p50'], ' s')}, p99 {_fmt(lat['p99'], ' s')}{missed}", lat["p99"]


def target_rows(results: Mapping[str, Any]) -> list[TargetRow]:
    """One row per target and round, ours against external-dns."""
    rows: list[TargetRow] = []
    for rnd in results.get("rounds", []):
        n = int(rnd["ingresses"])
        ours = rnd["programs"].get(OURS)
        peer = rnd["programs"].get(PEER)

        q_ours, q_peer = _quiet_route53(ours), _quiet_route53(peer)
        f_ours, f_peer = (_quiet_route53(p, "_after_write") for p in (ours, peer))

        def count(v: int | None) -> str:
            return "n/a" if v is None else str(v)

        rows.append(
            TargetRow(
                target="1. Route53 calls in a quiet interval (target 0)",
                ingresses=n,
                ours=_with_first(count(q_ours), count(f_ours)),
                peer=_with_first(count(q_peer), count(f_peer)),
                met=None if q_ours is None else q_ours == 0,
                note="" if not q_ours else f"{q_ours} calls over target",
            )
        )

        c_ours, c_peer = _changes(ours), _changes(peer)

        def changes_text(c: tuple[int, int, bool] | None) -> str:
            return "n/a" if c is None else f"{c[0]} (target {c[1]})"

        rows.append(
            TargetRow(
                target="2. Route53 change calls to create all records (target per zone)",
                ingresses=n,
                ours=changes_text(c_ours),
                peer=changes_text(c_peer),
                met=None if c_ours is None else c_ours[2],
                note=(
                    f"{c_ours[0] - c_ours[1]} calls over target"
                    if c_ours is not None and not c_ours[2]
                    else ""
                ),
            )
        )

        l_ours, p99 = _latency(ours)
        l_peer, _ = _latency(peer)
        missed = 0 if ours is None or "latency" not in ours else int(ours["latency"]["missed"])
        met = None if p99 is None else p99 <= LATENCY_P99_TARGET and missed == 0
        rows.append(
            TargetRow(
                target="3. status change -> answer in BIND (target p99 <= 1 s)",
                ingresses=n,
                ours=l_ours,
                peer=l_peer,
                met=met,
                note=(
                    f"p99 {p99 - LATENCY_P99_TARGET:.1f} s over target"
                    if p99 is not None and p99 > LATENCY_P99_TARGET
                    else ""
                ),
            )
        )

        r_ours, r_peer = _rfc2136_quiet(ours), _rfc2136_quiet(peer)
        rf_ours, rf_peer = (_rfc2136_quiet(p, "_after_write") for p in (ours, peer))

        def kinds(v: tuple[str, bool] | None) -> str:
            return "n/a" if v is None else v[0]

        rows.append(
            TargetRow(
                target="4. RFC2136 requests per zone in a quiet interval (target 1 SOA)",
                ingresses=n,
                ours=_with_first(kinds(r_ours), kinds(rf_ours)),
                peer=_with_first(kinds(r_peer), kinds(rf_peer)),
                met=None if r_ours is None else r_ours[1],
            )
        )

    onepass = results.get("onepass")
    if onepass:
        n = int(onepass["ingresses"])
        by_pass = {p["pass"]: p for p in onepass["passes"]}
        cpu = max(float(p["cpu_seconds"]) for p in onepass["passes"])
        rss = float(onepass["peak_rss_mb"])
        rows.append(
            TargetRow(
                target="5. CPU seconds of one full pass, in memory (target <= 2 s)",
                ingresses=n,
                ours=(
                    f"create {by_pass['create']['cpu_seconds']:.2f} s, "
                    f"quiet {by_pass['quiet']['cpu_seconds']:.2f} s"
                ),
                peer="n/a (see process CPU below)",
                met=cpu <= CPU_TARGET_SECONDS,
                note="" if cpu <= CPU_TARGET_SECONDS else f"{cpu - CPU_TARGET_SECONDS:.2f} s over",
            )
        )
        rows.append(
            TargetRow(
                target="5. peak RSS of that process (target <= 300 MB)",
                ingresses=n,
                ours=f"{rss:.0f} MB",
                peer="n/a (see process RSS below)",
                met=rss <= RSS_TARGET_MB,
                note="" if rss <= RSS_TARGET_MB else f"{rss - RSS_TARGET_MB:.0f} MB over",
            )
        )
    return rows


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "n/a"}[value]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _process_rows(results: Mapping[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for rnd in results.get("rounds", []):
        for name, prog in sorted(rnd["programs"].items()):
            conv = prog.get("converge_seconds", {})
            rss = prog.get("peak_rss_mb", {})
            rows.append(
                [
                    str(rnd["ingresses"]),
                    name,
                    f"{prog.get('interval_seconds', 0):g} s",
                    ", ".join(f"{k} {v:.1f} s" for k, v in sorted(conv.items())) or "n/a",
                    _fmt(prog.get("cpu_seconds_to_converge"), " s"),
                    _fmt(prog.get("cpu_seconds_quiet_interval"), " s", 3),
                    ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(rss.items())) or "n/a",
                    ", ".join(
                        f"{k} {v}" for k, v in sorted(prog.get("route53_create_calls", {}).items())
                    )
                    or "none",
                    ", ".join(
                        f"{k} {v}" for k, v in sorted(prog.get("route53_quiet_calls", {}).items())
                    )
                    or "none",
                ]
            )
    return rows


def _run_line(results: Mapping[str, Any]) -> str:
    machine = results.get("machine", {})
    config = results.get("config", {})
    return (
        f"Run {results.get('started', '?')} .. {results.get('finished', '?')} on "
        f"{machine.get('cpus', '?')} CPUs shared with other work; load average "
        f"(1/5/15 min) at start {machine.get('loadavg_start', '?')}, "
        f"at end {machine.get('loadavg_end', '?')}. Zones: {', '.join(config.get('zones', []))}; "
        f"{config.get('changes', '?')} status changes, one every "
        f"{config.get('change_spacing', '?')} s."
    )


def _targets_table(results: Mapping[str, Any]) -> list[str]:
    return _table(
        ["target", "N", OURS, PEER, "met (ours)", "note"],
        [
            [r.target, str(r.ingresses), r.ours, r.peer, _met(r.met), r.note]
            for r in target_rows(results)
        ],
    )


def render_summary(results: Mapping[str, Any]) -> str:
    """The targets table and the run's conditions, for bench/README.md (the same figures as
    results.md, from the same results.json)."""
    merged = results.get("merged_runs") or []
    lines = [_run_line(results)]
    if merged:
        lines[0] += f" Sessions re-run since: {len(merged)} (see results.md)."
    return "\n".join(["", *lines, "", *_targets_table(results), ""])


def replace_summary(readme: str, results: Mapping[str, Any]) -> str:
    """``readme`` with the text between the summary markers replaced by :func:`render_summary`."""
    start = readme.index(SUMMARY_START) + len(SUMMARY_START)
    end = readme.index(SUMMARY_END)
    return readme[:start] + "\n" + render_summary(results) + readme[end:]


def render_markdown(results: Mapping[str, Any]) -> str:
    """results.json as Markdown: the targets table, then per-process detail and the conditions."""
    lines = [
        "# Benchmark: ingress-reconciler vs external-dns v0.22.0",
        "",
        _run_line(results),
        "",
        "## Targets",
        "",
    ]
    lines += _targets_table(results)
    lines += [
        "",
        "## Processes (counted from the servers' side and /proc)",
        "",
    ]
    lines += _table(
        [
            "N",
            "program",
            "interval",
            "converged after",
            "CPU to converge",
            "CPU in quiet interval",
            "peak RSS",
            "Route53 calls to create",
            "Route53 calls in quiet interval",
        ],
        _process_rows(results),
    )
    zone_rows = [
        [
            str(rnd["ingresses"]),
            name,
            zone,
            str(z["record_sets"]),
            str(z["values"]),
            str(z["chars"]),
            str(z["target"]),
            str(z["change_calls"]),
        ]
        for rnd in results.get("rounds", [])
        for name, prog in sorted(rnd["programs"].items())
        for zone, z in sorted(prog.get("route53_zones", {}).items())
    ]
    if zone_rows:
        lines += ["", "## Route53 change calls per zone", ""]
        lines += _table(
            ["N", "program", "zone", "record sets", "values", "chars", "target", "change calls"],
            zone_rows,
        )
    notes = results.get("notes") or []
    if notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in notes)]
    runs = results.get("merged_runs") or []
    superseded = results.get("superseded") or []
    if runs or superseded:
        lines += ["", "## Runs merged into these results", ""]
        lines += [
            f"- re-run {r.get('started')} .. {r.get('finished')}, load average at start "
            f"{(r.get('machine') or {}).get('loadavg_start')}"
            for r in runs
        ]
        for old in superseded:
            session = old.get("session") or {}
            latency, _ = _latency(session)
            lines.append(
                f"- superseded: N={old.get('ingresses')} {old.get('program')} "
                f"({old.get('reason')}): {latency}; "
                f"converged after {session.get('converge_seconds')}"
            )
    errors = [
        f"- N={rnd['ingresses']} {name}: {prog['error'].splitlines()[0] if prog['error'] else ''}"
        for rnd in results.get("rounds", [])
        for name, prog in sorted(rnd["programs"].items())
        if "error" in prog
    ]
    if errors:
        lines += ["", "## Sessions that failed (details in results.json)", "", *errors]
    lines.append("")
    return "\n".join(lines)
