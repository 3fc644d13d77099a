"""Prometheus metrics, named in the spirit of external-dns's, registered on an injected registry.

Nothing here touches prometheus-client's global default registry: the composition root creates a
``CollectorRegistry``, builds :class:`Metrics` on it once, and hands both to the loop and the
health server. Tests build their own registry per test.

external-dns name → ours (prefix ``ingress_reconciler_``):

- ``source_endpoints_total`` → ``source_endpoints_total`` (gauge: endpoints the sources produced)
- ``registry_records{record_type}`` → ``registry_records{provider,record_type}``
- ``controller_last_sync_timestamp_seconds`` → ``last_sync_timestamp_seconds``
- ``controller_consecutive_soft_errors`` → ``consecutive_soft_errors``
- plus ``pass_duration_seconds``, ``passes_total{result}``, ``conflicts_total{reason}``,
  ``refusals_total{reason}``, ``changes_total{provider,action}`` and ``is_leader``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["PREFIX", "Metrics"]

PREFIX: Final = "ingress_reconciler"
"""Namespace of every metric name."""

_PASS_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass(frozen=True, slots=True)
class Metrics:
    """The controller's metrics, all registered on :attr:`registry`."""

    registry: CollectorRegistry
    """The registry every metric below is registered on (served by ``/metrics``)."""
    source_endpoints_total: Gauge
    """Endpoints the sources produced in the last pass."""
    registry_records: Gauge
    """Records the registry saw in the providers' zones in the last pass, by provider and type."""
    last_sync_timestamp_seconds: Gauge
    """Unix time of the end of the last pass that converged."""
    consecutive_soft_errors: Gauge
    """Passes in a row that failed; 0 after a pass converges."""
    pass_duration_seconds: Histogram
    """Wall time of each pass."""
    passes_total: Counter
    """Passes run, by result: ``converged``, ``not_converged`` or ``failed``."""
    conflicts_total: Counter
    """Hostnames left alone because another owner holds them, by reason."""
    refusals_total: Counter
    """Endpoints refused (tenancy, split horizon, invalid input), by reason."""
    changes_total: Counter
    """Record changes applied, by provider and action (``create``, ``update``, ``delete``)."""
    is_leader: Gauge
    """1 while this process holds the leader lease, else 0."""

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Metrics:
        """Build every metric and register it on ``registry`` (a fresh one per process or test)."""

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(name, doc, labels, namespace=PREFIX, registry=registry)

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, namespace=PREFIX, registry=registry)

        return cls(
            registry=registry,
            source_endpoints_total=gauge(
                "source_endpoints_total",
                "Number of endpoints the sources produced in the last pass.",
            ),
            registry_records=gauge(
                "registry_records",
                "Number of records in the providers' zones in the last pass.",
                ("provider", "record_type"),
            ),
            last_sync_timestamp_seconds=gauge(
                "last_sync_timestamp_seconds", "Unix time of the last pass that converged."
            ),
            consecutive_soft_errors=gauge(
                "consecutive_soft_errors", "Number of passes in a row that failed."
            ),
            pass_duration_seconds=Histogram(
                "pass_duration_seconds",
                "Duration of a reconcile pass.",
                namespace=PREFIX,
                registry=registry,
                buckets=_PASS_BUCKETS,
            ),
            passes_total=counter("passes", "Reconcile passes run, by result.", ("result",)),
            conflicts_total=counter(
                "conflicts", "Hostnames left alone because another owner holds them.", ("reason",)
            ),
            refusals_total=counter("refusals", "Endpoints refused, by reason.", ("reason",)),
            changes_total=counter(
                "changes", "Record changes applied, by provider and action.", ("provider", "action")
            ),
            is_leader=gauge("is_leader", "1 while this process holds the leader lease."),
        )
