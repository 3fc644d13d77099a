"""JSON logs: one object per line, constant message, fields from ``extra``, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from reconciler.runtime import logs
from reconciler.runtime.logs import REDACTED, JsonFormatter, configure, is_secret_field, redact
from reconciler.runtime.loop import ChangeCount, Controller, LoopConfig, PassRequest, PassResult
from reconciler.runtime.metrics import Metrics


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_fields(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info(
        "record written",
        extra={
            "object": "team-a/web",
            "record": "www.example.org A",
            "provider": "bind",
            "targets": ("192.0.2.1", "192.0.2.2"),
            "at": datetime(2026, 1, 1, tzinfo=UTC),
        },
    )
    logger.warning("zone\nrefused")
    first, second = lines(stream)
    assert list(first)[:4] == ["time", "level", "logger", "msg"]
    assert first["level"] == "info"
    assert first["logger"] == "test.logs"
    assert first["msg"] == "record written"
    assert first["object"] == "team-a/web"
    assert first["record"] == "www.example.org A"
    assert first["provider"] == "bind"
    assert first["targets"] == ["192.0.2.1", "192.0.2.2"]
    assert first["at"] == "2026-01-01T00:00:00+00:00"
    assert datetime.fromisoformat(str(first["time"])).tzinfo is not None
    assert second["msg"] == "zone\nrefused"  # newlines escaped: still one line
    assert len(stream.getvalue().splitlines()) == 2


def test_secrets_are_never_printed(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.info(
        "provider configured",
        extra={
            "tsig_secret": "c2VjcmV0LWtleQ==",
            "provider": {"name": "bind", "password": "hunter2", "zones": ["example.org"]},
            "token": "eyJhbGciOi",
        },
    )
    (entry,) = lines(stream)
    raw = stream.getvalue()
    for secret in ("c2VjcmV0LWtleQ==", "hunter2", "eyJhbGciOi"):
        assert secret not in raw
    assert entry["tsig_secret"] == REDACTED
    assert entry["token"] == REDACTED
    assert entry["provider"] == {"name": "bind", "password": REDACTED, "zones": ["example.org"]}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("tsig_secret", True),
        ("aws_secret_access_key", True),
        ("Authorization", True),
        ("api_key", True),
        ("bearer_token", True),
        ("record", False),
        ("key_name", False),
        ("zone", False),
    ],
)
def test_is_secret_field(name: str, secret: bool) -> None:
    assert is_secret_field(name) is secret


def test_redact_does_not_mutate_its_input() -> None:
    fields: dict[str, object] = {"password": "x", "nested": {"secret": "y"}}
    assert redact(fields) == {"password": REDACTED, "nested": {"secret": REDACTED}}
    assert fields == {"password": "x", "nested": {"secret": "y"}}


def test_reserved_names_and_exceptions(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("pass crashed", extra={"level_hint": 1, "time": "not ours"})
    (entry,) = lines(stream)
    assert entry["level"] == "error"
    assert entry["field_time"] == "not ours"
    assert "ValueError: boom" in str(entry["exc"])


def test_configure_installs_one_json_handler_on_the_root() -> None:
    root = logging.getLogger()
    saved_level = root.level
    stream = io.StringIO()
    first = configure(level="DEBUG", stream=stream)
    second = configure(level=logging.INFO, stream=stream)
    try:
        ours = [h for h in root.handlers if getattr(h, "_ingress_reconciler", False)]
        assert ours == [second]
        assert first not in root.handlers
        logging.getLogger("reconciler.something").info("hello", extra={"zone": "example.org"})
        assert logging.getLogger("urllib3").level == logging.WARNING
        entry = json.loads(stream.getvalue().splitlines()[-1])
        assert (entry["msg"], entry["zone"]) == ("hello", "example.org")
    finally:
        root.removeHandler(second)
        root.setLevel(saved_level)


def test_one_summary_line_per_pass() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    loop_logger = logging.getLogger("reconciler.runtime.loop")
    loop_logger.addHandler(handler)
    saved = loop_logger.level
    loop_logger.setLevel(logging.INFO)
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def one_pass(request: PassRequest) -> PassResult:
        return PassResult(
            converged=True, source_endpoints=3, changes=(ChangeCount("bind", "create", 2),)
        )

    ticks = iter([10.0, 10.25, 20.0, 20.5])
    controller = Controller(
        run_pass=one_pass,
        config=LoopConfig(interval=timedelta(seconds=60)),
        metrics=Metrics.create(CollectorRegistry()),
        clock=lambda: now,
        monotonic=lambda: next(ticks),
    )
    try:
        controller.run_now(reason="interval")
        controller.run_now(reason="event")
    finally:
        loop_logger.removeHandler(handler)
        loop_logger.setLevel(saved)
    summaries = [e for e in lines(stream) if e["msg"] == "pass finished"]
    assert len(summaries) == 2
    first = summaries[0]
    assert first["reason"] == "interval"
    assert "full_resync" not in first
    assert first["converged"] is True
    assert first["duration_seconds"] == 0.25
    assert first["source_endpoints"] == 3
    assert first["changes"] == {"bind/create": 2}
    assert summaries[1]["reason"] == "event"


def test_public_surface() -> None:
    assert sorted(logs.__all__) == [
        "JsonFormatter",
        "REDACTED",
        "configure",
        "is_secret_field",
        "redact",
        "scrub",
    ]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("headers={'X-Amz-Security-Token': b'FQoGZXIvYXdzEXAMPLE'}", "FQoGZXIvYXdzEXAMPLE"),
        ("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=abc", "Signature=abc"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("using bearer eyJhbGciOi.payload.sig now", "eyJhbGciOi"),
        ("aws_secret_access_key=wJalrXUtnFEMI", "wJalrXUtnFEMI"),
        ('{"SessionToken": "tok123456"}', "tok123456"),
    ],
)
def test_scrub_removes_credentials_from_text(text: str, secret: str) -> None:
    scrubbed = logs.scrub(text)
    assert secret not in scrubbed
    assert logs.REDACTED in scrubbed


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "record written: www.example.test A 192.0.2.1 (token bucket refilled)"
    assert logs.scrub(text) == text
