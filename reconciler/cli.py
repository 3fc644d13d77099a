"""The ``ingress-reconciler`` command, and the composition root.

This is the one core module that builds clients (boto3, dnspython-based providers, the Kubernetes
client) and wires them into the pure parts. Commands::

    ingress-reconciler plan [--config PATH] [--manifests PATH] [--output table|json]
    ingress-reconciler once [--config PATH] [--manifests PATH] [--dry-run] [--output table|json]
    ingress-reconciler run  [--config PATH] [--manifests PATH] [--dry-run]
    ingress-reconciler version

``plan`` shows what one pass would change and writes nothing; ``once`` runs one pass (``--dry-run``
makes it a ``plan``); ``run`` runs the controller loop until SIGTERM. Ingresses come from the
cluster (``--kubeconfig``, else $KUBECONFIG / ~/.kube/config, else the in-cluster ServiceAccount)
or, with ``--manifests``, from YAML files. Exit codes: 0 success, 2 bad configuration or usage
(the message names the key and why), 1 runtime failure (a provider or the cluster failed).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib import metadata
from typing import IO, TYPE_CHECKING, Any

import boto3
from prometheus_client import CollectorRegistry

from providers.rfc2136 import Rfc2136Provider
from providers.route53 import Route53Provider
from reconciler import loop
from reconciler.dnssync import DnsPassResult, DnsTarget, sync_dns
from reconciler.errors import ConfigError, KubernetesError, ReconcilerError
from reconciler.kube.client import load_client
from reconciler.kube.resources import INGRESS
from reconciler.logs import configure
from reconciler.metrics import Metrics
from reconciler.output import render_json, render_table
from reconciler.plan import DomainFilter, Policy
from reconciler.provider import Provider
from reconciler.registry import TxtRegistry
from reconciler.settings import Rfc2136Settings, Route53Settings, Settings, load_settings
from reconciler.sources.ingress import SourceResult, endpoints_from_ingresses
from reconciler.sources.manifest import read_ingresses

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "IngressLoader",
    "PassOutcome",
    "TargetBuilder",
    "build_parser",
    "build_targets",
    "main",
    "run_dns_pass",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
"""Success (``once``: every provider's part of the pass succeeded)."""
EXIT_FAILURE = 1
"""A runtime failure: a provider or the cluster failed."""
EXIT_USAGE = 2
"""Bad configuration or command line; the message says which key and why."""

TargetBuilder = Callable[[Settings], Sequence[DnsTarget]]
"""Builds the providers (and their registries) from the settings."""
IngressLoader = Callable[[], Sequence[Mapping[str, Any]]]
"""Returns the current Ingress objects (raw API JSON)."""


@dataclass(frozen=True, slots=True)
class PassOutcome:
    """What one DNS pass saw and did: the source's output and the per-provider result."""

    source: SourceResult
    """Desired endpoints and rejected Ingress data."""
    dns: DnsPassResult
    """Per-provider changes, conflicts and errors."""


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
        default=default("warning"),
        help="log level of the JSON logs on stderr (default: warning)",
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
    try:
        return metadata.version("ingress-reconciler")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# --- composition ---------------------------------------------------------------------------------


def _rfc2136_provider(entry: Rfc2136Settings, settings: Settings) -> Provider:
    where = f"providers[{entry.name}]"
    key_name: str | None = None
    secret: str | None = None
    algorithm = "hmac-sha256"
    if entry.tsig is not None:
        try:
            secret = entry.tsig.read_secret().get_secret_value()
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from None
        key_name = entry.tsig.key_name
        algorithm = entry.tsig.algorithm
    return Rfc2136Provider(
        name=entry.name,
        host=entry.host,
        port=entry.port,
        zones=entry.zones,
        tsig_key_name=key_name,
        tsig_algorithm=algorithm,
        tsig_secret=secret,
        timeout=entry.timeout,
        default_ttl=settings.default_ttl,
    )


def _route53_provider(entry: Route53Settings, settings: Settings) -> Provider:
    route53 = boto3.client("route53", endpoint_url=entry.endpoint_url, region_name=entry.region)
    elbv2 = boto3.client("elbv2", endpoint_url=entry.endpoint_url, region_name=entry.region)
    return Route53Provider(
        name=entry.name,
        client=route53,
        zone_type=entry.zone_type,
        zone_ids=entry.zone_ids,
        domain_filter=entry.domain_filter,
        elbv2_client=elbv2,
        region=entry.region,
        evaluate_target_health=entry.evaluate_target_health,
        resync_period=settings.resync_period,
    )


def build_targets(settings: Settings) -> list[DnsTarget]:
    """Every configured provider, wrapped in a TXT registry (owner id, affixes, managed types)."""
    targets: list[DnsTarget] = []
    for entry in settings.providers:
        provider = (
            _rfc2136_provider(entry, settings)
            if isinstance(entry, Rfc2136Settings)
            else _route53_provider(entry, settings)
        )
        registry = TxtRegistry(
            provider=provider,
            owner_id=settings.owner_id,
            txt_prefix=settings.txt_prefix,
            txt_suffix=settings.txt_suffix,
            wildcard_replacement=settings.txt_wildcard_replacement,
            managed_types=frozenset(settings.managed_record_types),
        )
        targets.append(DnsTarget(provider=provider, registry=registry))
    return targets


def _manifest_loader(path: str) -> IngressLoader:
    def load() -> Sequence[Mapping[str, Any]]:
        return read_ingresses(path)

    return load


def _cluster_loader(kubeconfig: str | None, env: Mapping[str, str]) -> IngressLoader:
    in_cluster = kubeconfig is None and "KUBERNETES_SERVICE_HOST" in env
    try:
        client = load_client(kubeconfig=kubeconfig, in_cluster=in_cluster)
    except KubernetesError as exc:
        # No usable kubeconfig is a usage problem: say how to point at a cluster or at files.
        raise ConfigError(
            f"--kubeconfig: {exc}; pass --kubeconfig PATH, set KUBECONFIG, run in a pod, "
            "or read Ingresses from files with --manifests PATH"
        ) from exc

    def load() -> Sequence[Mapping[str, Any]]:
        items, _ = client.list(INGRESS)
        return items

    return load


def run_dns_pass(
    settings: Settings,
    *,
    ingresses: Sequence[Mapping[str, Any]],
    targets: Sequence[DnsTarget],
    dry_run: bool,
) -> PassOutcome:
    """Source → route → plan → apply for the given Ingresses and providers."""
    source = endpoints_from_ingresses(
        ingresses,
        ingress_class_names=settings.ingress_class_names,
        default_ttl=settings.default_ttl,
    )
    for rejection in source.rejections:
        log.warning(
            "ingress data rejected",
            extra={
                "resource": rejection.resource,
                "host": rejection.host,
                "reason": rejection.reason,
            },
        )
    result = sync_dns(
        desired=source.endpoints,
        targets=targets,
        owner_id=settings.owner_id,
        policy=Policy(settings.policy),
        managed_types=frozenset(settings.managed_record_types),
        domain_filter=DomainFilter(
            include=settings.domain_filter.include, exclude=settings.domain_filter.exclude
        ),
        dry_run=dry_run,
    )
    return PassOutcome(source=source, dns=result)


# --- commands ------------------------------------------------------------------------------------


def _print_outcome(outcome: PassOutcome, *, output: str, dry_run: bool, stdout: IO[str]) -> None:
    if output == "json":
        stdout.write(render_json(outcome.dns, outcome.source.rejections) + "\n")
    else:
        stdout.write(render_table(outcome.dns, outcome.source.rejections, dry_run=dry_run))
    stdout.flush()


def _run_loop(
    args: argparse.Namespace,
    settings: Settings,
    loader: IngressLoader,
    targets: Sequence[DnsTarget],
) -> int:
    def run_pass(request: loop.PassRequest) -> loop.PassResult:
        try:
            ingresses = loader()
        except ReconcilerError as exc:
            return loop.PassResult(converged=False, errors=(str(exc),))
        outcome = run_dns_pass(
            settings,
            ingresses=ingresses,
            targets=targets,
            dry_run=bool(args.dry_run) or not request.may_write(),
        )
        return _loop_result(outcome)

    controller = loop.Controller(
        run_pass=run_pass,
        config=loop.LoopConfig(
            interval=timedelta(seconds=settings.interval),
            resync_period=timedelta(seconds=settings.resync_period),
        ),
        metrics=Metrics.create(CollectorRegistry()),
    )
    stop = threading.Event()
    loop.install_signal_handlers(stop)
    return loop.run(controller, stop=stop)


def _loop_result(outcome: PassOutcome) -> loop.PassResult:
    changes = tuple(
        loop.ChangeCount(provider=r.provider, action=action, count=count)
        for r in outcome.dns.providers
        if r.applied
        for action, count in (
            ("create", len(r.changes.create)),
            ("update", len(r.changes.update)),
            ("delete", len(r.changes.delete)),
        )
        if count
    )
    reasons: dict[str, int] = {}
    for r in outcome.dns.providers:
        for conflict in r.conflicts:
            reasons[str(conflict.reason)] = reasons.get(str(conflict.reason), 0) + 1
    refusals = len(outcome.source.rejections)
    return loop.PassResult(
        converged=outcome.dns.ok,
        source_endpoints=len(outcome.source.endpoints),
        changes=changes,
        conflicts=tuple(loop.ReasonCount(reason=k, count=v) for k, v in sorted(reasons.items())),
        refusals=(loop.ReasonCount(reason="invalid", count=refusals),) if refusals else (),
        errors=tuple(f"{r.provider}: {e}" for r in outcome.dns.providers for e in r.errors),
    )


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
    if ingress_loader is not None:
        loader = ingress_loader
    elif args.manifests is not None:
        loader = _manifest_loader(args.manifests)
    else:
        loader = _cluster_loader(args.kubeconfig, env)
    targets = target_builder(settings)
    if args.command == "run":
        return _run_loop(args, settings, loader, targets)
    dry_run = args.command == "plan" or bool(args.dry_run)
    outcome = run_dns_pass(settings, ingresses=loader(), targets=targets, dry_run=dry_run)
    _print_outcome(outcome, output=args.output, dry_run=dry_run, stdout=stdout)
    return EXIT_OK if outcome.dns.ok else EXIT_FAILURE


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

    handler = configure(level=args.log_level.upper(), stream=err)
    try:
        return _execute(
            args,
            env=environment,
            stdout=out,
            target_builder=target_builder,
            ingress_loader=ingress_loader,
        )
    except ConfigError as exc:
        err.write(f"ingress-reconciler: configuration error: {exc}\n")
        return EXIT_USAGE
    except ReconcilerError as exc:
        err.write(f"ingress-reconciler: error: {exc}\n")
        return EXIT_FAILURE
    finally:
        if args.command != "run":
            logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
