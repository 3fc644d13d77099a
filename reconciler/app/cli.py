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
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
from prometheus_client import CollectorRegistry

from providers.elbv2 import Elbv2LoadBalancers
from providers.rfc2136 import Rfc2136Provider
from providers.route53 import Route53Provider, client_config
from providers.snapshot import ProviderSnapshot, read_snapshot, read_zone_files, snapshot_json
from providers.throttle import TokenBucket
from reconciler.app.output import printable, render_json, render_table
from reconciler.app.pipeline import (
    GuardedRegistry,
    Observed,
    PassConfig,
    PassReport,
    Stage,
    StageOutcome,
    conflict_entries,
    reconcile,
)
from reconciler.app.settings import Rfc2136Settings, Route53Settings, Settings, load_settings
from reconciler.dns.ingress_source import SourceResult, endpoints_from_ingresses
from reconciler.dns.manifest_source import read_ingresses, read_objects
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import DomainFilter, Policy
from reconciler.dns.provider import Provider
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import DnsPassResult, DnsTarget, sync_dns
from reconciler.fleets.ingress_status import publish_ingress_status
from reconciler.fleets.load_balancers import converge_load_balancers
from reconciler.fleets.spec import (
    FleetSpec,
    LoadBalancerMode,
    converge_fleets,
    fleet_service_address,
)
from reconciler.kube.cache import ClusterCache
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.events import KubeEventRecorder
from reconciler.kube.fleet_objects import KubeFleetKube
from reconciler.kube.lease import KubeLeaseStore
from reconciler.kube.resources import INGRESS, INGRESS_CLASS, NAMESPACE, SERVICE
from reconciler.kube.service_status import KubeLbAdapter
from reconciler.kube.writer import KubeWriter
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
    EventType,
    JsonObject,
    ObjectChange,
    ObjectRef,
)
from reconciler.model.endpoint import normalize_name
from reconciler.model.errors import (
    ConfigError,
    KubernetesError,
    ReconcilerError,
    TransientProviderError,
)
from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict
from reconciler.model.load_balancer import (
    LoadBalancerPort,
    LoadBalancerSpec,
    LoadBalancerState,
    scheme_for_visibility,
)
from reconciler.runtime import loop
from reconciler.runtime.health import HealthServer, HealthState
from reconciler.runtime.leader import LeaderElector, pod_identity
from reconciler.runtime.logs import configure
from reconciler.runtime.loop import ReasonCount
from reconciler.runtime.metrics import Metrics

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "EXIT_FAILURE",
    "EXIT_LEADERSHIP_LOST",
    "EXIT_OK",
    "EXIT_USAGE",
    "IngressLoader",
    "ListedState",
    "PassOutcome",
    "TargetBuilder",
    "WriteGuard",
    "build_parser",
    "build_stages",
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
EXIT_LEADERSHIP_LOST = loop.EXIT_LEADERSHIP_LOST
"""``run`` lost the leader lease (the pod restarts as a standby)."""

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


def _route53_provider(entry: Route53Settings, settings: Settings, limiter: TokenBucket) -> Provider:
    config = client_config()
    route53 = boto3.client(
        "route53", endpoint_url=entry.endpoint_url, region_name=entry.region, config=config
    )
    elbv2 = boto3.client(
        "elbv2", endpoint_url=entry.endpoint_url, region_name=entry.region, config=config
    )
    return Route53Provider(
        limiter=limiter,
        name=entry.name,
        client=route53,
        zone_type=entry.zone_type,
        zone_ids=entry.zone_ids,
        domain_filter=entry.domain_filter,
        elbv2_client=elbv2,
        region=entry.region,
        evaluate_target_health=entry.evaluate_target_health,
        resync_period=settings.resync_period,
        default_ttl=settings.default_ttl,
    )


def _registry(provider: Provider, settings: Settings) -> TxtRegistry:
    """The TXT registry of the settings (owner id, affixes, managed types) around ``provider``."""
    return TxtRegistry(
        provider=provider,
        owner_id=settings.owner_id,
        txt_prefix=settings.txt_prefix,
        txt_suffix=settings.txt_suffix,
        wildcard_replacement=settings.txt_wildcard_replacement,
        managed_types=frozenset(settings.managed_record_types),
    )


def build_targets(settings: Settings) -> list[DnsTarget]:
    """Every configured provider, wrapped in a TXT registry (owner id, affixes, managed types).

    Route53 clients run with botocore's retries off (:func:`providers.route53.client_config`)
    and every Route53 provider of the process shares ONE token bucket: the API's rate limit is
    per account, not per hosted zone.
    """
    limiter = TokenBucket()
    targets: list[DnsTarget] = []
    for entry in settings.providers:
        provider = (
            _rfc2136_provider(entry, settings)
            if isinstance(entry, Rfc2136Settings)
            else _route53_provider(entry, settings, limiter)
        )
        registry = _registry(provider, settings)
        targets.append(DnsTarget(provider=provider, registry=registry))
    return targets


def _load_client(kubeconfig: str | None, env: Mapping[str, str]) -> KubeClient:
    in_cluster = kubeconfig is None and "KUBERNETES_SERVICE_HOST" in env
    try:
        return load_client(kubeconfig=kubeconfig, in_cluster=in_cluster)
    except KubernetesError as exc:
        # No usable kubeconfig is a usage problem: say how to point at a cluster or at files.
        raise ConfigError(
            f"--kubeconfig: {exc}; pass --kubeconfig PATH, set KUBECONFIG, run in a pod, "
            "or read Ingresses from files with --manifests PATH"
        ) from exc


def _manifest_objects(path: str) -> list[JsonObject]:
    """Every object (Lists unpacked) of the manifest file or directory ``path``."""
    return read_objects(path)


class ListedState:
    """A ClusterState read once: listed from the API (``once``/``plan`` against a cluster) or
    taken from manifest files (``--manifests``: Namespaces and fleet Services found there give
    tenant selectors their labels and fleets their addresses).

    Listed from the API it is a :class:`~reconciler.app.pipeline.RefreshableState`: the pass lists
    again after a stage that wrote something, so ``once`` converges in one run."""

    def __init__(
        self,
        *,
        ingresses: Sequence[Mapping[str, Any]] = (),
        ingress_classes: Sequence[Mapping[str, Any]] = (),
        services: Sequence[Mapping[str, Any]] = (),
        namespaces: Sequence[Mapping[str, Any]] = (),
        client: KubeClient | None = None,
    ) -> None:
        self._client = client
        self._ingresses = tuple(ingresses)
        self._classes = tuple(ingress_classes)
        self._services = tuple(services)
        self._namespaces = tuple(namespaces)

    @classmethod
    def from_client(cls, client: KubeClient) -> ListedState:
        """List the four kinds from the API server."""
        return cls(
            ingresses=client.list(INGRESS)[0],
            ingress_classes=client.list(INGRESS_CLASS)[0],
            services=client.list(SERVICE)[0],
            namespaces=client.list(NAMESPACE)[0],
            client=client,
        )

    def refreshed(self) -> ListedState:
        """Listed again from the API server; manifests do not change, so ``self`` for them."""
        if self._client is None:
            return self
        return ListedState.from_client(self._client)

    @classmethod
    def from_manifests(cls, path: str) -> ListedState:
        """Ingresses (as the manifest source reads them), Services and Namespaces of ``path``."""
        objects = _manifest_objects(path)

        def of_kind(kind: str) -> list[JsonObject]:
            return [o for o in objects if o.get("kind") == kind]

        return cls(
            ingresses=read_ingresses(path),
            ingress_classes=of_kind("IngressClass"),
            services=of_kind("Service"),
            namespaces=of_kind("Namespace"),
        )

    def has_synced(self) -> bool:
        """Always: everything was read at construction."""
        return True

    def ingresses(self) -> Sequence[IngressDict]:
        """The Ingresses."""
        return cast(Sequence[IngressDict], self._ingresses)

    def ingress_classes(self) -> Sequence[IngressClassDict]:
        """The IngressClasses."""
        return cast(Sequence[IngressClassDict], self._classes)

    def services(self) -> Sequence[ServiceDict]:
        """The Services."""
        return cast(Sequence[ServiceDict], self._services)

    def namespaces(self) -> Sequence[NamespaceDict]:
        """The Namespaces."""
        return cast(Sequence[NamespaceDict], self._namespaces)


class NotLeaderError(KubernetesError):
    """A write was due after the lease was lost; the guard stopped it."""

    def __init__(self) -> None:
        super().__init__("not the leader any more: write skipped", transient=True)


class WriteGuard:
    """Asks ``may_write`` right before every cluster or load-balancer write.

    Wraps the writers the stages get (server-side apply, deletes, status patches, finalizers,
    NLB changes, Events): once the lease is lost, every further write raises (Events are
    dropped), and the pass reports it instead of writing.
    """

    def __init__(self, may_write: Callable[[], bool]) -> None:
        self.may_write = may_write

    def check(self) -> None:
        """Raise :class:`NotLeaderError` unless this process may write now."""
        if not self.may_write():
            raise NotLeaderError()

    def writer(self, inner: KubeWriter) -> _GuardedWriter:
        """Status patches and server-side apply, guarded."""
        return _GuardedWriter(inner, self)

    def fleet_kube(self, inner: KubeFleetKube) -> _GuardedFleetKube:
        """The fleet stage's apply/delete, guarded (listing is not)."""
        return _GuardedFleetKube(inner, self)

    def lb_kube(self, inner: KubeLbAdapter) -> _GuardedLbKube:
        """The load-balancer stage's Service writes, guarded."""
        return _GuardedLbKube(inner, self)

    def backend(self, inner: Elbv2LoadBalancers) -> _GuardedBackend:
        """NLB ensure/delete, guarded (listing is not)."""
        return _GuardedBackend(inner, self)

    def events(self, inner: EventRecorder) -> _GuardedEvents:
        """Events, dropped once not leader."""
        return _GuardedEvents(inner, self)


class _GuardedWriter:
    def __init__(self, inner: KubeWriter, guard: WriteGuard) -> None:
        self._inner = inner
        self._guard = guard

    def patch_ingress_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        self._guard.check()
        return self._inner.patch_ingress_status(namespace, name, load_balancer)

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        self._guard.check()
        return self._inner.patch_service_status(namespace, name, load_balancer)

    def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> JsonObject:
        self._guard.check()
        return self._inner.apply(obj, force=force)


class _GuardedFleetKube:
    def __init__(self, inner: KubeFleetKube, guard: WriteGuard) -> None:
        self._inner = inner
        self._guard = guard

    def apply(self, obj: Mapping[str, Any]) -> JsonObject:
        self._guard.check()
        return self._inner.apply(obj)

    def list_owned(self, owner_id: str) -> Sequence[JsonObject]:
        return self._inner.list_owned(owner_id)

    def get(self, ref: ObjectRef) -> JsonObject | None:
        return self._inner.get(ref)

    def delete(self, ref: ObjectRef) -> None:
        self._guard.check()
        self._inner.delete(ref)


class _GuardedLbKube:
    def __init__(self, inner: KubeLbAdapter, guard: WriteGuard) -> None:
        self._inner = inner
        self._guard = guard

    def patch_service_status(
        self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
    ) -> JsonObject:
        self._guard.check()
        return self._inner.patch_service_status(namespace, name, load_balancer)

    def add_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self._guard.check()
        self._inner.add_finalizer(namespace, name, finalizer)

    def remove_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self._guard.check()
        self._inner.remove_finalizer(namespace, name, finalizer)


class _GuardedBackend:
    def __init__(self, inner: Elbv2LoadBalancers, guard: WriteGuard) -> None:
        self._inner = inner
        self._guard = guard

    def ensure(self, spec: LoadBalancerSpec) -> LoadBalancerState:
        if not self._guard.may_write():
            raise NotLeaderProviderError()
        return self._inner.ensure(spec)

    def delete(self, spec: LoadBalancerSpec) -> bool:
        if not self._guard.may_write():
            raise NotLeaderProviderError()
        return self._inner.delete(spec)

    def owned(self, cluster_name: str, owner_id: str) -> Sequence[LoadBalancerState]:
        return self._inner.owned(cluster_name, owner_id)


class NotLeaderProviderError(TransientProviderError):
    """An NLB change was due after the lease was lost; the guard stopped it."""

    def __init__(self) -> None:
        super().__init__("not the leader any more: load-balancer change skipped")


class _GuardedEvents:
    def __init__(self, inner: EventRecorder, guard: WriteGuard) -> None:
        self._inner = inner
        self._guard = guard

    def record(
        self,
        regarding: ObjectRef,
        *,
        type: EventType,
        reason: str,
        note: str,
        action: str,
        now: datetime,
    ) -> None:
        if self._guard.may_write():
            self._inner.record(
                regarding, type=type, reason=reason, note=note, action=action, now=now
            )


def _counts(reasons: Sequence[str]) -> tuple[ReasonCount, ...]:
    tally: dict[str, int] = {}
    for reason in reasons:
        tally[reason] = tally.get(reason, 0) + 1
    return tuple(ReasonCount(k, v) for k, v in sorted(tally.items()))


def _lb_spec(spec: FleetSpec, settings: Settings) -> LoadBalancerSpec:
    return LoadBalancerSpec(
        fleet=spec.name,
        cluster_name=settings.cluster_name,
        scheme=scheme_for_visibility(spec.visibility),
        ports=tuple(
            LoadBalancerPort(
                p.name, p.port, p.target_port if isinstance(p.target_port, int) else None
            )
            for p in spec.ports
        ),
        target_type=str(spec.target_type),
        owner_id=settings.owner_id,
    )


def build_stages(
    settings: Settings,
    *,
    client: KubeClient,
    events: EventRecorder,
    guard: WriteGuard,
) -> list[Stage]:
    """The cluster-side stages of a pass, every write behind ``guard``.

    fleets (always, so removed fleets are cleaned up), load balancers (when ``clusterName`` is
    set: elbv2-mode fleets, and the release of NLBs of fleets no longer in that mode), Ingress
    status (when fleets are configured).
    """
    specs = settings.fleet_specs()
    owner = settings.owner_id
    writer = guard.writer(KubeWriter(client))
    fleet_kube = guard.fleet_kube(KubeFleetKube(client))
    guarded_events = guard.events(events)
    stages: list[Stage] = []

    def fleets(state: ClusterState, now: datetime) -> StageOutcome:
        report = converge_fleets(
            specs=specs,
            owner_id=owner,
            state=state,
            kube=fleet_kube,
            events=guarded_events,
            now=now,
        )
        return StageOutcome(
            stage="fleets",
            changes=len(report.changed) + len(report.deleted),
            refusals=_counts([str(r.reason) for r in report.refused]),
            errors=tuple(
                f"{e.ref.kind} {e.ref.namespace}/{e.ref.name}: {e.message}" for e in report.errors
            ),
        )

    stages.append(fleets)
    if settings.cluster_name:
        aws = settings.aws
        config = client_config()
        backend = guard.backend(
            Elbv2LoadBalancers(
                elbv2_client=boto3.client(
                    "elbv2", endpoint_url=aws.endpoint_url, region_name=aws.region, config=config
                ),
                ec2_client=boto3.client(
                    "ec2", endpoint_url=aws.endpoint_url, region_name=aws.region, config=config
                ),
            )
        )
        lb_kube = guard.lb_kube(KubeLbAdapter(client=client, writer=writer))
        lb_specs = [_lb_spec(s, settings) for s in specs if s.lb_mode is LoadBalancerMode.ELBV2]

        def load_balancers(state: ClusterState, now: datetime) -> StageOutcome:
            report = converge_load_balancers(
                specs=lb_specs,
                owner_id=owner,
                cluster_name=settings.cluster_name,
                state=state,
                backend=backend,
                kube=lb_kube,
                events=guarded_events,
                now=now,
            )
            return StageOutcome(
                stage="load-balancers",
                changes=len(report.created) + len(report.status_written) + len(report.deleted),
                refusals=_counts([r.reason for r in report.refused]),
                errors=tuple(f"{f.fleet}: {f.error}" for f in report.failed),
            )

        stages.append(load_balancers)
    if specs:

        def ingress_status(state: ClusterState, now: datetime) -> StageOutcome:
            report = publish_ingress_status(
                specs=specs,
                state=state,
                writer=writer,
                addresses={s.name: fleet_service_address(s, state) for s in specs},
            )
            return StageOutcome(
                stage="ingress-status",
                changes=len(report.written),
                errors=tuple(f"{e.ref.namespace}/{e.ref.name}: {e.message}" for e in report.errors),
            )

        stages.append(ingress_status)
    return stages


def run_dns_pass(
    settings: Settings,
    *,
    ingresses: Sequence[Mapping[str, Any]],
    targets: Sequence[DnsTarget],
    dry_run: bool,
) -> PassOutcome:
    """Source → route → plan → apply for the given Ingresses and providers (no fleets, no
    tenancy: the issue-2 DNS pass; :func:`reconciler.app.pipeline.reconcile` is the full one)."""
    source = endpoints_from_ingresses(ingresses, ingress_class_names=settings.ingress_class_names)
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


def _guarded_targets(
    targets: Sequence[DnsTarget], may_write: Callable[[], bool]
) -> list[DnsTarget]:
    return [
        DnsTarget(provider=t.provider, registry=GuardedRegistry(t.registry, may_write))
        for t in targets
    ]


def _always() -> bool:
    """Without leader election this process always writes."""
    return True


def _lease_namespace(settings: Settings, env: Mapping[str, str]) -> str:
    namespace = settings.leader_election.lease_namespace or env.get("POD_NAMESPACE", "")
    if not namespace:
        raise ConfigError(
            "leaderElection.leaseNamespace: not set and POD_NAMESPACE is empty; set one of them "
            "(or leaderElection.enabled: false for a single replica)"
        )
    return namespace


def _run_controller(
    args: argparse.Namespace,
    settings: Settings,
    *,
    env: Mapping[str, str],
    targets: Sequence[DnsTarget],
    ingress_loader: IngressLoader | None,
) -> int:
    """``run``: caches → debounced passes, leader election, probes, until SIGTERM or lease loss."""
    config = PassConfig.from_settings(settings)
    metrics = Metrics.create(CollectorRegistry())
    health = HealthState(
        clock=loop.utc_now,
        interval=timedelta(seconds=settings.interval),
        tolerated_intervals=settings.health.tolerated_intervals,
    )
    identity = pod_identity(dict(env))
    offline = ingress_loader is not None or args.manifests is not None
    client: KubeClient | None = None if offline else _load_client(args.kubeconfig, env)
    elector = _elector(settings, client, env, identity)
    may_write: Callable[[], bool] = elector.is_leader if elector is not None else _always
    guard = WriteGuard(may_write)
    guarded_targets = _guarded_targets(targets, may_write)
    cache: ClusterCache | None = None
    stages: list[Stage] = []
    events: EventRecorder | None = None
    controller: loop.Controller | None = None
    if client is not None:
        recorder = KubeEventRecorder(client, reporting_instance=identity)
        events = guard.events(recorder)
        stages = build_stages(settings, client=client, events=recorder, guard=guard)

        def changed(change: ObjectChange) -> None:
            if controller is not None:
                controller.trigger(change.kind)

        cache = ClusterCache(client, on_change=changed)

    def run_pass(request: loop.PassRequest) -> loop.PassResult:
        dry_run = bool(args.dry_run) or not request.may_write()
        if cache is not None:
            observed = Observed.from_state(cache, config.fleets)
            state: ClusterState | None = cache
        else:
            try:
                observed = (
                    Observed(ingresses=tuple(ingress_loader()))
                    if ingress_loader is not None
                    else Observed.from_state(
                        ListedState.from_manifests(args.manifests), config.fleets
                    )
                )
            except ReconcilerError as exc:
                return loop.PassResult(converged=False, errors=(str(exc),))
            state = None
        report = reconcile(
            config=config,
            observed=observed,
            targets=guarded_targets,
            now=request.started,
            state=state,
            stages=() if dry_run else stages,
            events=events,
            dry_run=dry_run,
        )
        return report.loop_result()

    controller = loop.Controller(
        run_pass=run_pass,
        config=_loop_config(settings),
        metrics=metrics,
        health=health,
        may_write=may_write,
    )
    health_server = HealthServer(
        state=health,
        registry=metrics.registry,
        host=settings.health.host,
        port=settings.health.port,
    )
    stop = threading.Event()
    loop.install_signal_handlers(stop)
    # Probes are served from the start (a long first sync must not fail liveness); /readyz
    # turns 200 once the caches have synced.
    health_server.start()
    try:
        if cache is not None and not _wait_synced(cache, stop):
            return EXIT_OK
        health.mark_synced()
        # The first listing is long-lived; moving it out of the collector's view keeps full
        # collections from walking it on every pass (~0.1 CPU s a pass at 10,000 Ingresses).
        gc.freeze()
        log.info(
            "controller starting",
            extra={"identity": identity, "leader_election": elector is not None},
        )
        return loop.run(controller, stop=stop, elector=elector)
    finally:
        if cache is not None:
            cache.stop()
        health_server.stop()


def _loop_config(settings: Settings) -> loop.LoopConfig:
    debounce = timedelta(seconds=settings.debounce)
    return loop.LoopConfig(
        interval=timedelta(seconds=settings.interval),
        debounce=debounce,
        max_debounce=max(timedelta(seconds=5), debounce),
        resync_period=timedelta(seconds=settings.resync_period),
    )


def _wait_synced(cache: ClusterCache, stop: threading.Event) -> bool:
    """Start the caches and wait until they have listed everything; False when stopped first."""
    cache.start()
    while not cache.wait_synced(1.0):
        if stop.is_set():
            return False
    return True


def _elector(
    settings: Settings, client: KubeClient | None, env: Mapping[str, str], identity: str
) -> LeaderElector | None:
    """The Lease elector when election is enabled and there is a cluster, else None."""
    if client is None or not settings.leader_election.enabled:
        return None
    store = KubeLeaseStore(
        client=client,
        namespace=_lease_namespace(settings, env),
        name=settings.leader_election.lease_name,
    )
    return LeaderElector(store=store, config=settings.election_config(identity), clock=loop.utc_now)


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

        def target_builder(settings: Settings) -> list[DnsTarget]:
            return _snapshot_targets(settings, snapshot)

    if args.command == "run":
        targets = target_builder(settings)
        return _run_controller(
            args, settings, env=env, targets=targets, ingress_loader=ingress_loader
        )
    dry_run = args.command == "plan" or bool(args.dry_run)
    config = PassConfig.from_settings(settings)
    state: ClusterState | None = None
    stages: list[Stage] = []
    events: EventRecorder | None = None
    if ingress_loader is not None:
        observed = Observed(ingresses=tuple(ingress_loader()))
    elif args.manifests is not None:
        observed = Observed.from_state(ListedState.from_manifests(args.manifests), config.fleets)
    else:
        client = _load_client(args.kubeconfig, env)
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
        _save_zones(targets, Path(args.save_zones))
    _print_report(report, output=args.output, dry_run=dry_run, stdout=stdout, zones=zones_label)
    _log_summary(report, command=args.command, dry_run=dry_run)
    return EXIT_OK if report.ok else EXIT_FAILURE


def offline_zones(settings: Settings, where: str) -> dict[str, ProviderSnapshot]:
    """Per configured provider, the zones ``--zones`` gives it: ``empty`` or read from files.

    ``empty``: the zones an rfc2136 provider lists, or a route53 provider's ``domainFilter``.
    A JSON snapshot names its providers; zone files go to the provider holding that zone.
    """
    configured: dict[str, tuple[str, ...]] = {}
    for entry in settings.providers:
        names = entry.zones if isinstance(entry, Rfc2136Settings) else entry.domain_filter
        configured[entry.name] = tuple(normalize_name(z.lstrip(".")) for z in names)
    path = Path(where)
    if where == "empty":
        missing = [name for name, zones in configured.items() if not zones]
        if missing:
            raise ConfigError(
                f"--zones empty: the zones of provider(s) {', '.join(missing)} are unknown "
                "offline; set their domainFilter, or give a snapshot (plan --save-zones)"
            )
        return {n: ProviderSnapshot(zones=z, records=()) for n, z in configured.items()}
    if path.is_file() and path.suffix.lower() == ".json":
        found = read_snapshot(path)
        unknown = sorted(set(found) - set(configured))
        if unknown:
            raise ConfigError(
                f"--zones: {where!r} holds provider(s) {', '.join(unknown)} that the "
                "configuration does not name"
            )
        missing = sorted(set(configured) - set(found))
        if missing:
            raise ConfigError(
                f"--zones: {where!r} has no zones of provider(s) {', '.join(missing)}"
            )
        return found
    files = read_zone_files(path)
    result: dict[str, ProviderSnapshot] = {}
    for name, zones in configured.items():
        held = tuple(z for z in zones if z in files)
        records = tuple(r for z in held for r in files[z])
        result[name] = ProviderSnapshot(zones=held or zones, records=records)
    stray = sorted(set(files) - {z for zones in configured.values() for z in zones})
    if stray:
        raise ConfigError(
            f"--zones: no provider holds zone(s) {', '.join(stray)} (an rfc2136 provider's "
            "zones or a route53 provider's domainFilter must name each)"
        )
    return result


def _snapshot_targets(
    settings: Settings, snapshot: Mapping[str, ProviderSnapshot]
) -> list[DnsTarget]:
    """In-memory providers holding the snapshot, each behind its TXT registry."""
    targets: list[DnsTarget] = []
    for entry in settings.providers:
        held = snapshot[entry.name]
        provider = InMemoryProvider(name=entry.name, zones=held.zones, records=held.records)
        targets.append(DnsTarget(provider=provider, registry=_registry(provider, settings)))
    return targets


def _save_zones(targets: Sequence[DnsTarget], path: Path) -> None:
    """Write what every provider holds (as this pass read it) for a later ``plan --zones``."""
    snapshot = {
        t.provider.name: ProviderSnapshot(
            zones=tuple(t.provider.zones()), records=tuple(t.provider.records())
        )
        for t in targets
    }
    try:
        path.write_text(snapshot_json(snapshot), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--save-zones: cannot write {str(path)!r} ({exc.strerror})") from None


def _log_summary(report: PassReport, *, command: str, dry_run: bool) -> None:
    """The pass's one INFO line (``run`` has the loop's; same message and fields)."""
    result = report.loop_result()
    log.info(
        "pass finished",
        extra={
            "reason": command,
            "dry_run": dry_run,
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
