"""CPU seconds and peak RSS of full DNS passes, in a process of its own.

``python -m bench.onepass --ingresses 10000 --zones 4`` builds N Ingress objects (as the API
returns them: one host each, an address in status), then runs the project's DNS pass
(:func:`reconciler.app.pipeline.reconcile`, the pass users run: source -> plan -> TXT registry ->
provider) against an in-memory provider twice: the first pass creates every record, the second
finds nothing to do (the quiet pass). It prints one JSON object: CPU seconds of each pass
(``time.process_time``), wall seconds, and the process's peak RSS (``resource.getrusage``) before
and after, so the RSS is this process's own and not the benchmark driver's.
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

from reconciler.app.pipeline import Observed, reconcile
from reconciler.app.settings import load_settings
from reconciler.app.wiring import pass_config
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.registry import TxtRegistry
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
    """The load-balancer IP in the status of Ingress ``index`` (10.1.0.1 upwards, no .0)."""
    return f"10.1.{index // 200}.{index % 200 + 1}"


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


def measure(ingresses: int, zone_count: int) -> dict[str, Any]:
    """Run two DNS passes over ``ingresses`` Ingresses; CPU, wall time and RSS of each."""
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
    rss_before = _peak_rss_mb()
    passes: list[dict[str, Any]] = []
    for label in ("create", "quiet"):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcome = reconcile(
            config=pass_config(settings),
            observed=Observed(ingresses=tuple(objects)),
            targets=targets,
            now=utc_now(),
        )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        result = outcome.dns.providers[0]
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
    return {
        "ingresses": ingresses,
        "zones": zone_count,
        "endpoints": len(provider.records()),
        "passes": passes,
        "peak_rss_mb_before_passes": round(rss_before, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the measurement as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ingresses", type=int, default=10000)
    parser.add_argument("--zones", type=int, default=4)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(measure(args.ingresses, args.zones)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
