"""Watch-backed caches: list once, then watch; a pass reads memory, not the API server.

``WatchCache`` keeps one resource's objects in memory on a daemon thread: it lists (paged),
then watches from the list's resourceVersion with ``allowWatchBookmarks``, relists when the server
answers 410 Gone (resourceVersion too old: compaction, apiserver restart), and reconnects with
exponential backoff after errors. ``ClusterCache`` bundles the caches a pass reads (Ingresses,
IngressClasses, Services, Namespaces, and the Gateway API kinds served) and implements
``ClusterState``::

    cache = ClusterCache(client, on_change=loop.poke)
    cache.start()
    cache.wait_synced(timeout=30)
    cache.ingresses()   # plain JSON dicts, camelCase keys, read-only
    cache.stop()

Objects are kept as the API returns them, less what no pass reads: ``metadata.managedFields``
of every kind, and of an Ingress its paths and backends (``spec.rules[].http``,
``spec.defaultBackend``: a pass reads hosts, TLS hosts, annotations and status), its
``creationTimestamp`` and kubectl's ``last-applied-configuration`` annotation (a second copy of
the whole object). At 10,000 Ingresses those were a third of the cache. The strings Ingresses
share (namespace, class, annotations up to 128 characters, load-balancer addresses) are kept
once (``sys.intern``). Nothing writes a cached object back (status is
patched, fleet objects are applied server-side), so nothing is lost on the server.

``on_change`` is called on the cache's thread for every added, modified or deleted object (also
for the differences a relist finds, but not for the first list: before it nobody has read
anything, and whoever waits for the sync reads it all); keep it quick (e.g. set an event for a
coalesced pass).
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from reconciler.kube.client import KubeClient, WatchStream
from reconciler.kube.resources import INGRESS, INGRESS_CLASS, NAMESPACE, SERVICE, ResourceKind
from reconciler.model.cluster import ChangeType, JsonObject, ObjectChange
from reconciler.model.errors import KubernetesError
from reconciler.model.k8s_json import IngressClassDict, IngressDict, NamespaceDict, ServiceDict

__all__ = ["Backoff", "CacheStats", "ClusterCache", "WatchCache"]

log = logging.getLogger(__name__)

OnChange = Callable[[ObjectChange], None]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter for reconnecting."""

    initial: float = 0.2
    """Delay after the first failure, in seconds."""
    maximum: float = 30.0
    """Upper bound of the delay, in seconds."""
    factor: float = 2.0
    """Growth per consecutive failure."""

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after ``failures`` consecutive failures (>= 1)."""
        cap = min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))
        return cap / 2 + rand() * cap / 2


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache, for health checks, metrics and tests."""

    lists: int
    """Completed lists (the first sync plus every relist)."""
    relists_after_gone: int
    """Relists caused by 410 Gone (resourceVersion too old)."""
    watches: int
    """Watch requests opened."""
    errors: int
    """Failures (list or watch) that led to a backoff."""
    resource_version: str
    """The last resourceVersion seen (list, event or bookmark)."""
    last_error: str
    """The last failure's message, empty when none."""


class _GoneError(Exception):
    """The watch's resourceVersion is too old: relist."""


_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


_SHARED_TEXT_MAX = 128
"""Longer annotation values are kept as they are (they are seldom shared)."""


def _shared(value: Any) -> Any:
    """One string object for equal short strings while any is alive (``sys.intern``)."""
    if type(value) is str and len(value) <= _SHARED_TEXT_MAX:
        return sys.intern(value)
    return value


def _slim(obj: JsonObject, kind: ResourceKind) -> JsonObject:
    """The object as cached: without what no pass reads (see the module's docstring)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    if kind != INGRESS or not isinstance(meta, dict):
        return obj
    meta.pop("creationTimestamp", None)
    if "namespace" in meta:
        meta["namespace"] = _shared(meta["namespace"])
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(_LAST_APPLIED, None)
        meta["annotations"] = {_shared(k): _shared(v) for k, v in annotations.items()}
    # a new dict is sized for what is left (the decoder's was sized for what was there)
    obj["metadata"] = dict(meta)
    for key in ("apiVersion", "kind"):
        if key in obj:
            obj[key] = _shared(obj[key])
    spec = obj.get("spec")
    if isinstance(spec, dict):
        _slim_ingress_spec(spec)
    status = obj.get("status")
    balancer = status.get("loadBalancer") if isinstance(status, dict) else None
    addresses = balancer.get("ingress") if isinstance(balancer, dict) else None
    for address in addresses if isinstance(addresses, list) else ():
        # the addresses of one load balancer, shared by every Ingress of its fleet
        if isinstance(address, dict):
            for key in ("ip", "hostname"):
                if key in address:
                    address[key] = _shared(address[key])
    return obj


def _slim_ingress_spec(spec: JsonObject) -> None:
    spec.pop("defaultBackend", None)
    if "ingressClassName" in spec:
        spec["ingressClassName"] = _shared(spec["ingressClassName"])
    rules = spec.get("rules")
    for rule in rules if isinstance(rules, list) else ():
        if isinstance(rule, dict):
            rule.pop("http", None)


def _key(obj: JsonObject) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "") or ""), str(meta.get("name", ""))


def _rv(obj: JsonObject) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class WatchCache:
    """One resource kept in memory by list + watch on a daemon thread.

    ``namespace`` limits it to one namespace; ``label_selector``/``field_selector`` filter like
    kubectl's. ``watch_timeout`` is the server-side ``timeoutSeconds`` of each watch request.
    """

    def __init__(
        self,
        client: KubeClient,
        kind: ResourceKind,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        on_change: OnChange | None = None,
        watch_timeout: int = 300,
        backoff: Backoff = Backoff(),
        page_size: int = 500,
    ) -> None:
        self.client = client
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.page_size = page_size
        self._lock = threading.Lock()
        self._store: dict[tuple[str, str], JsonObject] = {}
        self._rv = ""
        self._synced = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: WatchStream | None = None
        self._lists = 0
        self._gone = 0
        self._watches = 0
        self._errors = 0
        self._last_error = ""

    def __repr__(self) -> str:
        return f"WatchCache({self.kind.kind}, namespace={self.namespace!r})"

    # --- reading ---------------------------------------------------------------------------

    def has_synced(self) -> bool:
        """True once the first list has completed."""
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        """Block until synced or ``timeout`` seconds pass; return has_synced()."""
        return self._synced.wait(timeout)

    def items(self) -> tuple[JsonObject, ...]:
        """Every cached object (plain JSON dicts; treat as read-only)."""
        with self._lock:
            return tuple(self._store.values())

    def get(self, name: str, namespace: str = "") -> JsonObject | None:
        """One cached object, or None."""
        with self._lock:
            return self._store.get((namespace, name))

    def stats(self) -> CacheStats:
        """The cache's counters."""
        with self._lock:
            return CacheStats(
                lists=self._lists,
                relists_after_gone=self._gone,
                watches=self._watches,
                errors=self._errors,
                resource_version=self._rv,
                last_error=self._last_error,
            )

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the list/watch thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"watch-{self.kind.plural}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread: interrupt the open watch and wait for the thread to end."""
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def reconnect(self) -> None:
        """Drop the current watch; the thread reconnects from the last resourceVersion."""
        stream = self._stream
        if stream is not None:
            stream.close()

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        need_list = True
        failures = 0
        while not self._stopping.is_set():
            try:
                if need_list:
                    self._list()
                    need_list = False
                started = time.monotonic()
                if self._watch() == 0 and time.monotonic() - started < 1.0:
                    # a watch that ends at once with nothing to say (a server shutting down):
                    # back off instead of spinning
                    failures += 1
                    self._stopping.wait(self.backoff.delay(failures))
                else:
                    failures = 0
            except _GoneError:
                with self._lock:
                    self._gone += 1
                log.info("watch expired, relisting", extra={"kind": self.kind.kind})
                need_list = True
            except KubernetesError as exc:
                if exc.status == 410:
                    with self._lock:
                        self._gone += 1
                    need_list = True
                    continue
                failures += 1
                with self._lock:
                    self._errors += 1
                    self._last_error = str(exc)
                delay = self.backoff.delay(failures)
                log.warning(
                    "watch failed, retrying",
                    extra={
                        "kind": self.kind.kind,
                        "error": str(exc),
                        "transient": exc.transient,
                        "retry_in": round(delay, 2),
                    },
                )
                self._stopping.wait(delay)
            except Exception:
                # a bug (here or in on_change) must not kill the cache silently
                failures += 1
                with self._lock:
                    self._errors += 1
                log.exception("watch loop error", extra={"kind": self.kind.kind})
                self._stopping.wait(self.backoff.delay(failures))

    def _list(self) -> None:
        items, rv = self.client.list(
            self.kind,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            page_size=self.page_size,
        )
        fresh = {_key(obj): _slim(obj, self.kind) for obj in items}
        changes: list[ObjectChange] = []
        with self._lock:
            old = self._store
            first = self._lists == 0  # nothing was read before: every reader reads it all
            for key, obj in fresh.items() if not first else ():
                before = old.get(key)
                if before is None:
                    changes.append(self._change(ChangeType.ADDED, key, obj))
                elif _rv(before) != _rv(obj):
                    changes.append(self._change(ChangeType.MODIFIED, key, obj))
            for key, obj in old.items():
                if key not in fresh:
                    changes.append(self._change(ChangeType.DELETED, key, obj))
            self._store = fresh
            self._rv = rv
            self._lists += 1
        self._synced.set()
        log.debug(
            "listed", extra={"kind": self.kind.kind, "count": len(fresh), "resource_version": rv}
        )
        for change in changes:
            self._notify(change)

    def _watch(self) -> int:
        """Run one watch request to its end; return how many events it delivered."""
        query = [
            ("resourceVersion", self._rv),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(self.watch_timeout)),
        ]
        if self.label_selector:
            query.append(("labelSelector", self.label_selector))
        if self.field_selector:
            query.append(("fieldSelector", self.field_selector))
        stream = self.client.watch(
            self.kind.collection_path(self.namespace),
            query=query,
            read_timeout=self.watch_timeout + 30.0,
        )
        self._stream = stream
        with self._lock:
            self._watches += 1
        delivered = 0
        if self._stopping.is_set():
            stream.close()
            return delivered
        try:
            for event in stream:
                if self._stopping.is_set():
                    break
                delivered += 1
                self._apply(event)
        finally:
            self._stream = None
            stream.close()
        return delivered

    def _apply(self, event: JsonObject) -> None:
        kind = str(event.get("type", ""))
        obj: JsonObject = event.get("object") or {}
        if kind == "ERROR":
            code = int(obj.get("code", 0) or 0)
            if code == 410:
                raise _GoneError
            reason, message = obj.get("reason", ""), obj.get("message", "")
            raise KubernetesError(
                f"watch {self.kind.plural}: {code} {reason}: {message}",
                status=code or None,
                transient=True,
            )
        rv = _rv(obj)
        if kind == "BOOKMARK":
            with self._lock:
                self._rv = rv or self._rv
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            log.debug("unknown watch event", extra={"kind": self.kind.kind, "type": kind})
            return
        key = _key(obj)
        _slim(obj, self.kind)
        with self._lock:
            if kind == "DELETED":
                self._store.pop(key, None)
            else:
                self._store[key] = obj
            self._rv = rv or self._rv
        self._notify(self._change(ChangeType(kind), key, obj))

    def _change(self, type_: ChangeType, key: tuple[str, str], obj: JsonObject) -> ObjectChange:
        return ObjectChange(type=type_, kind=self.kind.kind, namespace=key[0], name=key[1], obj=obj)

    def _notify(self, change: ObjectChange) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(change)
        except Exception:
            log.exception(
                "on_change callback failed",
                extra={"kind": change.kind, "namespace": change.namespace, "object": change.name},
            )


class ClusterCache:
    """The four caches a pass reads; implements ``ClusterState``.

    ``namespace`` limits the namespaced caches (Ingresses, Services) to one namespace (tests,
    single-namespace installs); IngressClasses and Namespaces are cluster-scoped.
    ``gateway_kinds`` adds a cache per Gateway API kind given (of
    :data:`~reconciler.kube.resources.GATEWAY_SOURCES`: what
    :func:`reconciler.kube.discovery.served_gateway_kinds` found served).
    """

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str | None = None,
        on_change: OnChange | None = None,
        watch_timeout: int = 300,
        backoff: Backoff = Backoff(),
        gateway_kinds: Sequence[ResourceKind] = (),
    ) -> None:
        common: dict[str, Any] = {
            "on_change": on_change,
            "watch_timeout": watch_timeout,
            "backoff": backoff,
        }
        self.ingress_cache = WatchCache(client, INGRESS, namespace=namespace, **common)
        self.ingress_class_cache = WatchCache(client, INGRESS_CLASS, **common)
        self.service_cache = WatchCache(client, SERVICE, namespace=namespace, **common)
        self.namespace_cache = WatchCache(client, NAMESPACE, **common)
        self.gateway_caches = {
            kind.kind: WatchCache(client, kind, namespace=namespace, **common)
            for kind in gateway_kinds
        }

    @property
    def caches(self) -> Sequence[WatchCache]:
        """Every cache of the bundle."""
        return (
            self.ingress_cache,
            self.ingress_class_cache,
            self.service_cache,
            self.namespace_cache,
            *self.gateway_caches.values(),
        )

    def start(self) -> None:
        """Start every cache's thread."""
        for cache in self.caches:
            cache.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every cache's thread."""
        for cache in self.caches:
            cache.stop(timeout)

    def wait_synced(self, timeout: float) -> bool:
        """Block until every cache has synced or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        return all(
            cache.wait_synced(max(0.0, deadline - time.monotonic())) for cache in self.caches
        )

    def has_synced(self) -> bool:
        """True once every cache has listed at least once."""
        return all(cache.has_synced() for cache in self.caches)

    # the casts only name the shape: the objects are the API's JSON, unchanged

    def ingresses(self) -> tuple[IngressDict, ...]:
        """Every cached Ingress."""
        return cast(tuple[IngressDict, ...], self.ingress_cache.items())

    def ingress_classes(self) -> tuple[IngressClassDict, ...]:
        """Every cached IngressClass."""
        return cast(tuple[IngressClassDict, ...], self.ingress_class_cache.items())

    def services(self) -> tuple[ServiceDict, ...]:
        """Every cached Service."""
        return cast(tuple[ServiceDict, ...], self.service_cache.items())

    def namespaces(self) -> tuple[NamespaceDict, ...]:
        """Every cached Namespace."""
        return cast(tuple[NamespaceDict, ...], self.namespace_cache.items())

    def _gateway_api(self, kind: str) -> tuple[JsonObject, ...]:
        cache = self.gateway_caches.get(kind)
        return cache.items() if cache is not None else ()

    def gateways(self) -> tuple[JsonObject, ...]:
        """Every cached Gateway (none when the kind is not served)."""
        return self._gateway_api("Gateway")

    def listener_sets(self) -> tuple[JsonObject, ...]:
        """Every cached ListenerSet (none when the kind is not served)."""
        return self._gateway_api("ListenerSet")

    def routes(self) -> tuple[JsonObject, ...]:
        """Every cached Route, of every Route kind served."""
        return tuple(
            obj
            for kind, cache in self.gateway_caches.items()
            if kind.endswith("Route")
            for obj in cache.items()
        )
