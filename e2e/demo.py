"""The one-command local demo (``make demo`` = ``python -m e2e.demo``).

Starts a real kube-apiserver + etcd, BIND9 and moto on 127.0.0.1, creates the emulated VPC, subnets
and public hosted zone, applies the embedded sample (:mod:`e2e.sample`: a public and a private
fleet in ``elbv2`` mode, two tenants, three Ingresses of which one tries to hijack another tenant's
name), runs ``ingress-reconciler run`` against them and shows what happened: the fleets with their
load-balancer addresses, each Ingress with its status, the DNS records in each view and the
refusals with their reasons. Then it starts each fleet's Traefik from the Deployment the
reconciler wrote and the apps' backends (in network namespaces, so as root), sends each host's
request through its fleet, and prints the ``curl`` command that does the same with the answer.
It keeps reconciling until Ctrl-C, printing what changes, so you can ``kubectl apply`` more.
``--exit-after-report`` stops after the first converged report (exit 0; 1 when it did not
converge in ``--timeout`` seconds).

The first run builds kube-apiserver and etcd from the Go module proxy (several minutes); its
progress is shown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from e2e import sample
from e2e.ground import REGION, GroundError, LocalGround
from e2e.observe import Observer, Record
from e2e.servers.apiserver import BinariesMissingError, binary_dir, find_binaries
from e2e.servers.bind import BindNotInstalledError
from e2e.servers.fleet_controller import FleetController, FleetControllerError, traefik_binary
from e2e.servers.netns import NetnsError, NetnsPod, can_make_namespaces
from e2e.traffic import curl_command, expose, request

__all__ = [
    "Snapshot",
    "build_parser",
    "converged",
    "ensure_binaries",
    "main",
    "render",
    "snapshot",
]

ROOT = Path(__file__).resolve().parent.parent
KUBECTL = Path.home() / ".cache" / "ingress-reconciler" / "bin" / "kubectl"
ENVTEST_BUILD = ROOT / "scripts" / "install.d" / "10-envtest"
POLL = 0.5
"""Seconds between two looks at the ground while waiting for convergence."""
WATCH = 3.0
"""Seconds between two looks once converged (changes are printed)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the demo shows, read at one moment."""

    fleets: tuple[str, ...]
    """One line per fleet Service."""
    ingresses: tuple[str, ...]
    """One line per Ingress."""
    public: tuple[str, ...]
    """One line per record set of the public view."""
    private: tuple[str, ...]
    """One line per record set of the private view."""
    refusals: tuple[str, ...]
    """One line per refusal."""
    ok: bool
    """Whether the sample's expectations all hold."""
    missing: tuple[str, ...]
    """What is not there yet (empty when ``ok``)."""


def _record_line(record: Record) -> str:
    kind = f"{record.type} ALIAS" if record.alias else record.type
    return f"{record.name:<44} {kind:<10} {', '.join(record.values)}"


def converged(observer: Observer) -> tuple[str, ...]:
    """What the sample expects that is not there yet (empty: converged)."""
    missing: list[str] = []
    addresses = observer.fleet_addresses()
    for fleet in sample.FLEETS:
        if not addresses.get(fleet.name):
            missing.append(f"fleet {fleet.name}: no load-balancer address")
    expected_refusals = sample.EXPECTED_REFUSALS
    refused = {(r.namespace, r.ingress) for r in expected_refusals}
    for view in observer.ingresses(sample.NAMESPACES):
        if (view.namespace, view.name) in refused:
            continue
        want = addresses.get(view.class_name)
        if not view.addresses or (want and set(view.addresses) != set(want)):
            missing.append(f"ingress {view.namespace}/{view.name}: status not published")
    for view_name in ("public", "private"):
        records = observer.records(view_name)
        for expected in (e for e in sample.EXPECTED_RECORDS if e.view == view_name):
            target = set(addresses.get(expected.fleet, ()))
            if not any(
                r.name == expected.name and target and target <= set(_bare(v) for v in r.values)
                for r in records
            ):
                missing.append(f"record {expected.name} ({view_name} view): not written")
    notes = observer.refusals(sample.NAMESPACES)
    for expected_refusal in expected_refusals:
        if not any(
            n.namespace == expected_refusal.namespace
            and n.ingress == expected_refusal.ingress
            and expected_refusal.host in n.note
            for n in notes
        ):
            missing.append(
                f"refusal of {expected_refusal.host} for "
                f"{expected_refusal.namespace}/{expected_refusal.ingress}: not reported"
            )
    return tuple(missing)


def _bare(value: str) -> str:
    return value.rstrip(".").lower()


def snapshot(observer: Observer) -> Snapshot:
    """Read the ground once: the convergence check first, so that a report said to be converged
    shows what made it so (records written between two reads appear in the second)."""
    missing = converged(observer)
    fleets = tuple(
        f"{v.fleet:<8} Service {v.namespace}/{v.service:<24} {v.scheme or '-':<16} "
        f"{', '.join(v.addresses) or '(no address yet)'}"
        for v in observer.fleets()
    )
    ingresses = tuple(
        f"{v.namespace + '/' + v.name:<18} class {v.class_name:<8} "
        f"hosts {', '.join(v.hosts):<44} status {', '.join(v.addresses) or '(empty)'}"
        for v in observer.ingresses(sample.NAMESPACES)
    )
    public = tuple(_record_line(r) for r in observer.public_records())
    private = tuple(_record_line(r) for r in observer.private_records())
    refusals = tuple(
        f"{r.namespace + '/' + r.ingress:<18} {r.reason}: {r.note}"
        for r in observer.refusals(sample.NAMESPACES)
    )
    return Snapshot(fleets, ingresses, public, private, refusals, not missing, missing)


def render(snap: Snapshot) -> str:
    """The report, as text."""
    sections = (
        ("Fleets (load balancers in the AWS emulator)", snap.fleets),
        ("Ingresses", snap.ingresses),
        (f"DNS, public view: Route53 hosted zone {sample.PUBLIC_ZONE} (moto)", snap.public),
        (f"DNS, private view: BIND zone {sample.BIND_ZONE}", snap.private),
        ("Refusals", snap.refusals),
    )
    lines: list[str] = []
    for title, body in sections:
        lines.append(f"== {title}")
        lines.extend(f"   {line}" for line in body or ("(none)",))
        lines.append("")
    if snap.missing:
        lines.append("== Not converged yet")
        lines.extend(f"   {line}" for line in snap.missing)
        lines.append("")
    return "\n".join(lines)


def _diff(old: Snapshot, new: Snapshot) -> list[str]:
    before = set(old.fleets + old.ingresses + old.public + old.private + old.refusals)
    after = set(new.fleets + new.ingresses + new.public + new.private + new.refusals)
    return [f"  - {line}" for line in sorted(before - after)] + [
        f"  + {line}" for line in sorted(after - before)
    ]


def ensure_binaries(
    say: Callable[[str], None],
    *,
    build: Sequence[str] = (str(ENVTEST_BUILD),),
    find: Callable[[], object] = find_binaries,
    heartbeat: float = 20.0,
) -> None:
    """Build kube-apiserver + etcd when ``find`` says they are missing, showing progress: the
    build's own lines as they come, and an elapsed-time line every ``heartbeat`` seconds."""
    try:
        find()
        return
    except BinariesMissingError:
        pass
    say(f"kube-apiserver and etcd are not built yet: building them into {binary_dir()}")
    say("(first run only: several minutes; Go fetches Kubernetes from the module proxy)")
    started = time.monotonic()
    done = threading.Event()

    def tick() -> None:
        while not done.wait(heartbeat):
            say(f"... still building ({time.monotonic() - started:.0f} s)")

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        proc = subprocess.Popen(
            list(build),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        with proc.stdout:
            for line in proc.stdout:
                say(f"  build: {line.rstrip()}")
        code = proc.wait()
    finally:
        done.set()
        ticker.join()
    if code != 0:
        raise GroundError(f"{' '.join(build)} failed with exit code {code}")
    find()
    say(f"built in {time.monotonic() - started:.0f} s")


def build_parser() -> argparse.ArgumentParser:
    """The demo's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m e2e.demo",
        description="Run ingress-reconciler on an embedded sample against local real servers.",
    )
    parser.add_argument(
        "--exit-after-report",
        action="store_true",
        help="stop after the first converged report (exit 1 if it does not converge)",
    )
    parser.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for convergence"
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep config, logs and kubeconfig here"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Run the demo; the exit code."""
    stream = out if out is not None else sys.stdout
    args = build_parser().parse_args(argv)

    def say(message: str) -> None:
        stream.write(f"demo: {message}\n")
        stream.flush()

    own_dir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="ingress-reconciler-demo-")) if own_dir else args.workdir
    try:
        ensure_binaries(say)
        ground = LocalGround(workdir, progress=say)
        ground.start()
    except (GroundError, BinariesMissingError, BindNotInstalledError, OSError) as exc:
        say(f"cannot start the test ground: {exc}")
        say("run `make deps` (BIND9, kube-apiserver + etcd, helm, kubectl) and try again")
        return 1
    try:
        with contextlib.ExitStack() as running:
            return _run(ground, args, say, stream, running)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    except GroundError as exc:
        say(str(exc))
        return 1
    finally:
        ground.stop()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)


def traffic(
    ground: LocalGround,
    observer: Observer,
    say: Callable[[str], None],
    running: contextlib.ExitStack,
) -> list[str]:
    """Start each fleet's controller (Traefik, from the Deployment the reconciler wrote) and the
    sample's app backends, then send each sample host's request through its fleet: the report
    lines, with the ``curl`` command that does the same."""
    reason = can_make_namespaces()
    try:
        traefik_binary()
    except FleetControllerError as exc:
        reason = reason or str(exc)
    if reason:
        return [f"(skipped: {reason})"]
    say("starting each fleet's Traefik from its Deployment, and the app backends")
    listeners: dict[str, tuple[str, int]] = {}
    by_address: dict[str, str] = {}
    addresses = observer.fleet_addresses()
    try:
        for fleet_sample in sample.FLEETS:
            controller = running.enter_context(
                FleetController(
                    ground.apiserver,
                    namespace=fleet_sample.namespace,
                    workload=f"ingress-{fleet_sample.name}",
                    directory=ground.workdir / f"controller-{fleet_sample.name}",
                )
            )
            listeners[fleet_sample.name] = controller.listener("web")
            for address in addresses.get(fleet_sample.name, ()):
                by_address[_bare(address)] = fleet_sample.name
        for index, namespace in enumerate(sample.NAMESPACES, start=1):
            pod = running.enter_context(NetnsPod(namespace, index, log_dir=ground.workdir))
            expose(ground.apiserver, namespace, namespace, pod)
    except (FleetControllerError, NetnsError) as exc:
        return [f"(could not start: {exc})"]
    lines: list[str] = []
    for expected in sample.EXPECTED_RECORDS:
        record = next((r for r in observer.records(expected.view) if r.name == expected.name), None)
        if record is None:
            continue
        fleet = next((by_address[_bare(v)] for v in record.values if _bare(v) in by_address), "")
        if not fleet:
            continue
        listener = listeners[fleet]
        answer = _answered(listener, expected.name)
        lines.append(
            f"{expected.name} ({expected.view} view: {record.type} {', '.join(record.values)}"
            f" = fleet {fleet})"
        )
        lines.append(f"  $ {curl_command(listener, expected.name)}")
        lines.append(f"  HTTP {answer[0]} from {answer[1] or 'the fleet itself'}")
        for other, other_listener in listeners.items():
            if other != fleet:
                status, backend = _answered(other_listener, expected.name, wait=False)
                lines.append(
                    f"  the same request to fleet {other}: HTTP {status}"
                    f" from {backend or 'the fleet itself'}"
                )
    return lines


def _answered(listener: tuple[str, int], host: str, *, wait: bool = True) -> tuple[int, str]:
    """(status, backend) of a request for ``host``; waits a little for routes to load."""
    deadline = time.monotonic() + (15.0 if wait else 0.0)
    while True:
        try:
            answer = request(listener, host)
        except OSError:
            answer = None
        if answer is not None and (answer.backend or time.monotonic() >= deadline):
            return answer.status, answer.backend
        if time.monotonic() >= deadline:
            return 0, ""
        time.sleep(0.2)  # the controller loads its routes a moment after it starts


def _run(
    ground: LocalGround,
    args: argparse.Namespace,
    say: Callable[[str], None],
    stream: IO[str],
    running: contextlib.ExitStack,
) -> int:
    config = ground.write_config()
    say(f"configuration: {config}")
    say(
        "applying namespaces shop, payroll and Ingresses shop/shop, payroll/payroll, payroll/hijack"
    )
    ground.apply_sample()
    say(f"starting the reconciler: {' '.join(ground.reconciler_command()[1:])}")
    say(f"its log: {ground.reconciler_log}")
    ground.start_reconciler()
    observer = ground.observer()
    deadline = time.monotonic() + args.timeout
    snap = snapshot(observer)
    while not snap.ok and time.monotonic() < deadline:
        ground.check_reconciler()
        time.sleep(POLL)  # poll interval: the servers are outside this process
        snap = snapshot(observer)
    elapsed = args.timeout - max(0.0, deadline - time.monotonic())
    say(f"converged in {elapsed:.1f} s" if snap.ok else "NOT converged")
    stream.write("\n" + render(snap) + "\n")
    if not snap.ok:
        stream.write(f"reconciler log (last lines):\n{ground.log_tail()}\n")
    else:
        stream.write(
            "== Requests through each fleet (the load-balancer hop is simulated: a request for a "
            "fleet's address goes to its Traefik on 127.0.0.1)\n"
        )
        stream.write("".join(f"   {line}\n" for line in traffic(ground, observer, say, running)))
        stream.write("\n")
    stream.flush()
    if args.exit_after_report:
        return 0 if snap.ok else 1
    kubectl = str(KUBECTL) if KUBECTL.exists() else "kubectl"
    say("keeps reconciling until Ctrl-C; try, in another terminal:")
    stream.write(
        f"  export KUBECONFIG={ground.kubeconfig}\n"
        f"  {kubectl} get ingress -A\n"
        f"  {kubectl} -n shop create ingress blog --class=public "
        f"--rule='blog.shop.example.test/*=blog:80'\n"
        f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"aws --endpoint-url {ground.moto.endpoint_url} --region {REGION} route53 "
        "list-hosted-zones\n"
        f"  dig @127.0.0.1 -p {ground.bind.port} -y hmac-sha256:ddns-key:$(cat "
        f"{ground.bind.secret_file}) {sample.BIND_ZONE} AXFR\n\n"
    )
    stream.flush()
    while True:
        time.sleep(WATCH)  # the demo's own refresh period while the user experiments
        ground.check_reconciler()
        new = snapshot(observer)
        changes = _diff(snap, new)
        if changes:
            say(time.strftime("%H:%M:%S changed:"))
            stream.write("\n".join(changes) + "\n")
            stream.flush()
        snap = new


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
