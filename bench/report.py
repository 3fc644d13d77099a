"""The benchmark's results as a Markdown table: each target, ours against external-dns (with its
defaults, and with ``--events``), met or not.

Pure: :func:`target_rows` and :func:`render_markdown` read the dict :mod:`bench.run` writes to
results.json and return data or text; nothing here measures anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LATENCY_P99_TARGET",
    "OURS",
    "PEER",
    "PEER_EVENTS",
    "PROGRAMS",
    "SUMMARY_END",
    "SUMMARY_START",
    "TargetRow",
    "peer_version",
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
"""external-dns with its defaults (a sync every interval)."""
PEER_EVENTS = "external-dns-events"
"""external-dns with ``--events --min-event-sync-interval=1s``: its fairest configuration, the one
the CPU target is judged against."""
PROGRAMS = (OURS, PEER, PEER_EVENTS)
LATENCY_P50_TARGET = 0.05
LATENCY_P99_TARGET = 0.1
CPU_RATIO_TARGET = 1.0
QUIET_CPU_TARGET = 0.1
RSS_TARGET_MB = 150.0


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
    """external-dns's value with its defaults, rendered ("n/a" when not measured)."""
    peer_events: str
    """external-dns's value with ``--events``, rendered."""
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


def _latency(program: Mapping[str, Any] | None) -> tuple[str, float | None, float | None]:
    if program is None or "latency" not in program:
        return "n/a", None, None
    lat = program["latency"]
    missed = f", {lat['missed']} missed" if lat.get("missed") else ""
    text = f"p50 {_seconds(lat['p50'])}, p99 {_seconds(lat['p99'])}{missed}"
    return text, lat["p50"], lat["p99"]


def _seconds(value: float | None) -> str:
    """Seconds below one as milliseconds, the rest as seconds."""
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _number(program: Mapping[str, Any] | None, key: str) -> float | None:
    if program is None or key not in program:
        return None
    return float(program[key])


def _rss(program: Mapping[str, Any] | None) -> tuple[str, float | None]:
    """Each process's peak RSS, rendered, and the largest."""
    if program is None or not program.get("peak_rss_mb"):
        return "n/a", None
    per_process: Mapping[str, float] = program["peak_rss_mb"]
    text = ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(per_process.items()))
    return text, max(per_process.values())


def _round_rows(n: int, programs: Mapping[str, Any]) -> list[TargetRow]:
    ours, peer, events = (programs.get(p) for p in PROGRAMS)
    rows: list[TargetRow] = []

    def count(v: int | None) -> str:
        return "n/a" if v is None else str(v)

    def quiet(p: Mapping[str, Any] | None) -> str:
        return _with_first(count(_quiet_route53(p)), count(_quiet_route53(p, "_after_write")))

    q_ours = _quiet_route53(ours)
    rows.append(
        TargetRow(
            "1. Route53 calls in a quiet interval (target 0)",
            n,
            quiet(ours),
            quiet(peer),
            quiet(events),
            met=None if q_ours is None else q_ours == 0,
            note="" if not q_ours else f"{q_ours} calls over target",
        )
    )

    def changes_text(p: Mapping[str, Any] | None) -> str:
        c = _changes(p)
        return "n/a" if c is None else f"{c[0]} (target {c[1]})"

    c_ours = _changes(ours)
    rows.append(
        TargetRow(
            "2. Route53 change calls to create all records (target per zone)",
            n,
            changes_text(ours),
            changes_text(peer),
            changes_text(events),
            met=None if c_ours is None else c_ours[2],
            note=(
                f"{c_ours[0] - c_ours[1]} calls over target"
                if c_ours is not None and not c_ours[2]
                else ""
            ),
        )
    )

    l_ours, p50, p99 = _latency(ours)
    missed = 0 if ours is None or "latency" not in ours else int(ours["latency"]["missed"])
    over = []
    if p50 is not None and p50 > LATENCY_P50_TARGET:
        over.append(f"p50 {_seconds(p50 - LATENCY_P50_TARGET)} over")
    if p99 is not None and p99 > LATENCY_P99_TARGET:
        over.append(f"p99 {_seconds(p99 - LATENCY_P99_TARGET)} over")
    rows.append(
        TargetRow(
            "3. status change -> answer in BIND (target p50 <= 50 ms, p99 <= 100 ms)",
            n,
            l_ours,
            _latency(peer)[0],
            _latency(events)[0],
            met=None if p99 is None or p50 is None else not over and missed == 0,
            note=", ".join(over),
        )
    )

    def kinds(p: Mapping[str, Any] | None) -> str:
        steady, first = _rfc2136_quiet(p), _rfc2136_quiet(p, "_after_write")
        return _with_first(
            "n/a" if steady is None else steady[0], "n/a" if first is None else first[0]
        )

    r_ours = _rfc2136_quiet(ours)
    rows.append(
        TargetRow(
            "4. RFC2136 requests per zone in a quiet interval (target 1 SOA)",
            n,
            kinds(ours),
            kinds(peer),
            kinds(events),
            met=None if r_ours is None else r_ours[1],
        )
    )

    cpu_ours, cpu_events = (_number(p, "cpu_seconds_to_converge") for p in (ours, events))
    ratio = None if cpu_ours is None or not cpu_events else cpu_ours / cpu_events
    rows.append(
        TargetRow(
            "5. CPU seconds to converge from empty (target: ours / external-dns --events <= 1.0)",
            n,
            _fmt(cpu_ours, " s"),
            _fmt(_number(peer, "cpu_seconds_to_converge"), " s"),
            _fmt(_number(events, "cpu_seconds_to_converge"), " s"),
            met=None if ratio is None else ratio <= CPU_RATIO_TARGET,
            note="" if ratio is None else f"ratio {ratio:.2f}",
        )
    )

    quiet_cpu = _number(ours, "cpu_seconds_quiet_interval")
    rows.append(
        TargetRow(
            "6. CPU seconds in a quiet interval (target <= 0.1 s)",
            n,
            _fmt(quiet_cpu, " s", 3),
            _fmt(_number(peer, "cpu_seconds_quiet_interval"), " s", 3),
            _fmt(_number(events, "cpu_seconds_quiet_interval"), " s", 3),
            met=None if quiet_cpu is None else quiet_cpu <= QUIET_CPU_TARGET,
            note=(
                f"{quiet_cpu - QUIET_CPU_TARGET:.3f} s over"
                if quiet_cpu is not None and quiet_cpu > QUIET_CPU_TARGET
                else ""
            ),
        )
    )

    rss_text, rss = _rss(ours)
    rows.append(
        TargetRow(
            "7. peak RSS per process (target <= 150 MB)",
            n,
            rss_text,
            _rss(peer)[0],
            _rss(events)[0],
            met=None if rss is None else rss <= RSS_TARGET_MB,
            note=""
            if rss is None or rss <= RSS_TARGET_MB
            else f"{rss - RSS_TARGET_MB:.0f} MB over",
        )
    )
    return rows


def target_rows(results: Mapping[str, Any]) -> list[TargetRow]:
    """One row per target and round, ours against external-dns (defaults and ``--events``)."""
    rows: list[TargetRow] = []
    for rnd in results.get("rounds", []):
        rows.extend(_round_rows(int(rnd["ingresses"]), rnd["programs"]))
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


def peer_version(results: Mapping[str, Any]) -> str:
    """The external-dns release measured (results written before it was recorded: v0.22.0)."""
    return str(results.get("config", {}).get("external_dns_version") or "v0.22.0")


def _targets_table(results: Mapping[str, Any]) -> list[str]:
    return _table(
        ["target", "N", OURS, PEER, f"{PEER} --events", "met (ours)", "note"],
        [
            [r.target, str(r.ingresses), r.ours, r.peer, r.peer_events, _met(r.met), r.note]
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
        f"# Benchmark: ingress-reconciler vs external-dns {peer_version(results)}",
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
    onepass = results.get("onepass")
    if onepass:
        by_pass = {x["pass"]: x for x in onepass["passes"]}
        lines += [
            "",
            "## DNS passes in memory (no target; where a pass's CPU goes)",
            "",
            f"N={onepass['ingresses']}: create {by_pass['create']['cpu_seconds']:.2f} CPU s, "
            f"quiet {by_pass['quiet']['cpu_seconds']:.2f} CPU s"
            + (
                f", interval pass {by_pass['interval']['cpu_seconds']:.3f} CPU s"
                if "interval" in by_pass
                else ""
            )
            + f", peak RSS {float(onepass['peak_rss_mb']):.0f} MB.",
        ]
        inc = onepass.get("incremental")
        if inc:
            lines.append(
                f"{inc['changes']} incremental passes (one status change each): CPU p50 "
                f"{inc['cpu_ms_p50']:.2f} ms, p99 {inc['cpu_ms_p99']:.2f} ms, "
                f"max {inc['cpu_ms_max']:.2f} ms."
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
            latency = _latency(session)[0]
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
