"""Wiring: the clients, providers, registries and cluster-side stages built from the settings.

The only place that builds boto3 clients and providers (the kubernetes client is built in
:mod:`reconciler.kube.client`, called from here and from the CLI). The providers and boto3 are
imported where they are built, so a command pays for what its configuration uses: a plan against
BIND never imports boto3."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from providers.snapshot import ProviderSnapshot, read_snapshot, read_zone_files, snapshot_json
from providers.throttle import TokenBucket
from reconciler.app.guards import WriteGuard
from reconciler.app.pipeline import (
    INVALID_HOST,
    PassConfig,
    PassReport,
    Stage,
    StageOutcome,
)
from reconciler.app.settings import Rfc2136Settings, Route53Settings, Settings
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import DomainFilter, Policy
from reconciler.dns.provider import Provider
from reconciler.dns.registry import TxtRegistry
from reconciler.fleets.converge import converge_fleets
from reconciler.fleets.ingress_status import publish_ingress_status
from reconciler.fleets.load_balancers import converge_load_balancers
from reconciler.fleets.profiles import profile_named
from reconciler.fleets.spec import FleetSpec, LoadBalancerMode, fleet_service_address
from reconciler.kube.client import KubeClient, load_client
from reconciler.kube.fleet_objects import KubeFleetObjects
from reconciler.kube.service_status import KubeServiceStatus
from reconciler.kube.writer import KubeWriter
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
)
from reconciler.model.endpoint import normalize_name
from reconciler.model.errors import (
    ConfigError,
    KubernetesError,
)
from reconciler.model.load_balancer import (
    LoadBalancerPort,
    LoadBalancerSpec,
    scheme_for_visibility,
)
from reconciler.runtime.loop import ChangeCount, PassResult, ReasonCount, RecordCount

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

TargetBuilder = Callable[[Settings], Sequence[TxtRegistry]]
"""Builds the providers (and their registries) from the settings."""
IngressLoader = Callable[[], Sequence[Mapping[str, Any]]]
"""Returns the current Ingress objects (raw API JSON)."""


# --- composition ---------------------------------------------------------------------------------


log = logging.getLogger(__name__)


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
    from providers.rfc2136 import Rfc2136Provider  # noqa: PLC0415 - dnspython, only when used

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
    # boto3 and botocore cost about 0.3 CPU s to import: only commands that use AWS pay for it
    import boto3  # noqa: PLC0415

    from providers import route53_xml  # noqa: PLC0415
    from providers.route53 import Route53Provider, client_config  # noqa: PLC0415

    config = client_config()
    route53 = boto3.client(
        "route53", endpoint_url=entry.endpoint_url, region_name=entry.region, config=config
    )
    route53_xml.install(route53, config)

    def elbv2() -> ElasticLoadBalancingv2Client:  # made when an ALIAS target first needs it
        return boto3.client(
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


def registry_for(provider: Provider, settings: Settings) -> TxtRegistry:
    """The TXT registry of the settings (owner id, affixes, managed types) around ``provider``."""
    return TxtRegistry(
        provider=provider,
        owner_id=settings.owner_id,
        txt_prefix=settings.txt_prefix,
        txt_suffix=settings.txt_suffix,
        wildcard_replacement=settings.txt_wildcard_replacement,
        managed_types=frozenset(settings.managed_record_types),
    )


def build_targets(settings: Settings) -> list[TxtRegistry]:
    """Every configured provider, wrapped in a TXT registry (owner id, affixes, managed types).

    Route53 clients run with botocore's retries off (:func:`providers.route53.client_config`)
    and every Route53 provider of the process shares ONE token bucket: the API's rate limit is
    per account, not per hosted zone.
    """
    limiter = TokenBucket()
    targets: list[TxtRegistry] = []
    for entry in settings.providers:
        provider = (
            _rfc2136_provider(entry, settings)
            if isinstance(entry, Rfc2136Settings)
            else _route53_provider(entry, settings, limiter)
        )
        targets.append(registry_for(provider, settings))
    return targets


def load_cluster_client(kubeconfig: str | None, env: Mapping[str, str]) -> KubeClient:
    in_cluster = kubeconfig is None and "KUBERNETES_SERVICE_HOST" in env
    try:
        return load_client(kubeconfig=kubeconfig, in_cluster=in_cluster)
    except KubernetesError as exc:
        # No usable kubeconfig is a usage problem: say how to point at a cluster or at files.
        raise ConfigError(
            f"--kubeconfig: {exc}; pass --kubeconfig PATH, set KUBECONFIG, run in a pod, "
            "or read Ingresses from files with --manifests PATH"
        ) from exc


def reason_counts(reasons: Sequence[str]) -> tuple[tuple[str, int], ...]:
    tally: dict[str, int] = {}
    for reason in reasons:
        tally[reason] = tally.get(reason, 0) + 1
    return tuple(sorted(tally.items()))


def pass_config(settings: Settings) -> PassConfig:
    """The pass configuration of ``settings``."""
    return PassConfig(
        owner_id=settings.owner_id,
        policy=Policy(settings.policy),
        managed_types=frozenset(settings.managed_record_types),
        domain_filter=DomainFilter(
            include=settings.domain_filter.include, exclude=settings.domain_filter.exclude
        ),
        ingress_class_names=settings.ingress_class_names,
        gateway_routes=settings.gateway_routes,
        gateway_class_names=settings.gateway_class_names,
        fleets=settings.fleet_specs(),
        tenancy=settings.tenancy_config() if settings.tenants else None,
        public_excluded_nets=settings.public_excluded_target_nets,
        annotation_prefixes=settings.annotation_prefixes,
        reserved_names=settings.reserved_names(),
    )


def loop_result(report: PassReport) -> PassResult:
    """The loop's summary of one pass (metrics, health, the summary log line)."""
    changes = tuple(
        ChangeCount(provider=r.provider, action=action, count=count)
        for r in report.dns.providers
        if r.applied
        for action, count in (
            ("create", len(r.changes.create)),
            ("update", len(r.changes.update)),
            ("delete", len(r.changes.delete)),
        )
        if count
    )
    conflicts: dict[str, int] = {}
    for r in report.dns.providers:
        for conflict in r.conflicts:
            conflicts[str(conflict.reason)] = conflicts.get(str(conflict.reason), 0) + 1
    refusals: dict[str, int] = {}
    for refusal in report.refusals:
        refusals[str(refusal.reason)] = refusals.get(str(refusal.reason), 0) + 1
    if report.source.rejections:
        refusals[INVALID_HOST] = refusals.get(INVALID_HOST, 0) + len(report.source.rejections)
    for stage in report.stages:
        for reason, count in stage.refusals:
            refusals[reason] = refusals.get(reason, 0) + count
    errors = [f"{s.stage}: {e}" for s in report.stages for e in s.errors]
    errors.extend(f"{r.provider}: {e}" for r in report.dns.providers for e in r.errors)
    return PassResult(
        converged=report.ok,
        records=tuple(
            RecordCount(provider=r.provider, record_type=rtype, count=count)
            for r in report.dns.providers
            for rtype, count in r.records
        ),
        source_endpoints=len(report.source.endpoints),
        changes=changes,
        conflicts=tuple(ReasonCount(k, v) for k, v in sorted(conflicts.items())),
        refusals=tuple(ReasonCount(k, v) for k, v in sorted(refusals.items())),
        errors=tuple(errors),
        incremental=report.incremental,
    )


def load_balancer_spec(spec: FleetSpec, settings: Settings) -> LoadBalancerSpec:
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


def warn_retired_profiles(specs: Sequence[FleetSpec]) -> list[str]:
    """Log (WARNING) and return one line per fleet whose profile is retired upstream."""
    lines = []
    for spec in specs:
        retired = profile_named(spec.profile).retired
        if retired:
            lines.append(f"fleet {spec.name} runs the {spec.profile} profile: {retired}")
            log.warning("%s", lines[-1])
    return lines


def build_stages(
    settings: Settings,
    *,
    client: KubeClient,
    events: EventRecorder,
    guard: WriteGuard,
    ingress_changes_only: bool = False,
) -> list[Stage]:
    """The cluster-side stages of a pass, every write behind ``guard``.

    fleets (always, so removed fleets are cleaned up), load balancers (when ``clusterName`` is
    set: elbv2-mode fleets, and the release of NLBs of fleets no longer in that mode), Ingress
    status (when fleets are configured). With ``ingress_changes_only``, the stages an
    incremental pass runs after Ingress or Namespace changes: only the Ingress status (the fleet
    objects and the load balancers depend on no Ingress, and cost API calls).
    """
    specs = settings.fleet_specs()
    if not ingress_changes_only:
        warn_retired_profiles(specs)
    owner = settings.owner_id
    writer = guard.writer(KubeWriter(client))
    fleet_kube = guard.fleet_kube(KubeFleetObjects(client))
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
            refusals=reason_counts([str(r.reason) for r in report.refused]),
            errors=tuple(
                f"{e.ref.kind} {e.ref.namespace}/{e.ref.name}: {e.message}" for e in report.errors
            ),
        )

    if not ingress_changes_only:
        stages.append(fleets)
    if settings.cluster_name and not ingress_changes_only:
        import boto3  # noqa: PLC0415 - only elbv2-mode clusters use AWS here

        from providers.elbv2 import Elbv2LoadBalancers  # noqa: PLC0415
        from providers.route53 import client_config  # noqa: PLC0415

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
        lb_kube = guard.lb_kube(KubeServiceStatus(client=client, writer=writer))
        lb_specs = [
            load_balancer_spec(s, settings) for s in specs if s.lb_mode is LoadBalancerMode.ELBV2
        ]

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
                refusals=reason_counts([r.reason for r in report.refused]),
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


def snapshot_targets(
    settings: Settings, snapshot: Mapping[str, ProviderSnapshot]
) -> list[TxtRegistry]:
    """In-memory providers holding the snapshot, each behind its TXT registry."""
    targets: list[TxtRegistry] = []
    for entry in settings.providers:
        held = snapshot[entry.name]
        provider = InMemoryProvider(name=entry.name, zones=held.zones, records=held.records)
        targets.append(registry_for(provider, settings))
    return targets


def save_zones(targets: Sequence[TxtRegistry], path: Path) -> None:
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
