"""Structured JSON logs: one object per line, a constant message, variable data in fields.

Callers log with a constant message and pass what varies through ``extra=``::

    log.info("record written", extra={"record": "www.example.org A", "provider": "bind"})

which :class:`JsonFormatter` prints as
``{"time": "...", "level": "info", "logger": "...", "msg": "record written",
"record": "www.example.org A", "provider": "bind"}``. Fields whose name says they hold a secret
(``password``, ``token``, ``tsig_secret`` ...) print as ``"[redacted]"``, whatever their value, and
credentials inside any text (an AWS session token or Authorization header in a library's request
dump, a bearer token) are replaced the same way. botocore, urllib3 and the kubernetes client log
at WARNING or above whatever the level: at DEBUG they print request headers.

Only the composition root calls :func:`configure`; library modules just use
``logging.getLogger(__name__)``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import IO, Final

__all__ = ["REDACTED", "JsonFormatter", "configure", "is_secret_field", "redact", "scrub"]

REDACTED: Final = "[redacted]"
"""What a secret field's value is replaced with."""

# The attributes every LogRecord has; anything else on a record came in through ``extra=``.
_STANDARD_ATTRS: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)

_SECRET_NAME: Final = re.compile(
    r"(secret|password|passwd|token|credential|authorization|private[_-]?key|api[_-]?key)",
    re.IGNORECASE,
)

# Credentials as they appear inside text (a library's request dump, an exception message):
# the header or key name, then its value, which is replaced.
_SECRET_IN_TEXT: Final = re.compile(
    r"(?i)((?:x-amz-security-token|authorization|x-amz-credential|aws_secret_access_key|"
    r"aws_session_token|secretaccesskey|sessiontoken)['\"]?\s*[:=]\s*)"
    r"(?:b?'[^']*'|b?\"[^\"]*\"|[^\r\n'\"}]+)"
    r"|(\bbearer\s+)\S+"
)

# Field names the formatter writes itself; an ``extra`` with the same name is kept under ``field_``.
_RESERVED: Final = frozenset({"time", "level", "logger", "msg", "exc"})


def is_secret_field(name: str) -> bool:
    """Does a field with this name hold a secret (so its value must never be printed)?"""
    return _SECRET_NAME.search(name) is not None


def redact(fields: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``fields`` with secret-named fields replaced by :data:`REDACTED`, recursively."""
    return {key: _redact_value(key, value) for key, value in fields.items()}


def _redact_value(key: str, value: object) -> object:
    if is_secret_field(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, str):
        return scrub(value)
    return value


def scrub(text: str) -> str:
    """``text`` with credential values (session tokens, Authorization headers, secret keys,
    bearer tokens) replaced by :data:`REDACTED`, their names kept."""
    return _SECRET_IN_TEXT.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)


def _jsonable(value: object) -> object:
    """Turn a field value into something json can print, without ever raising."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line; secret-named fields are redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as ``{"time", "level", "logger", "msg", <extra fields>, "exc"?}``."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        extras = {
            key: value
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and not key.startswith("_")
        }
        for key, value in redact(extras).items():
            entry[f"field_{key}" if key in _RESERVED else key] = _jsonable(value)
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def configure(*, level: int | str = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """Send the root logger's output as JSON lines to ``stream`` (stderr by default).

    Replaces handlers previously installed by this function, so calling it twice is harmless.
    Returns the handler, so a caller (or a test) can remove it again.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ingress_reconciler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._ingress_reconciler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # The kubernetes client, urllib3 and botocore log request details (headers, the session
    # token among them) at DEBUG: they stay at WARNING whatever the level.
    for noisy in (
        "urllib3",
        "kubernetes",
        "botocore",
        "boto3",
        "s3transfer",
        "apscheduler.executors",
        "apscheduler.scheduler",
    ):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))
    return handler
