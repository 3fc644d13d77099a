"""``run``: the controller process (leader election, watch caches, the loop, health server)."""

from __future__ import annotations

import argparse
import gc
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from prometheus_client import CollectorRegistry

from reconciler.app.desired import DesiredIndex, few_enough
from reconciler.app.exit_codes import EXIT_OK
from reconciler.app.guards import WriteGuard, always_leader, guarded_targets
from reconciler.app.pipeline import (
    Observed,
    PassConfig,
    Stage,
    changed_ingresses,
    reconcile,
    reconcile_changes,
)
from reconciler.app.settings import Settings
from reconciler.app.wiring import (
    IngressLoader,
    build_stages,
    load_cluster_client,
    loop_result,
    pass_config,
)
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import Registry
from reconciler.kube.cache import ClusterCache
from reconciler.kube.client import KubeClient
from reconciler.kube.discovery import served_gateway_kinds
from reconciler.kube.events import KubeEventRecorder
from reconciler.kube.lease import KubeLeaseStore
from reconciler.kube.listed import ListedState
from reconciler.model.cluster import (
    ClusterState,
    EventRecorder,
    ObjectChange,
)
from reconciler.model.errors import (
    ConfigError,
    ReconcilerError,
)
from reconciler.runtime import loop
from reconciler.runtime.collector import keep_as_long_lived
from reconciler.runtime.health import HealthServer, HealthState
from reconciler.runtime.leader import LeaderElector, pod_identity
from reconciler.runtime.metrics import Metrics

log = logging.getLogger(__name__)


def _lease_namespace(settings: Settings, env: Mapping[str, str]) -> str:
    namespace = settings.leader_election.lease_namespace or env.get("POD_NAMESPACE", "")
    if not namespace:
        raise ConfigError(
            "leaderElection.leaseNamespace: not set and POD_NAMESPACE is empty; set one of them "
            "(or leaderElection.enabled: false for a single replica)"
        )
    return namespace


def run_controller(
    args: argparse.Namespace,
    settings: Settings,
    *,
    env: Mapping[str, str],
    targets: Sequence[TxtRegistry],
    ingress_loader: IngressLoader | None,
) -> int:
    """``run``: caches → debounced passes, leader election, probes, until SIGTERM or lease loss."""
    config = pass_config(settings)
    metrics = Metrics.create(CollectorRegistry())
    health = HealthState(
        clock=loop.utc_now,
        interval=timedelta(seconds=settings.interval),
        tolerated_intervals=settings.health.tolerated_intervals,
    )
    identity = pod_identity(dict(env))
    offline = ingress_loader is not None or args.manifests is not None
    client: KubeClient | None = None if offline else load_cluster_client(args.kubeconfig, env)
    elector = _elector(settings, client, env, identity)
    may_write: Callable[[], bool] = elector.is_leader if elector is not None else always_leader
    guard = WriteGuard(may_write)
    writing_targets = guarded_targets(targets, may_write)
    cache: ClusterCache | None = None
    stages: list[Stage] = []
    change_stages: list[Stage] = []
    events: EventRecorder | None = None
    controller: loop.Controller | None = None
    if client is not None:
        recorder = KubeEventRecorder(client, reporting_instance=identity)
        events = guard.events(recorder)
        stages = build_stages(settings, client=client, events=recorder, guard=guard)
        change_stages = build_stages(
            settings, client=client, events=recorder, guard=guard, ingress_changes_only=True
        )

        def changed(change: ObjectChange) -> None:
            if controller is not None:
                controller.trigger(change.kind, change)

        cache = ClusterCache(
            client,
            on_change=changed,
            gateway_kinds=served_gateway_kinds(client) if config.gateway_routes else (),
        )

    run_pass = _pass_function(
        args,
        config,
        cache=cache,
        ingress_loader=ingress_loader,
        targets=writing_targets,
        stages=stages,
        change_stages=change_stages,
        events=events,
    )
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


def _pass_function(
    args: argparse.Namespace,
    config: PassConfig,
    *,
    cache: ClusterCache | None,
    ingress_loader: IngressLoader | None,
    targets: Sequence[Registry],
    stages: Sequence[Stage],
    change_stages: Sequence[Stage],
    events: EventRecorder | None,
) -> loop.PassFunction:
    """The pass the loop runs: incremental when only Ingresses changed since a full pass that
    filled the index (running ``change_stages``, the stages that read Ingresses), full otherwise
    (``stages``; and always offline)."""
    index = DesiredIndex()
    settled = False  # the first full pass on the caches has converged

    def run_pass(request: loop.PassRequest) -> loop.PassResult:
        nonlocal settled
        dry_run = bool(args.dry_run) or not request.may_write()
        changed = (
            changed_ingresses(request.changes, cache, config.owner_id)
            if cache is not None and index.is_filled
            else None
        )
        if cache is not None and changed is not None and few_enough(len(changed), len(index)):
            return loop_result(
                reconcile_changes(
                    config=config,
                    changed=changed,
                    index=index,
                    state=cache,
                    targets=targets,
                    now=request.started,
                    stages=() if dry_run else change_stages,
                    events=events,
                    dry_run=dry_run,
                )
            )
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
            targets=targets,
            now=request.started,
            state=state,
            stages=() if dry_run else stages,
            events=events,
            dry_run=dry_run,
            index=index,
        )
        result = loop_result(report)
        if cache is not None and result.converged and not settled:
            settled = True
            keep_as_long_lived()
        return result

    return run_pass


def _loop_config(settings: Settings) -> loop.LoopConfig:
    debounce = timedelta(seconds=settings.debounce)
    return loop.LoopConfig(
        interval=timedelta(seconds=settings.interval),
        debounce=debounce,
        max_debounce=max(timedelta(seconds=5), debounce),
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
