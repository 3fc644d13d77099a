"""The ``ingress-reconciler`` command, and the composition root.

This is the one core module that builds clients (boto3, dnspython-based providers, the Kubernetes
client) and wires them into the pure parts. Commands::

    ingress-reconciler plan [--config PATH] [--manifests PATH] [--output table|json]
    ingress-reconciler once [--config PATH] [--manifests PATH] [--dry-run] [--output table|json]
    ingress-reconciler run  [--config PATH] [--manifests PATH] [--dry-run]
    ingress-reconciler version

``plan`` shows what one pass would change and writes nothing; ``once`` runs one full pass
(fleets → load balancers → Ingress status → DNS; ``--dry-run`` makes it a ``plan``); ``run`` runs
the controller loop until SIGTERM: watch caches trigger debounced passes, leader election on a
Lease (``leaderElection``) gates every write, ``/healthz``, ``/readyz`` and ``/metrics`` are
served on ``health.host:health.port``, logs are JSON on stderr. Ingresses come from the cluster
(``--kubeconfig``, else $KUBECONFIG / ~/.kube/config, else the in-cluster ServiceAccount) or, with
``--manifests``, from YAML files (then the cluster-side stages and leader election are skipped;
tenancy and split horizon still apply). Exit codes: 0 success (``once``: converged), 2 bad
configuration or usage (the message names the key and why), 1 runtime failure or not converged,
3 (``run``) leadership lost.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from reconciler.app.output import printable, render_json, render_table
from reconciler.app.pipeline import (
    Observed,
    PassReport,
    Stage,
    conflict_entries,
    reconcile,
)
from reconciler.app.settings import Settings, load_settings
from reconciler.app.wiring import loop_result, pass_config
from reconciler.dns.registry import TxtRegistry
from reconciler.kube.events import KubeEventRecorder
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
)
from reconciler.model.errors import (
    ConfigError,
    ReconcilerError,
)
from reconciler.runtime import loop
from reconciler.runtime.collector import tune_collector
from reconciler.runtime.leader import pod_identity
from reconciler.runtime.logs import configure

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "EXIT_FAILURE",
    "EXIT_LEADERSHIP_LOST",
    "EXIT_OK",
    "EXIT_USAGE",
    "IngressLoader",
    "ListedState",
    "TargetBuilder",
    "WriteGuard",
    "build_parser",
    "build_stages",
    "build_targets",
    "main",
]

from reconciler.app.controller import run_controller
from reconciler.app.exit_codes import EXIT_FAILURE, EXIT_LEADERSHIP_LOST, EXIT_OK, EXIT_USAGE
from reconciler.app.guards import WriteGuard
from reconciler.app.wiring import (
    IngressLoader,
    TargetBuilder,
    build_stages,
    build_targets,
    load_cluster_client,
    offline_zones,
    save_zones,
    snapshot_targets,
)
from reconciler.kube.listed import ListedState

log = logging.getLogger(__name__)


def _add_common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes; on sub-commands their defaults must not mask the main's."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--config", metavar="PATH", default=default(None), help="YAML configuration file"
    )
    parser.add_argument(
        "--manifests",
        metavar="PATH",
        default=default(None),
        help="read Ingresses from this YAML file or directory instead of the cluster",
    )
    parser.add_argument(
        "--kubeconfig", metavar="PATH", default=default(None), help="kubeconfig of the cluster"
    )
    parser.add_argument(
        "--zones",
        metavar="PATH|empty",
        default=default(None),
        help="plan only: compare against a zone snapshot (JSON from --save-zones, or zone "
        "files) or against empty zones, instead of the DNS servers",
    )
    parser.add_argument(
        "--save-zones",
        metavar="PATH",
        default=default(None),
        help="plan only: write what the providers hold to PATH (a snapshot for --zones)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=default(False),
        help="plan only; write nothing",
    )
    parser.add_argument(
        "--output",
        choices=("table", "json"),
        default=default("table"),
        help="how to print the pass (default: table)",
    )
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=default(None),
        help="log level of the JSON logs on stderr (default: info for run, else warning)",
    )


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors go to an injected stream instead of sys.stderr."""

    stream: IO[str] | None = None

    def _print_message(self, message: str, file: SupportsWrite[str] | None = None) -> None:
        if message:
            target = self.stream if (self.stream is not None and file is not sys.stdout) else file
            (target or sys.stderr).write(message)


def build_parser(*, stderr: IO[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser (options are accepted before or after the command)."""
    parser = _Parser(
        prog="ingress-reconciler",
        description="Keep Ingress DNS records (and their TXT ownership) converged.",
    )
    parser.stream = stderr
    _add_common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, text in (
        ("plan", "show the changes one pass would make; write nothing"),
        ("once", "run one pass, then exit"),
        ("run", "run the controller loop until stopped"),
        ("version", "print the version"),
    ):
        sub = commands.add_parser(name, help=text, description=text)
        if isinstance(sub, _Parser):
            sub.stream = stderr
        _add_common(sub, suppress=True)
    return parser


def _version() -> str:
    from importlib import metadata  # noqa: PLC0415  (only --version reads it)

    try:
        return metadata.version("ingress-reconciler")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# --- commands ------------------------------------------------------------------------------------


def _print_report(
    report: PassReport, *, output: str, dry_run: bool, stdout: IO[str], zones: str = ""
) -> None:
    refusals = conflict_entries(report)
    if output == "json":
        stdout.write(render_json(report.dns, report.source.rejections, refusals) + "\n")
    else:
        stdout.write(
            render_table(
                report.dns,
                report.source.rejections,
                dry_run=dry_run,
                refusals=refusals,
                zones=zones,
            )
        )
    for stage in report.stages:
        for error in stage.errors:
            log.warning("stage error", extra={"stage": stage.stage, "error": error})
    stdout.flush()


def _execute(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str],
    stdout: IO[str],
    target_builder: TargetBuilder,
    ingress_loader: IngressLoader | None,
) -> int:
    settings = load_settings(args.config, env)
    if not settings.providers:
        raise ConfigError("providers: list at least one DNS provider")
    if (args.zones is not None or args.save_zones is not None) and args.command != "plan":
        raise ConfigError("--zones and --save-zones are for plan only")
    if args.zones is not None and args.save_zones is not None:
        raise ConfigError("--zones and --save-zones exclude each other: save from the servers")
    zones_label = ""
    if args.zones is not None:
        snapshot = offline_zones(settings, args.zones)
        zones_label = "empty zones" if args.zones == "empty" else f"the zone snapshot {args.zones}"

        def target_builder(settings: Settings) -> list[TxtRegistry]:
            return snapshot_targets(settings, snapshot)

    if args.command == "run":
        targets = target_builder(settings)
        return run_controller(
            args, settings, env=env, targets=targets, ingress_loader=ingress_loader
        )
    dry_run = args.command == "plan" or bool(args.dry_run)
    config = pass_config(settings)
    state: ClusterState | None = None
    stages: list[Stage] = []
    events: EventRecorder | None = None
    if ingress_loader is not None:
        observed = Observed(ingresses=tuple(ingress_loader()))
    elif args.manifests is not None:
        observed = Observed.from_state(ListedState.from_manifests(args.manifests), config.fleets)
    else:
        client = load_cluster_client(args.kubeconfig, env)
        listed = ListedState.from_client(client)
        state = listed
        observed = Observed.from_state(listed, config.fleets)
        if not dry_run:
            guard = WriteGuard(lambda: True)
            recorder = KubeEventRecorder(client, reporting_instance=pod_identity(dict(env)))
            events = recorder
            stages = build_stages(settings, client=client, events=recorder, guard=guard)
    targets = target_builder(settings)
    report = reconcile(
        config=config,
        observed=observed,
        targets=targets,
        now=loop.utc_now(),
        state=state,
        stages=stages,
        events=events,
        dry_run=dry_run,
    )
    if args.save_zones is not None:
        save_zones(targets, Path(args.save_zones))
    _print_report(report, output=args.output, dry_run=dry_run, stdout=stdout, zones=zones_label)
    _log_summary(report, command=args.command, dry_run=dry_run)
    return EXIT_OK if report.ok else EXIT_FAILURE


def _log_summary(report: PassReport, *, command: str, dry_run: bool) -> None:
    """The pass's one INFO line (``run`` has the loop's; same message and fields)."""
    result = loop_result(report)
    log.info(
        "pass finished",
        extra={
            "reason": command,
            "dry_run": dry_run,
            "incremental": result.incremental,
            "converged": result.converged,
            "source_endpoints": result.source_endpoints,
            "changes": {f"{c.provider}/{c.action}": c.count for c in result.changes},
            "conflicts": {r.reason: r.count for r in result.conflicts},
            "refusals": {r.reason: r.count for r in result.refusals},
            "errors": list(result.errors),
        },
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    target_builder: TargetBuilder = build_targets,
    ingress_loader: IngressLoader | None = None,
) -> int:
    """Entry point of the ``ingress-reconciler`` command; returns the exit code.

    Everything the command touches can be injected for tests: the arguments, the environment,
    the output streams, how providers are built and where Ingresses come from.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    environment = env if env is not None else os.environ
    parser = build_parser(stderr=err)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command == "version":
        out.write(f"ingress-reconciler {_version()}\n")
        return EXIT_OK

    tune_collector()  # every other command runs passes over the whole cluster
    # run: one summary line per pass at info; once/plan print their own report on stdout
    level = args.log_level or ("info" if args.command == "run" else "warning")
    handler = configure(level=level.upper(), stream=err)
    try:
        return _execute(
            args,
            env=environment,
            stdout=out,
            target_builder=target_builder,
            ingress_loader=ingress_loader,
        )
    except ConfigError as exc:
        err.write(f"ingress-reconciler: configuration error: {printable(str(exc))}\n")
        return EXIT_USAGE
    except ReconcilerError as exc:
        err.write(f"ingress-reconciler: error: {printable(str(exc))}\n")
        return EXIT_FAILURE
    finally:
        if args.command != "run":
            logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
