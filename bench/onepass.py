"""CPU seconds and peak RSS of full DNS passes, in a process of its own.

``python -m bench.onepass --ingresses 10000 --zones 4`` builds N Ingress objects (as the API
returns them: one host each, an address in status), then runs the project's DNS pass
(:func:`reconciler.app.pipeline.reconcile`, the pass users run: source -> plan -> TXT registry ->
provider) against an in-memory provider three times: the first pass creates every record, the
second reads and plans everything again and finds nothing to do (the quiet pass, as ``once``
runs it), the third is ``run``'s periodic pass, which re-plans only what changed since the last
(here nothing). Then it changes the status of ``--changes`` Ingresses one at
a time, each followed by an incremental pass
(:func:`reconciler.app.pipeline.reconcile_changes`, what a watch event runs). It prints one JSON
object: CPU seconds of each full pass (``time.process_time``), wall seconds, the incremental
passes' CPU milliseconds (p50, p99, max), and the process's peak RSS (``resource.getrusage``)
before and after, so the RSS is this process's own and not the benchmark driver's.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reconciler.app.desired import DesiredIndex
from reconciler.app.pipeline import Observed, reconcile, reconcile_changes
from reconciler.app.settings import load_settings
from reconciler.app.wiring import pass_config
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import ProviderResult
from reconciler.kube.listed import ListedState
from reconciler.runtime.loop import utc_now

__all__ = ["ingress_address", "ingress_host", "ingress_object", "main", "measure", "zone_names"]

OWNER = "bench"


def zone_names(count: int) -> tuple[str, ...]:
    """The benchmark's zones: ``z0.bench.test`` .. ``z<count-1>.bench.test``."""
    return tuple(f"z{i}.bench.test" for i in range(count))


def ingress_host(index: int, zones: Sequence[str]) -> str:
    """Host of Ingress ``index``: hosts are spread round-robin over the zones."""
    return f"h{index}.{zones[index % len(zones)]}"


def ingress_address(index: int) -> str:
    """The load-balancer IP in the status of Ingress ``index`` (10.1.0.1 upwards, no .0; 50,000
    per second octet, so that 100,000 Ingresses have distinct valid addresses)."""
    return f"10.{1 + index // 50_000}.{index // 200 % 250}.{index % 200 + 1}"


def ingress_object(
    index: int, zones: Sequence[str], *, namespace: str, with_status: bool = True
) -> dict[str, Any]:
    """Ingress ``index`` as API JSON: one rule for its host, its address in status."""
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": f"bench-{index}", "namespace": namespace},
        "spec": {
            "ingressClassName": "public",
            "rules": [
                {
                    "host": ingress_host(index, zones),
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }
    if with_status:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ingress_address(index)}]}}
    return obj


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(ingresses: int, zone_count: int, changes: int = 100) -> dict[str, Any]:
    """Two full DNS passes over ``ingresses`` Ingresses, then ``changes`` incremental passes."""
    zones = zone_names(zone_count)
    with tempfile.TemporaryDirectory(prefix="bench-onepass-") as tmp:
        config = Path(tmp) / "config.yaml"
        secret = Path(tmp) / "secret"
        secret.write_text("c2VjcmV0")
        config.write_text(
            json.dumps(
                {
                    "ownerId": OWNER,
                    "policy": "sync",
                    "providers": [
                        {
                            "name": "memory",
                            "type": "rfc2136",
                            "host": "127.0.0.1",
                            "zones": list(zones),
                        }
                    ],
                }
            )
        )
        settings = load_settings(config, {})
    objects = [ingress_object(i, zones, namespace="bench") for i in range(ingresses)]
    provider = InMemoryProvider(name="memory", zones=zones)
    registry = TxtRegistry(
        provider=provider,
        owner_id=settings.owner_id,
        managed_types=frozenset(settings.managed_record_types),
    )
    targets = [registry]
    index = DesiredIndex()
    pass_cfg = pass_config(settings)
    rss_before = _peak_rss_mb()
    passes: list[dict[str, Any]] = []
    observed = Observed(ingresses=tuple(objects))
    # create: a first pass (run's, filling the index); quiet: everything read and planned again
    # (once's); interval: run's periodic pass, which re-plans only what changed since
    for label, remembered in (("create", index), ("quiet", None), ("interval", index)):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcome = reconcile(
            config=pass_cfg, observed=observed, targets=targets, now=utc_now(), index=remembered
        )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        result = outcome.dns.providers[0] if outcome.dns.providers else ProviderResult(provider="-")
        passes.append(
            {
                "pass": label,
                "cpu_seconds": round(cpu, 3),
                "wall_seconds": round(wall, 3),
                "creates": len(result.changes.create),
                "updates": len(result.changes.update),
                "deletes": len(result.changes.delete),
                "ok": outcome.dns.ok,
            }
        )
    by_name = {o["metadata"]["name"]: o for o in objects}
    cpu_ms: list[float] = []
    written = 0
    for k in range(changes):
        index_of = (k * 7919) % ingresses  # spread over the Ingresses
        changed = ingress_object(index_of, zones, namespace="bench")
        changed["status"]["loadBalancer"]["ingress"] = [{"ip": f"10.200.{k // 200}.{k % 200 + 1}"}]
        by_name[changed["metadata"]["name"]] = changed
        state = ListedState(ingresses=tuple(by_name.values()))  # what a watch cache serves
        cpu0 = time.process_time()
        outcome = reconcile_changes(
            config=pass_cfg,
            changed={f"ingress/bench/{changed['metadata']['name']}": changed},
            index=index,
            state=state,
            targets=targets,
            now=utc_now(),
        )
        cpu_ms.append((time.process_time() - cpu0) * 1000)
        written += sum(len(r.changes.update) for r in outcome.dns.providers)
    incremental = (
        {
            "changes": changes,
            "records_updated": written,
            "cpu_ms_p50": round(_percentile(cpu_ms, 0.5), 2),
            "cpu_ms_p99": round(_percentile(cpu_ms, 0.99), 2),
            "cpu_ms_max": round(max(cpu_ms), 2),
        }
        if cpu_ms
        else None
    )
    return {
        "ingresses": ingresses,
        "zones": zone_count,
        "endpoints": len(provider.records()),
        "passes": passes,
        "incremental": incremental,
        "peak_rss_mb_before_passes": round(rss_before, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the measurement as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ingresses", type=int, default=10000)
    parser.add_argument("--zones", type=int, default=4)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(measure(args.ingresses, args.zones, args.changes)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
