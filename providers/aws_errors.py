"""How the AWS providers read botocore's exceptions: the error code, a safe description, and
whether retrying may help. Shared by Route53 and ELBv2."""

from __future__ import annotations

from typing import Final

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

__all__ = ["CONNECTION_ERRORS", "THROTTLING_CODES", "describe_error", "error_code", "is_transient"]

THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "PriorRequestNotComplete",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
    }
)
"""Error codes that say "later": throttling, a request still running, a server fault."""

CONNECTION_ERRORS: Final = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
"""botocore's exceptions for a request that never got an answer."""


def error_code(exc: ClientError) -> str:
    """AWS's error code (``Throttling``, ``InvalidChangeBatch``, ...), or ``""``."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe_error(exc: Exception) -> str:
    """AWS's code and message, never request parameters or credentials."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def is_transient(exc: Exception) -> bool:
    """May the same request succeed later (throttling, a 5xx, no answer at all)?"""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error_code(exc) in THROTTLING_CODES or int(status or 0) >= 500
    return isinstance(exc, CONNECTION_ERRORS)
