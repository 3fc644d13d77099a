"""Benchmark ingress-reconciler side by side with external-dns on the same servers.

One command (see bench/README.md)::

    .venv/bin/python -m bench.run            # N = 1,000 and 10,000
    .venv/bin/python -m bench.run --quick    # N = 100, 10 s intervals: a smoke run

It starts a real kube-apiserver + etcd, creates N Ingresses (one host each, spread round-robin
over a few zones, an address in status) and then, for each program in turn, on a fresh moto
(Route53) and a fresh BIND (RFC2136) holding the same zones, starts the program the way users do
(our ``ingress-reconciler run --config``; ``external-dns --source=ingress --policy=sync`` once
per provider, with its defaults and again with ``--events --min-event-sync-interval=1s``) and
measures:

1. Route53 calls in one quiet interval (after convergence, nothing changed);
2. Route53 ChangeResourceRecordSets calls to create every record, per zone, against
   ceil(max(values/1000, chars/32000));
3. latency from an Ingress status change to the new address answering in BIND (p50/p99);
4. BIND queries/transfers per zone in one quiet interval;
5. CPU seconds and peak RSS of the processes; and, in a process of its own, CPU seconds and
   peak RSS of in-memory DNS passes (full, periodic and incremental) at the largest N
   (:mod:`bench.onepass`).

Calls are counted from the servers' side: moto's request recording (each program signs with its
own access key id) and BIND's query log. Results go to bench/results/ as results.json,
results.md and results.png.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from bench.onepass import ingress_address, ingress_host, ingress_object, zone_names
from bench.report import render_markdown, replace_summary
from bench.servers import MotoRecording, QueryLogBind
from bench.stats import (
    change_batch_target,
    change_calls_per_zone,
    count_actions,
    record_set_cost,
    summarize_latencies,
)
from e2e.servers.apiserver import ApiServer, ApiServerError, free_tcp_port
from e2e.servers.moto import MotoServer

__all__ = ["BenchConfig", "main", "merge_results", "run_benchmark"]

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
"""Where the project's own results live (and which bench/README.md summarises)."""
BENCH_README = ROOT / "bench" / "README.md"
"""Its "Latest results" section is generated from results.json."""
OWNER = "bench"
NAMESPACE = "bench"
EXTERNAL_DNS = Path.home() / ".cache" / "ingress-reconciler" / "bin" / "external-dns"
OBSERVER_KEY = "BENCHOBSERVER"
PROGRAM_KEYS = {
    "ingress-reconciler": "INGRESSRECONCILER",
    "external-dns": "EXTERNALDNS",
    "external-dns-events": "EXTERNALDNSEVENTS",
}
"""Each program's own AWS access key, so that moto's recording tells their calls apart."""
EXTERNAL_DNS_EVENTS_ARGS = ("--events", "--min-event-sync-interval=1s")
"""external-dns's fairest configuration: a sync triggered by watch events, at most one a second."""
OUR_DEFAULT_INTERVAL = 60.0
EXTERNAL_DNS_DEFAULT_INTERVAL = 60.0  # external-dns --interval default: 1m
CLK_TCK = os.sysconf("SC_CLK_TCK")
INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "public"},
    "spec": {"controller": "k8s.io/ingress-nginx"},
}
SETTLE_SECONDS = 3.0  # no new request to moto or BIND for this long: the first pass is over


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What one benchmark run does."""

    sizes: tuple[int, ...]
    """Ingress counts, each run as its own round."""
    zones: int
    """How many zones the hosts are spread over."""
    changes: int
    """Status changes for the latency measurement."""
    change_spacing: float
    """Seconds between two status changes."""
    interval: float | None
    """Both programs' interval; None = each program's default (60 s for both)."""
    programs: tuple[str, ...]
    """Which programs to run: ingress-reconciler and/or external-dns."""
    out_dir: Path
    """Where results.json, results.md and results.png go."""
    external_dns: Path
    """The external-dns binary."""
    converge_timeout: float
    """Seconds a program may take to create every record."""


# --- helpers -------------------------------------------------------------------------------------


def _log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (its children are not ours to count)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _process_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _observer(moto: MotoServer) -> Any:
    return boto3.client(
        "route53",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=OBSERVER_KEY,
        aws_secret_access_key="bench",
    )


def _query_a(bind: QueryLogBind, name: str) -> tuple[str, ...]:
    request = dns.message.make_query(name, dns.rdatatype.A)
    try:
        response = dns.query.udp(request, bind.host, port=bind.port, timeout=1.0)
    except (dns.exception.DNSException, OSError):
        return ()
    return tuple(sorted(rd.to_text() for rrset in response.answer for rd in rrset))


def _wait_until(check: Callable[[], bool], *, timeout: float, every: float, what: str) -> float:
    """Poll ``check`` until true; seconds it took. Raise TimeoutError naming ``what``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(every)  # polling interval
    return time.monotonic() - start


# --- cluster -------------------------------------------------------------------------------------


def _create_ingresses(api: ApiServer, n: int, zones: Sequence[str]) -> float:
    """Create N Ingresses and write their status; seconds it took."""
    start = time.monotonic()
    base = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses"

    def create(index: int) -> None:
        obj = ingress_object(index, zones, namespace=NAMESPACE, with_status=False)
        api.must("POST", base, obj, timeout=60)
        status = {"status": {"loadBalancer": {"ingress": [{"ip": ingress_address(index)}]}}}
        api.must(
            "PATCH",
            f"{base}/bench-{index}/status",
            status,
            content_type="application/merge-patch+json",
            timeout=60,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for future in concurrent.futures.as_completed([pool.submit(create, i) for i in range(n)]):
            future.result()
    return time.monotonic() - start


def _delete_ingresses(api: ApiServer) -> None:
    base = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses"
    try:
        api.must("DELETE", base, timeout=300)
    except ApiServerError as exc:
        # a collection of 100,000 outlasts the apiserver's request timeout (504); the deletion
        # goes on in the server, so wait for it instead of losing the run
        if "HTTP 504" not in str(exc):
            raise
        _log("deleting the Ingresses outlasted one request; waiting for the server to finish")

    def empty() -> bool:
        return not api.must("GET", f"{base}?limit=1", timeout=60)["items"]

    _wait_until(empty, timeout=1800, every=0.5, what="ingresses deleted")


def _set_status(api: ApiServer, index: int, ip: str) -> None:
    api.must(
        "PATCH",
        f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses/bench-{index}/status",
        {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}},
        content_type="application/merge-patch+json",
        timeout=30,
    )


# --- programs ------------------------------------------------------------------------------------


def _aws_env(moto: MotoServer, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=key,
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=moto.endpoint_url,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def _start_ours(
    *,
    api: ApiServer,
    moto: MotoServer,
    bind: QueryLogBind,
    zones: Sequence[str],
    work: Path,
    interval: float,
) -> list[subprocess.Popen[bytes]]:
    config = {
        "ownerId": OWNER,
        "policy": "sync",
        "interval": interval,
        # one replica: no Lease to win first; probes on a free local port, not 0.0.0.0:8080
        "leaderElection": {"enabled": False},
        "health": {"host": "127.0.0.1", "port": 0},
        "providers": [
            {
                "name": "route53",
                "type": "route53",
                "endpointUrl": moto.endpoint_url,
                "region": "us-east-1",
            },
            {
                "name": "bind",
                "type": "rfc2136",
                "host": bind.host,
                "port": bind.port,
                "zones": list(zones),
                "tsig": {
                    "keyName": bind.key_name,
                    "algorithm": bind.algorithm,
                    "secretFile": str(bind.secret_file),
                },
            },
        ],
    }
    path = work / "ingress-reconciler.yaml"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    binary = Path(sys.executable).parent / "ingress-reconciler"
    log = (work / "ingress-reconciler.log").open("wb")
    proc = subprocess.Popen(
        [str(binary), "run", "--config", str(path), "--kubeconfig", str(api.kubeconfig)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=_aws_env(moto, PROGRAM_KEYS["ingress-reconciler"]),
    )
    return [proc]


def _start_external_dns(
    *,
    api: ApiServer,
    moto: MotoServer,
    bind: QueryLogBind,
    zones: Sequence[str],
    work: Path,
    interval: float | None,
    binary: Path,
    events: bool,
) -> list[subprocess.Popen[bytes]]:
    if not binary.exists():
        raise FileNotFoundError(
            f"external-dns not found at {binary}: run `make bench-deps` "
            "(bash scripts/install.d/40-external-dns)"
        )
    common = [
        str(binary),
        "--source=ingress",
        "--policy=sync",
        "--registry=txt",
        f"--txt-owner-id={OWNER}",
        f"--kubeconfig={api.kubeconfig}",
        "--log-level=info",
    ]
    if interval is not None:
        common.append(f"--interval={interval:g}s")
    if events:
        common.extend(EXTERNAL_DNS_EVENTS_ARGS)
    aws = [*common, "--provider=aws", f"--metrics-address=127.0.0.1:{free_tcp_port()}"]
    rfc = [
        *common,
        "--provider=rfc2136",
        f"--metrics-address=127.0.0.1:{free_tcp_port()}",
        f"--rfc2136-host={bind.host}",
        f"--rfc2136-port={bind.port}",
        *(f"--rfc2136-zone={z}" for z in zones),
        f"--rfc2136-tsig-keyname={bind.key_name}",
        f"--rfc2136-tsig-secret={bind.secret}",
        f"--rfc2136-tsig-secret-alg={bind.algorithm}",
        "--rfc2136-axfr",
    ]
    procs = []
    for name, argv in (("aws", aws), ("rfc2136", rfc)):
        log = (work / f"external-dns-{name}.log").open("wb")
        procs.append(
            subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_aws_env(
                    moto, PROGRAM_KEYS["external-dns-events" if events else "external-dns"]
                ),
            )
        )
    return procs


def _label(proc: subprocess.Popen[bytes]) -> str:
    """``ingress-reconciler`` or ``external-dns/<provider>``: which process a number is of."""
    args = [str(a) for a in proc.args]  # type: ignore[union-attr]
    provider = next((a.split("=", 1)[1] for a in args if a.startswith("--provider=")), None)
    name = Path(args[0]).name
    return f"{name}/{provider}" if provider else name


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _check_alive(procs: Sequence[subprocess.Popen[bytes]], work: Path) -> None:
    for proc in procs:
        if proc.poll() is not None:
            logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in work.glob("*.log"))
            raise RuntimeError(f"{_label(proc)} exited with {proc.returncode}:\n{logs}")


# --- one session: one program on fresh servers ---------------------------------------------------


def _zone_counts(client: Any, zone_ids: Mapping[str, str]) -> dict[str, int]:
    return {
        name: int(client.get_hosted_zone(Id=zid)["HostedZone"].get("ResourceRecordSetCount", 0))
        for zid, name in zone_ids.items()
    }


def _zone_cost(client: Any, zone_id: str, zone: str) -> dict[str, int]:
    values = chars = sets = 0
    for page in client.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for rrset in page["ResourceRecordSets"]:
            name = rrset["Name"].rstrip(".")
            if name == zone and rrset["Type"] in ("SOA", "NS"):
                continue
            rendered = [r["Value"] for r in rrset.get("ResourceRecords", [])]
            if "AliasTarget" in rrset:
                rendered = [rrset["AliasTarget"]["DNSName"]]
            v, c = record_set_cost(rendered)
            values, chars, sets = values + v, chars + c, sets + 1
    return {
        "record_sets": sets,
        "values": values,
        "chars": chars,
        "target": change_batch_target(values, chars),
    }


def _session(
    program: str,
    *,
    n: int,
    api: ApiServer,
    zones: Sequence[str],
    cfg: BenchConfig,
    work: Path,
) -> dict[str, Any]:
    """One program on fresh servers: converge, count, one quiet interval, latency; in order."""
    key = PROGRAM_KEYS[program]
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"program": program, "ingresses": n}
    interval = cfg.interval or (
        OUR_DEFAULT_INTERVAL if program == "ingress-reconciler" else EXTERNAL_DNS_DEFAULT_INTERVAL
    )
    result["interval_seconds"] = interval
    hosts = [ingress_host(i, zones) for i in range(n)]
    per_zone = Counter(zones[i % len(zones)] for i in range(n))
    bind = QueryLogBind(zones)
    with MotoServer(workdir=work / "moto") as moto, bind:
        recording = MotoRecording(work / "moto" / "requests.jsonl")
        client = _observer(moto)
        zone_ids: dict[str, str] = {}
        for zone in zones:
            created = client.create_hosted_zone(Name=zone, CallerReference=f"bench-{zone}")
            zone_ids[created["HostedZone"]["Id"].rsplit("/", 1)[-1]] = zone
        start_offset = recording.offset()
        start = time.monotonic()
        if program == "ingress-reconciler":
            procs = _start_ours(
                api=api, moto=moto, bind=bind, zones=zones, work=work, interval=interval
            )
        else:
            procs = _start_external_dns(
                api=api,
                moto=moto,
                bind=bind,
                zones=zones,
                work=work,
                interval=cfg.interval,
                binary=cfg.external_dns,
                events=program == "external-dns-events",
            )
        try:
            # 1+2: converge, counting what creating every record cost
            pending = list(range(n))
            done: dict[str, float] = {}

            def converged() -> bool:
                _check_alive(procs, work)
                if "route53" not in done:
                    counts = _zone_counts(client, zone_ids)
                    if all(counts[z] >= 2 + 2 * per_zone[z] for z in zones):
                        done["route53"] = time.monotonic() - start
                if "rfc2136" not in done:
                    budget = time.monotonic() + 0.5
                    while pending and time.monotonic() < budget:
                        i = pending[0]
                        if _query_a(bind, hosts[i]) != (ingress_address(i),):
                            break
                        pending.pop(0)
                    if not pending:
                        done["rfc2136"] = time.monotonic() - start
                return len(done) == 2

            _wait_until(
                converged, timeout=cfg.converge_timeout, every=0.5, what=f"{program} converged"
            )
            result["converge_seconds"] = {k: round(v, 2) for k, v in sorted(done.items())}
            _log(f"{program} N={n}: converged {result['converge_seconds']}")
            # let the first pass finish its tail (TXT writes, the other provider) before counting
            last = [recording.offset(), bind.log_offset()]
            changed_at = [time.monotonic()]

            def settled() -> bool:
                now = [recording.offset(), bind.log_offset()]
                if now != last:
                    last[:] = now
                    changed_at[0] = time.monotonic()
                return time.monotonic() - changed_at[0] >= SETTLE_SECONDS

            _wait_until(settled, timeout=300, every=0.5, what=f"{program} settled")
            create_calls = recording.calls_since(start_offset)
            result["route53_create_calls"] = dict(
                sorted(count_actions(create_calls, access_key=key, service="route53").items())
            )
            changes = change_calls_per_zone(create_calls, zone_ids, access_key=key)
            costs = {zone: _zone_cost(client, zid, zone) for zid, zone in zone_ids.items()}
            result["route53_zones"] = {
                zone: {**costs[zone], "change_calls": changes.get(zone, 0)} for zone in zones
            }
            result["cpu_seconds_to_converge"] = round(sum(_process_cpu(p.pid) for p in procs), 2)

            # 1+4: two quiet intervals, counted on the servers' side: the first follows the
            # creating pass (a provider may re-read what it wrote), the second is steady state
            for label in ("after_write", "steady"):
                r53_offset, bind_offset = recording.offset(), bind.log_offset()
                cpu_before = sum(_process_cpu(p.pid) for p in procs)
                _log(f"{program} N={n}: quiet interval ({label}) of {interval:g}s")
                time.sleep(interval)  # a measurement window of one interval, not a condition
                _check_alive(procs, work)
                quiet = recording.calls_since(r53_offset)
                suffix = "" if label == "steady" else "_after_write"
                result[f"route53_quiet_calls{suffix}"] = dict(
                    sorted(count_actions(quiet, access_key=key, service="route53").items())
                )
                result[f"rfc2136_quiet_queries{suffix}"] = bind.queries_since(bind_offset)
                result[f"cpu_seconds_quiet_interval{suffix}"] = round(
                    sum(_process_cpu(p.pid) for p in procs) - cpu_before, 3
                )

            # 3: status change -> new address answering in BIND
            _log(f"{program} N={n}: {cfg.changes} status changes")
            latencies = _latencies(api=api, bind=bind, zones=zones, n=n, cfg=cfg, interval=interval)
            result["latency"] = summarize_latencies(latencies).as_dict()
            result["latencies"] = [None if x is None else round(x, 4) for x in latencies]
            result["peak_rss_mb"] = {
                _label(p): round(_process_peak_rss_mb(p.pid), 1) for p in procs
            }
            result["cpu_seconds_total"] = round(sum(_process_cpu(p.pid) for p in procs), 2)
            # torn or interleaved entries of moto's recording, skipped (counts may miss them)
            result["recording_unreadable"] = recording.unreadable
        finally:
            _stop(procs)
        _restore_statuses(api, n, cfg)
    return result


def _change_targets(n: int, changes: int) -> list[int]:
    return sorted({k * n // changes for k in range(changes)})


def _latencies(
    *,
    api: ApiServer,
    bind: QueryLogBind,
    zones: Sequence[str],
    n: int,
    cfg: BenchConfig,
    interval: float,
) -> list[float | None]:
    """Change statuses one by one at a steady pace; seconds until each new address answers."""
    targets = _change_targets(n, cfg.changes)
    new_ip = {idx: f"10.200.{k // 200}.{k % 200 + 1}" for k, idx in enumerate(targets)}
    sent: dict[int, float] = {}
    seen: dict[int, float] = {}
    queue = list(targets)
    next_send = time.monotonic()
    deadline: float | None = None
    while True:
        now = time.monotonic()
        if queue and now >= next_send:
            idx = queue.pop(0)
            sent[idx] = time.monotonic()
            _set_status(api, idx, new_ip[idx])
            next_send += cfg.change_spacing
            if not queue:
                deadline = time.monotonic() + 2 * interval + 30
        for idx in [i for i in sent if i not in seen]:
            if _query_a(bind, ingress_host(idx, zones)) == (new_ip[idx],):
                seen[idx] = time.monotonic() - sent[idx]
        if not queue and len(seen) == len(sent):
            break
        if deadline is not None and time.monotonic() > deadline:
            break
        time.sleep(0.01)  # polling interval
    return [seen.get(idx) for idx in targets]


def _restore_statuses(api: ApiServer, n: int, cfg: BenchConfig) -> None:
    for idx in _change_targets(n, cfg.changes):
        _set_status(api, idx, ingress_address(idx))


# --- the whole run -------------------------------------------------------------------------------


def _onepass(ingresses: int, zones: int) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.onepass",
            "--ingresses",
            str(ingresses),
            "--zones",
            str(zones),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def run_benchmark(
    cfg: BenchConfig, *, on_round: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run every round and session; the results as one JSON-able dict.

    ``on_round`` gets the results so far after each round (to save them as they come).
    """
    zones = zone_names(cfg.zones)
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "sizes": list(cfg.sizes),
            "zones": list(zones),
            "changes": cfg.changes,
            "change_spacing": cfg.change_spacing,
            "interval": cfg.interval,
            "programs": list(cfg.programs),
            "external_dns_version": _external_dns_version(cfg.external_dns),
        },
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, ApiServer() as api:
        api.create_namespace(NAMESPACE)
        # the class the Ingresses name exists, as in a cluster whose ingress controller runs:
        # an Ingress naming a missing class is a finding (a Warning Event each pass) for us
        api.must("POST", "/apis/networking.k8s.io/v1/ingressclasses", INGRESS_CLASS)
        for round_index, n in enumerate(cfg.sizes):
            _log(f"N={n}: creating Ingresses")
            seconds = _create_ingresses(api, n, zones)
            round_result: dict[str, Any] = {
                "ingresses": n,
                "create_ingresses_seconds": round(seconds, 1),
                "loadavg": [round(x, 2) for x in os.getloadavg()],
                "programs": {},
            }
            for program in cfg.programs:
                _log(f"N={n}: {program}")
                try:
                    session = _session(
                        program,
                        n=n,
                        api=api,
                        zones=zones,
                        cfg=cfg,
                        work=Path(tmp) / f"{program}-{n}",
                    )
                except (RuntimeError, TimeoutError, OSError, ValueError, KeyError) as exc:
                    # keep the other measurements; the table shows n/a and the error is recorded
                    _log(f"N={n}: {program} failed: {exc}")
                    session = {"program": program, "ingresses": n, "error": str(exc)[-4000:]}
                session["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
                round_result["programs"][program] = session
            results["rounds"].append(round_result)
            if on_round is not None:
                on_round(results)
            if round_index < len(cfg.sizes) - 1:  # the last round's go with the apiserver
                _delete_ingresses(api)
    largest = max(cfg.sizes)
    _log(f"one full pass in memory at N={largest}")
    results["onepass"] = _onepass(largest, cfg.zones)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return results


def merge_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with the sessions (and the in-memory pass) that ``new`` measured put in place."""
    merged: dict[str, Any] = json.loads(json.dumps(old))
    rounds = {r["ingresses"]: r for r in merged.setdefault("rounds", [])}
    for rnd in new.get("rounds", []):
        target = rounds.get(rnd["ingresses"])
        if target is None:
            merged["rounds"].append(rnd)
            continue
        target["programs"].update(rnd["programs"])
        target.setdefault("reruns", []).append(
            {"programs": sorted(rnd["programs"]), "loadavg": rnd.get("loadavg")}
        )
    if "onepass" in new:
        merged["onepass"] = new["onepass"]
    merged.setdefault("merged_runs", []).append(
        {
            "started": new.get("started"),
            "finished": new.get("finished"),
            "machine": new.get("machine"),
        }
    )
    merged["rounds"].sort(key=lambda r: r["ingresses"])
    return merged


def _write_json(results: Mapping[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def _write(results: Mapping[str, Any], out_dir: Path) -> None:
    _write_json(results, out_dir)
    (out_dir / "results.md").write_text(render_markdown(results))
    if out_dir.resolve() == RESULTS_DIR.resolve():  # the README shows the project's own results
        readme = BENCH_README.read_text()
        BENCH_README.write_text(replace_summary(readme, results))
    from bench.plot import plot  # noqa: PLC0415 - matplotlib is the optional extra 'bench'

    plot(results, out_dir / "results.png")


def _external_dns_version(binary: Path) -> str | None:
    """The release the peer binary was built from (its ``.version`` file), if known."""
    marker = binary.with_name(binary.name + ".version")
    return marker.read_text().strip() if marker.exists() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the benchmark, write the results."""
    parser = argparse.ArgumentParser(description="Benchmark against external-dns.")
    parser.add_argument("--quick", action="store_true", help="N=100, 10 s intervals, 20 changes")
    parser.add_argument("--sizes", default=None, help="comma-separated Ingress counts")
    parser.add_argument("--zones", type=int, default=4)
    parser.add_argument("--changes", type=int, default=None)
    parser.add_argument(
        "--change-spacing",
        type=float,
        default=1.0,
        help="seconds between two status changes (default 1)",
    )
    parser.add_argument("--interval", type=float, default=None, help="both programs' interval")
    parser.add_argument(
        "--programs",
        default="ingress-reconciler,external-dns,external-dns-events",
        help="comma-separated",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--external-dns", type=Path, default=EXTERNAL_DNS)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the sessions run now in the existing results.json",
    )
    parser.add_argument(
        "--render-only", action="store_true", help="re-render results.md/png from results.json"
    )
    args = parser.parse_args(argv)
    if args.render_only:
        _write(json.loads((args.out / "results.json").read_text()), args.out)
        return 0
    default_sizes = "100" if args.quick else "1000,10000"
    cfg = BenchConfig(
        sizes=tuple(int(s) for s in (args.sizes or default_sizes).split(",")),
        zones=args.zones,
        changes=args.changes or (20 if args.quick else 100),
        change_spacing=args.change_spacing,
        interval=args.interval or (10.0 if args.quick else None),
        programs=tuple(p for p in args.programs.split(",") if p),
        out_dir=args.out,
        external_dns=args.external_dns,
        converge_timeout=1800.0,
    )
    old = json.loads((cfg.out_dir / "results.json").read_text()) if args.merge else None

    def combined(new: Mapping[str, Any]) -> dict[str, Any]:
        return merge_results(old, new) if old is not None else dict(new)

    def save_partial(partial: dict[str, Any]) -> None:
        _write_json(combined(partial), cfg.out_dir)  # survives a failure in a later round

    results = run_benchmark(cfg, on_round=save_partial)
    _write(combined(results), cfg.out_dir)
    _log(f"results in {cfg.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
