"""A PNG a person reads at a glance: latency and API call counts, ours against external-dns.

Needs matplotlib (the optional extra ``bench``). Three panels: latency distributions (log scale,
with the 100 ms p99 target), Route53 calls (create and quiet interval, with the batch target), and
RFC2136 requests per zone in a quiet interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from bench.report import LATENCY_P99_TARGET, OURS, PEER, PEER_EVENTS, PROGRAMS, peer_version

__all__ = ["plot"]

COLORS = {OURS: "#1f77b4", PEER: "#ff7f0e", PEER_EVENTS: "#e377c2"}
KIND_COLORS = {"SOA": "#2ca02c", "AXFR": "#d62728", "IXFR": "#9467bd", "UPDATE": "#8c564b"}


def plot(results: Mapping[str, Any], path: Path) -> None:
    """Draw results.json's rounds into ``path`` (PNG)."""
    rounds = results.get("rounds", [])
    programs = [p for p in PROGRAMS if any(p in r["programs"] for r in rounds)]
    fig, (ax_lat, ax_r53, ax_dns) = plt.subplots(1, 3, figsize=(17, 5.5))
    fig.suptitle(
        f"ingress-reconciler vs external-dns {peer_version(results)} "
        f"(load avg at start {results.get('machine', {}).get('loadavg_start', '?')})"
    )

    # latency: one box per (N, program), points on top
    data, labels, colors, p99s = [], [], [], []
    for rnd in rounds:
        for prog in programs:
            session = rnd["programs"].get(prog)
            if session is None:
                continue
            values = [v for v in session.get("latencies", []) if v is not None]
            data.append(values or [float("nan")])
            latency = session.get("latency") or {}
            missed = latency.get("missed") or 0
            p99 = latency.get("p99")
            p99s.append(
                ("p99 n/a" if p99 is None else f"p99 {p99:.3g} s")
                + (f"\n{missed} missed" if missed else "")
            )
            labels.append(f"{prog}\nN={rnd['ingresses']}")
            colors.append(COLORS[prog])
    if data:
        boxes = ax_lat.boxplot(data, patch_artist=True, showfliers=False)
        for patch, color in zip(boxes["boxes"], colors, strict=True):
            patch.set_facecolor(color)
            patch.set_alpha(0.4)
        for i, values in enumerate(data, start=1):
            ax_lat.scatter([i] * len(values), values, s=6, color=colors[i - 1], alpha=0.6)
            top = max((v for v in values if not math.isnan(v)), default=1.0)
            ax_lat.annotate(
                p99s[i - 1],
                (i, top),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax_lat.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax_lat.set_yscale("log")
    ax_lat.margins(y=0.15)
    ax_lat.axhline(
        LATENCY_P99_TARGET,
        color="red",
        linestyle="--",
        linewidth=1,
        label=f"target p99 = {LATENCY_P99_TARGET * 1000:.0f} ms",
    )
    ax_lat.set_ylabel("seconds (log)")
    ax_lat.set_title("Ingress status change -> answer in BIND")
    ax_lat.legend(loc="upper left", fontsize=8)

    # Route53 calls: change calls to create (with target) and calls in a quiet interval
    groups = [f"N={r['ingresses']}" for r in rounds]
    width = 0.8 / max(1, 2 * len(programs))
    for j, prog in enumerate(programs):
        creates, quiets, targets = [], [], []
        for rnd in rounds:
            s = rnd["programs"].get(prog, {})
            zones = s.get("route53_zones", {}).values()
            creates.append(sum(z["change_calls"] for z in zones))
            targets.append(sum(z["target"] for z in zones))
            quiets.append(sum(s.get("route53_quiet_calls", {}).values()))
        xs = [i + (2 * j) * width for i in range(len(rounds))]
        bars = ax_r53.bar(xs, creates, width, color=COLORS[prog], label=f"{prog}: change calls")
        ax_r53.bar_label(bars, fontsize=8)
        xq = [x + width for x in xs]
        bars = ax_r53.bar(
            xq,
            quiets,
            width,
            color=COLORS[prog],
            alpha=0.4,
            hatch="//",
            label=f"{prog}: calls in quiet interval",
        )
        ax_r53.bar_label(bars, fontsize=8)
        ax_r53.scatter(xs, targets, marker="_", s=400, color="red", zorder=3)
    ax_r53.scatter([], [], marker="_", s=200, color="red", label="change-call target")
    ax_r53.set_xticks([i + width * (len(programs) - 0.5) for i in range(len(rounds))], groups)
    ax_r53.set_ylabel("Route53 API calls (moto's side)")
    ax_r53.set_title("Route53: create all, then one quiet interval")
    ax_r53.legend(fontsize=7)

    # RFC2136: requests per zone in a quiet interval, by kind
    kinds = sorted(
        {
            kind
            for rnd in rounds
            for s in rnd["programs"].values()
            for counts in s.get("rfc2136_quiet_queries", {}).values()
            for kind in counts
        }
    )
    bar_labels, bottoms_of, bar_colors = [], [], []
    for rnd in rounds:
        for prog in programs:
            s = rnd["programs"].get(prog)
            if s is None:
                continue
            per_zone = s.get("rfc2136_quiet_queries", {})
            zones = max(1, len(per_zone))
            bar_labels.append(f"{prog}\nN={rnd['ingresses']}")
            bottoms_of.append(
                {k: sum(c.get(k, 0) for c in per_zone.values()) / zones for k in kinds}
            )
            bar_colors.append(COLORS[prog])
    bottom = [0.0] * len(bar_labels)
    for kind in kinds:
        heights = [b[kind] for b in bottoms_of]
        bars = ax_dns.bar(
            range(len(bar_labels)),
            heights,
            bottom=bottom,
            label=kind,
            edgecolor="black",
            color=KIND_COLORS.get(kind, "#7f7f7f"),
        )
        ax_dns.bar_label(
            bars, labels=[f"{kind} {h:g}" if h else "" for h in heights], label_type="center"
        )
        bottom = [x + h for x, h in zip(bottom, heights, strict=True)]
    ax_dns.axhline(1.0, color="red", linestyle="--", linewidth=1, label="target: 1 SOA")
    ax_dns.set_ylim(0, max([1.5, *(x + 0.5 for x in bottom)]))
    ax_dns.set_xticks(range(len(bar_labels)), bar_labels, fontsize=8)
    ax_dns.set_ylabel("requests per zone (BIND query log)")
    ax_dns.set_title("RFC2136: one quiet interval")
    ax_dns.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
