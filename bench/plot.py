"""A PNG a person reads at a glance: latency and API call counts, ours against external-dns.

Needs matplotlib (the optional extra ``bench``). Three panels: latency distributions (log scale,
with the 1 s p99 target), Route53 calls (create and quiet interval, with the batch target), and
RFC2136 requests per zone in a quiet interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from bench.report import OURS, PEER

__all__ = ["plot"]

COLORS = {OURS: "#1f77b4", PEER: "#ff7f0e"}


def plot(results: Mapping[str, Any], path: Path) -> None:
    """Draw results.json's rounds into ``path`` (PNG)."""
    rounds = results.get("rounds", [])
    programs = [p for p in (OURS, PEER) if any(p in r["programs"] for r in rounds)]
    fig, (ax_lat, ax_r53, ax_dns) = plt.subplots(1, 3, figsize=(17, 5.5))
    fig.suptitle(
        "ingress-reconciler vs external-dns v0.22.0 "
        f"(load avg at start {results.get('machine', {}).get('loadavg_start', '?')})"
    )

    # latency: one box per (N, program), points on top
    data, labels, colors = [], [], []
    for rnd in rounds:
        for prog in programs:
            session = rnd["programs"].get(prog)
            if session is None:
                continue
            values = [v for v in session.get("latencies", []) if v is not None]
            data.append(values or [float("nan")])
            labels.append(f"{prog}\nN={rnd['ingresses']}")
            colors.append(COLORS[prog])
    if data:
        boxes = ax_lat.boxplot(data, patch_artist=True, showfliers=False)
        for patch, color in zip(boxes["boxes"], colors, strict=True):
            patch.set_facecolor(color)
            patch.set_alpha(0.4)
        for i, values in enumerate(data, start=1):
            ax_lat.scatter([i] * len(values), values, s=6, color=colors[i - 1], alpha=0.6)
        ax_lat.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    ax_lat.set_yscale("log")
    ax_lat.axhline(1.0, color="red", linestyle="--", linewidth=1, label="target p99 = 1 s")
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
        ax_dns.bar(range(len(bar_labels)), heights, bottom=bottom, label=kind, edgecolor="black")
        bottom = [x + h for x, h in zip(bottom, heights, strict=True)]
    ax_dns.axhline(1.0, color="red", linestyle="--", linewidth=1, label="target: 1 SOA")
    ax_dns.set_xticks(range(len(bar_labels)), bar_labels, fontsize=8)
    ax_dns.set_ylabel("requests per zone (BIND query log)")
    ax_dns.set_title("RFC2136: one quiet interval")
    ax_dns.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
