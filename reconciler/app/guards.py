"""Write guards: once the leader lease is lost, every write (Kubernetes, load balancers, DNS,
Events) stops at once with a :class:`NotLeaderError` (or its provider-error twin), before it is
sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.app.pipeline import (
    GuardedRegistry,
)
from reconciler.dns.sync import Registry
from reconciler.kube.fleet_objects import KubeFleetObjects
from reconciler.kube.service_status import KubeServiceStatus
from reconciler.kube.writer import KubeWriter
from reconciler.model.cluster import (
    EventRecorder,
    EventType,
    JsonObject,
    ObjectRef,
)
from reconciler.model.errors import (
    KubernetesError,
    TransientProviderError,
)
from reconciler.model.load_balancer import (
    LoadBalancerSpec,
    LoadBalancerState,
)

if TYPE_CHECKING:
    from providers.elbv2 import Elbv2LoadBalancers


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

    def fleet_kube(self, inner: KubeFleetObjects) -> _GuardedFleetKube:
        """The fleet stage's apply/delete, guarded (listing is not)."""
        return _GuardedFleetKube(inner, self)

    def lb_kube(self, inner: KubeServiceStatus) -> _GuardedLbKube:
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
    def __init__(self, inner: KubeFleetObjects, guard: WriteGuard) -> None:
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
    def __init__(self, inner: KubeServiceStatus, guard: WriteGuard) -> None:
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


def guarded_targets(targets: Sequence[Registry], may_write: Callable[[], bool]) -> list[Registry]:
    return [GuardedRegistry(t, may_write) for t in targets]


def always_leader() -> bool:
    """Without leader election this process always writes."""
    return True
