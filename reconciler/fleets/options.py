"""A fleet's options: what its controller serves besides its rules, and the shape of its workload.

:class:`ControllerOptions` are rendered by each profile into its own flags or configuration
(:mod:`reconciler.fleets.profiles`); :class:`WorkloadShape` into the Deployment or DaemonSet, the
PodDisruptionBudget and the HorizontalPodAutoscaler (:mod:`reconciler.fleets.objects`). Both are
validated on their own here; :func:`check_supported` checks them against what a profile can do.
Pure values, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.model.endpoint import FrozenMap
from reconciler.model.errors import ConfigError

__all__ = [
    "Autoscaling",
    "ControllerOptions",
    "Feature",
    "WorkloadKind",
    "WorkloadShape",
    "check_supported",
    "parse_size",
]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SIZE = re.compile(r"^(?P<n>[0-9]+)(?P<unit>[kKmMgG]?)$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class Feature(StrEnum):
    """What a fleet may ask of its controller; a profile lists the ones it can do."""

    DEFAULT_CERTIFICATE = "tls.defaultCertificate"
    SSL_PASSTHROUGH = "tls.sslPassthrough"
    DEFAULT_BACKEND = "defaultBackend"
    CUSTOM_HTTP_ERRORS = "controller.customHttpErrors"
    TIMEOUTS = "controller timeouts"
    BODY_SIZE = "controller.proxyBodySize"
    SNIPPETS = "controller.allowSnippetAnnotations"


def parse_size(value: str | int, key: str) -> int:
    """A body size in bytes from ``1048576``, ``512k``, ``8m`` or ``1g`` (nginx's units)."""
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{key}: {value} must be 0 or more bytes")
        return value
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        raise ConfigError(f"{key}: {value!r} must be a size such as 1048576, 512k, 8m or 1g")
    return int(match["n"]) * _UNITS[match["unit"].lower()]


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    """Controller-wide settings of one fleet (``tls``, ``defaultBackend``, ``controller``)."""

    default_certificate: str | None = None
    """Secret (type kubernetes.io/tls, in the fleet's namespace) served for names no Ingress's
    ``spec.tls`` covers."""
    ssl_passthrough: bool = False
    """Honour ``nginx.ingress.kubernetes.io/ssl-passthrough`` (TLS goes to the backend as is)."""
    default_backend: str | None = None
    """``namespace/name`` of the Service that answers requests no rule matches."""
    custom_http_errors: tuple[int, ...] = ()
    """Backend status codes the default backend answers instead (error pages)."""
    proxy_connect_timeout: int | None = None
    """Seconds to connect to a backend."""
    proxy_read_timeout: int | None = None
    """Seconds between two reads from a backend."""
    proxy_send_timeout: int | None = None
    """Seconds between two writes to a backend."""
    proxy_body_size: int | None = None
    """Largest request body, in bytes (0: no limit)."""
    allow_snippet_annotations: bool = False
    """Accept ``*-snippet`` annotations (raw controller configuration from any namespace)."""

    @classmethod
    def of(
        cls,
        *,
        key: str,
        default_certificate: str | None = None,
        ssl_passthrough: bool = False,
        default_backend: str | None = None,
        custom_http_errors: Iterable[int] = (),
        proxy_connect_timeout: int | None = None,
        proxy_read_timeout: int | None = None,
        proxy_send_timeout: int | None = None,
        proxy_body_size: str | int | None = None,
        allow_snippet_annotations: bool = False,
    ) -> ControllerOptions:
        """Validated options; ConfigError naming ``<key>.<option>`` when one is wrong."""
        if default_certificate is not None and not _DNS_LABEL.fullmatch(default_certificate):
            raise ConfigError(
                f"{key}.tls.defaultCertificate: {default_certificate!r} must be the name of a "
                "Secret in the fleet's namespace"
            )
        if default_backend is not None:
            parts = default_backend.split("/")
            if len(parts) != 2 or not all(_DNS_LABEL.fullmatch(p) for p in parts):
                raise ConfigError(
                    f"{key}.defaultBackend: {default_backend!r} must be <namespace>/<service>"
                )
        errors = tuple(sorted(set(custom_http_errors)))
        for code in errors:
            if not 400 <= code <= 599:
                raise ConfigError(
                    f"{key}.controller.customHttpErrors: {code} is not an HTTP error status "
                    "(400-599)"
                )
        if errors and default_backend is None:
            raise ConfigError(
                f"{key}.controller.customHttpErrors: error pages come from the default backend; "
                f"set {key}.defaultBackend too"
            )
        for name, seconds in (
            ("proxyConnectTimeout", proxy_connect_timeout),
            ("proxyReadTimeout", proxy_read_timeout),
            ("proxySendTimeout", proxy_send_timeout),
        ):
            if seconds is not None and seconds < 1:
                raise ConfigError(f"{key}.controller.{name}: {seconds} must be 1 second or more")
        size = (
            None
            if proxy_body_size is None
            else parse_size(proxy_body_size, f"{key}.controller.proxyBodySize")
        )
        return cls(
            default_certificate=default_certificate,
            ssl_passthrough=ssl_passthrough,
            default_backend=default_backend,
            custom_http_errors=errors,
            proxy_connect_timeout=proxy_connect_timeout,
            proxy_read_timeout=proxy_read_timeout,
            proxy_send_timeout=proxy_send_timeout,
            proxy_body_size=size,
            allow_snippet_annotations=allow_snippet_annotations,
        )

    def features(self) -> frozenset[Feature]:
        """The features these options ask of the controller."""
        asked = {
            Feature.DEFAULT_CERTIFICATE: self.default_certificate is not None,
            Feature.SSL_PASSTHROUGH: self.ssl_passthrough,
            Feature.DEFAULT_BACKEND: self.default_backend is not None,
            Feature.CUSTOM_HTTP_ERRORS: bool(self.custom_http_errors),
            Feature.TIMEOUTS: any(
                t is not None
                for t in (
                    self.proxy_connect_timeout,
                    self.proxy_read_timeout,
                    self.proxy_send_timeout,
                )
            ),
            Feature.BODY_SIZE: self.proxy_body_size is not None,
            Feature.SNIPPETS: self.allow_snippet_annotations,
        }
        return frozenset(f for f, on in asked.items() if on)


def check_supported(
    options: ControllerOptions, supported: frozenset[Feature], *, key: str, profile: str
) -> None:
    """ConfigError naming every option ``profile`` cannot honour."""
    missing = sorted(options.features() - supported)
    if missing:
        raise ConfigError(
            f"{key}: the {profile} profile cannot do {', '.join(missing)}; "
            "remove the option or choose another profile"
        )


class WorkloadKind(StrEnum):
    """How a fleet's controller pods are run."""

    DEPLOYMENT = "Deployment"
    DAEMON_SET = "DaemonSet"


@dataclass(frozen=True, slots=True)
class Autoscaling:
    """A HorizontalPodAutoscaler on CPU for a Deployment fleet."""

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int = 80
    """Average CPU utilization (percent of requests) the autoscaler aims at."""


@dataclass(frozen=True, slots=True)
class WorkloadShape:
    """The controller workload's kind, size and disruption budget."""

    kind: WorkloadKind = WorkloadKind.DEPLOYMENT
    requests: FrozenMap = field(default_factory=FrozenMap)
    """Container resource requests (``cpu``, ``memory``); the profile's defaults when empty."""
    limits: FrozenMap = field(default_factory=FrozenMap)
    """Container resource limits; none when empty."""
    min_available: int | str | None = None
    """PodDisruptionBudget ``minAvailable`` (a count or a percentage)."""
    max_unavailable: int | str | None = None
    """PodDisruptionBudget ``maxUnavailable`` (a count or a percentage)."""
    autoscaling: Autoscaling | None = None

    @classmethod
    def of(
        cls,
        *,
        key: str,
        kind: str = "Deployment",
        requests: Mapping[str, str] | None = None,
        limits: Mapping[str, str] | None = None,
        min_available: int | str | None = None,
        max_unavailable: int | str | None = None,
        autoscaling: Autoscaling | None = None,
    ) -> WorkloadShape:
        """A validated shape; ConfigError naming ``<key>.<option>`` when a combination is wrong."""
        try:
            workload = WorkloadKind(kind)
        except ValueError:
            raise ConfigError(f"{key}.kind: {kind!r} must be 'Deployment' or 'DaemonSet'") from None
        if min_available is not None and max_unavailable is not None:
            raise ConfigError(
                f"{key}.podDisruptionBudget: set minAvailable or maxUnavailable, not both"
            )
        for name, budget in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
            if isinstance(budget, str) and not re.fullmatch(r"(100|[1-9]?[0-9])%", budget):
                raise ConfigError(
                    f"{key}.podDisruptionBudget.{name}: {budget!r} must be a count or a "
                    "percentage such as '50%'"
                )
            if isinstance(budget, int) and budget < 0:
                raise ConfigError(f"{key}.podDisruptionBudget.{name}: {budget} must be 0 or more")
        if autoscaling is not None:
            if workload is WorkloadKind.DAEMON_SET:
                raise ConfigError(
                    f"{key}.autoscaling: a DaemonSet runs one pod per node and cannot be "
                    "autoscaled; use kind: Deployment or remove autoscaling"
                )
            if not 1 <= autoscaling.min_replicas <= autoscaling.max_replicas:
                raise ConfigError(
                    f"{key}.autoscaling: need 1 <= minReplicas ({autoscaling.min_replicas}) <= "
                    f"maxReplicas ({autoscaling.max_replicas})"
                )
            if not 1 <= autoscaling.target_cpu_utilization <= 100:
                raise ConfigError(
                    f"{key}.autoscaling.targetCpuUtilization: "
                    f"{autoscaling.target_cpu_utilization} must be 1-100"
                )
        return cls(
            kind=workload,
            requests=FrozenMap(requests or {}),
            limits=FrozenMap(limits or {}),
            min_available=min_available,
            max_unavailable=max_unavailable,
            autoscaling=autoscaling,
        )

    @property
    def has_budget(self) -> bool:
        """Does the fleet get a PodDisruptionBudget?"""
        return self.min_available is not None or self.max_unavailable is not None
