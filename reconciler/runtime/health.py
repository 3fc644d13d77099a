"""``/healthz``, ``/readyz`` and ``/metrics`` over a small stdlib HTTP server in a thread.

``/healthz`` reflects real sync health, unlike external-dns's always-200: it answers 503 once no
pass has converged for ``tolerated_intervals`` intervals (a standby, which runs no passes, stays
healthy). ``/readyz`` answers 200 once the caches have synced. ``/metrics`` serves the injected
prometheus ``CollectorRegistry``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from reconciler.model.errors import ConfigError

__all__ = ["HealthServer", "HealthState", "is_healthy"]

_log = logging.getLogger(__name__)

_TEXT: Final = "text/plain; charset=utf-8"


def is_healthy(
    *,
    last_success: datetime | None,
    started: datetime,
    interval: timedelta,
    tolerated_intervals: int,
    now: datetime,
) -> bool:
    """Has a pass converged (or, before the first, has the process been up) within N intervals?"""
    reference = last_success if last_success is not None else started
    return now - reference < interval * tolerated_intervals


class HealthState:
    """What the probes report; updated by the loop, read by the HTTP server. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        interval: timedelta,
        tolerated_intervals: int = 3,
    ) -> None:
        if tolerated_intervals < 1 or interval <= timedelta(0):
            raise ConfigError("health needs a positive interval and tolerated_intervals >= 1")
        self._clock = clock
        self._interval = interval
        self._tolerated = tolerated_intervals
        self._lock = threading.Lock()
        self._started = clock()
        self._last_success: datetime | None = None
        self._synced = False

    def record_success(self, at: datetime) -> None:
        """A pass converged at ``at``."""
        with self._lock:
            if self._last_success is None or at > self._last_success:
                self._last_success = at

    def record_standby(self, at: datetime) -> None:
        """A pass was due but this process is a standby: restart the countdown from ``at``."""
        self.record_success(at)

    def mark_synced(self) -> None:
        """The caches have synced: ``/readyz`` turns 200."""
        with self._lock:
            self._synced = True

    def is_ready(self) -> bool:
        """Have the caches synced?"""
        with self._lock:
            return self._synced

    def is_healthy(self) -> bool:
        """Is the last converged pass recent enough (see :func:`is_healthy`)?"""
        with self._lock:
            last, started = self._last_success, self._started
        return is_healthy(
            last_success=last,
            started=started,
            interval=self._interval,
            tolerated_intervals=self._tolerated,
            now=self._clock(),
        )

    def last_success(self) -> datetime | None:
        """When the last pass converged, if ever."""
        with self._lock:
            return self._last_success


def _handler_class(state: HealthState, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ingress-reconciler"
        sys_version = ""

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._probe(state.is_healthy(), "no pass converged recently")
            elif path == "/readyz":
                self._probe(state.is_ready(), "caches not synced")
            elif path == "/metrics":
                self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(registry))
            else:
                self._send(HTTPStatus.NOT_FOUND, _TEXT, b"not found\n")

        def _probe(self, ok: bool, why: str) -> None:
            if ok:
                self._send(HTTPStatus.OK, _TEXT, b"ok\n")
            else:
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, _TEXT, f"{why}\n".encode())

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Probes hit every few seconds; access lines belong at DEBUG, not on stderr.
            _log.debug("probe served", extra={"request": format % args})

    return Handler


class HealthServer:
    """Serves the probes and metrics on ``host:port`` (port 0: any free port) from a thread."""

    def __init__(
        self, *, state: HealthState, registry: CollectorRegistry, host: str, port: int
    ) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler_class(state, registry))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful when 0 was asked)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080``."""
        host = self._server.server_address[0]
        return f"http://{host!s}:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health-server", daemon=True
        )
        self._thread.start()
        _log.info("health server listening", extra={"url": self.url})

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
