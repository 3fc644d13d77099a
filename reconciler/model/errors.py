"""The project's one error hierarchy.

Adapters wrap their library's exceptions (``raise ProviderError(...) from exc``); nothing from
boto3, dnspython or the kubernetes client leaks past the module that owns it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "KubernetesError",
    "PermanentProviderError",
    "ProviderError",
    "ReconcilerError",
    "TransientProviderError",
]


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose.

    ``transient`` says whether a later retry may help: a class constant where the kind decides
    (:class:`TransientProviderError`, :class:`PermanentProviderError`), set per error where the
    answer decides (:class:`KubernetesError`, from the HTTP status).
    """

    transient: bool = False


class ConfigError(ReconcilerError):
    """The configuration or the command line is wrong; the message names the key and the fix."""


class ProviderError(ReconcilerError):
    """A DNS or load-balancer provider failed."""

    def __init__(self, message: str, *, provider: str = "", zone: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.zone = zone


class TransientProviderError(ProviderError):
    """Throttling, timeouts, connection failures: the next pass retries."""

    transient = True


class PermanentProviderError(ProviderError):
    """Refused, bad credentials, rejected change: retrying unchanged will fail again."""

    transient = False


class KubernetesError(ReconcilerError):
    """The Kubernetes API failed; ``transient`` says whether retrying later may help."""

    def __init__(self, message: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient
