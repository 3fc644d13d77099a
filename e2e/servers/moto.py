"""moto in server mode on 127.0.0.1: an AWS API emulator (Route53, ELBv2, EC2) for tests.

``MotoServer`` starts ``moto_server`` (from the running interpreter's bin directory) on a free
port, polls until it answers, and stops it on exit. It turns on moto's request recorder (a JSON
line per request, written before the request is handled) so callers can count the API calls a
client made *from the server's side*, the same way for our controller and for external-dns.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

__all__ = ["MotoServer", "RecordedCall", "action_of"]

HOST = "127.0.0.1"

_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_ZONE = r"/2013-04-01/hostedzone/[^/]+"
# Route53 is a REST API: the action is in the method and path, not in the request.
_ROUTE53_ACTIONS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/2013-04-01/hostedzone/?$"), "ListHostedZones"),
    ("POST", re.compile(r"^/2013-04-01/hostedzone/?$"), "CreateHostedZone"),
    ("GET", re.compile(rf"^{_ZONE}/rrset/?$"), "ListResourceRecordSets"),
    ("POST", re.compile(rf"^{_ZONE}/rrset/?$"), "ChangeResourceRecordSets"),
    ("POST", re.compile(rf"^{_ZONE}/associatevpc/?$"), "AssociateVPCWithHostedZone"),
    ("GET", re.compile(rf"^{_ZONE}/?$"), "GetHostedZone"),
    ("DELETE", re.compile(rf"^{_ZONE}/?$"), "DeleteHostedZone"),
    ("GET", re.compile(r"^/2013-04-01/hostedzonesbyname/?$"), "ListHostedZonesByName"),
    ("GET", re.compile(r"^/2013-04-01/hostedzonecount/?$"), "GetHostedZoneCount"),
    ("GET", re.compile(r"^/2013-04-01/change/[^/]+/?$"), "GetChange"),
    ("GET", re.compile(r"^/2013-04-01/tags/hostedzone/[^/]+/?$"), "ListTagsForResource"),
    ("POST", re.compile(r"^/2013-04-01/tags/hostedzone/?$"), "ListTagsForResources"),
    ("POST", re.compile(r"^/2013-04-01/tags/hostedzone/[^/]+/?$"), "ChangeTagsForResource"),
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def action_of(method: str, url: str, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
    """(service, action) of one recorded AWS request, e.g. ("route53", "ListHostedZones").

    JSON protocols name the action in ``X-Amz-Target``, query protocols (ELBv2, EC2) in the
    ``Action`` form field, REST protocols (Route53) in the method and path. The service comes
    from the SigV4 credential scope; unsigned requests (moto's own API) are service "moto-api".
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    match = _CREDENTIAL.search(lowered.get("authorization", ""))
    service = match.group(1) if match else "moto-api"
    path = urlsplit(url).path
    target = lowered.get("x-amz-target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    query = parse_qs(urlsplit(url).query)
    if "Action" in query:
        return service, query["Action"][0]
    if body and "x-www-form-urlencoded" in lowered.get("content-type", ""):
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
    for verb, pattern, action in _ROUTE53_ACTIONS:
        if method == verb and pattern.match(path):
            return service, action
    return service, f"{method} {path}"


class RecordedCall:
    """One request the server received: its service, action, method and path."""

    __slots__ = ("action", "method", "path", "service")

    def __init__(self, service: str, action: str, method: str, path: str) -> None:
        self.service = service
        """SigV4 service name, e.g. ``route53`` or ``elasticloadbalancing``."""
        self.action = action
        """API action, e.g. ``ChangeResourceRecordSets``."""
        self.method = method
        """HTTP method."""
        self.path = path
        """URL path."""

    def __repr__(self) -> str:
        return f"RecordedCall({self.service}:{self.action})"


class MotoServer:
    """A ``moto_server`` process on 127.0.0.1 and a free port; use as a context manager."""

    def __init__(self, *, startup_timeout: float = 30.0, workdir: Path | None = None) -> None:
        self.port = 0
        """The TCP port, set by :meth:`start`."""
        self.startup_timeout = startup_timeout
        """Seconds to wait for the server to answer before failing."""
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        self._workdir = workdir
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._recording: Path | None = None
        self._mark = 0

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``: pass as boto3's ``endpoint_url``."""
        if self._proc is None:
            raise RuntimeError("moto server is not running")
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Start the process and poll until it answers; raise RuntimeError with its log if not."""
        binary = Path(sys.executable).parent / "moto_server"
        if not binary.exists():
            raise RuntimeError(f"moto_server not found at {binary}: pip install 'moto[server]'")
        if self._workdir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="moto-")
            self._workdir = Path(self._own_dir.name)
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._log = self._workdir / "moto.log"
        self._recording = self._workdir / "requests.jsonl"
        self._recording.write_text("")
        self.port = _free_port()
        env = {
            **os.environ,
            "MOTO_ENABLE_RECORDING": "true",
            "MOTO_RECORDER_FILEPATH": str(self._recording),
        }
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [str(binary), "-H", HOST, "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self._proc.returncode}:\n{self.log}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"moto_server did not answer in {self.startup_timeout}s:\n{self.log}"
                    ) from None
                time.sleep(0.05)  # polling interval, not a wait for a condition
        self.reset_calls()

    def stop(self) -> None:
        """Terminate the process and wait for it; remove the temporary directory."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        if self._own_dir is not None:
            self._own_dir.cleanup()
            self._own_dir = None
            self._workdir = None

    @property
    def log(self) -> str:
        """The server's stdout and stderr so far."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")

    def reset(self) -> None:
        """Wipe every emulated resource (``POST /moto-api/reset``) and the call count."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        self.reset_calls()

    def reset_calls(self) -> None:
        """Start counting calls from now."""
        self._mark = self._recording.stat().st_size if self._recording else 0

    def recorded_calls(self) -> list[RecordedCall]:
        """Every AWS request received since the last reset, in arrival order."""
        if self._recording is None:
            return []
        with self._recording.open("rb") as handle:
            handle.seek(self._mark)
            data = handle.read()
        # a request being recorded right now may have written half a line: leave it for later
        lines = data[: data.rfind(b"\n") + 1].splitlines()
        calls: list[RecordedCall] = []
        for line in lines:
            if not line.strip():
                continue
            entry = json.loads(line)
            raw = entry.get("body") or ""
            body = base64.b64decode(raw) if entry.get("body_encoded") else raw.encode()
            method = str(entry.get("method", ""))
            url = str(entry.get("url", ""))
            service, action = action_of(method, url, entry.get("headers") or {}, body)
            if service == "moto-api":
                continue
            calls.append(RecordedCall(service, action, method, urlsplit(url).path))
        return calls

    def call_counts(self, service: str | None = None) -> Counter[str]:
        """Requests per action since the last reset, optionally of one service only."""
        return Counter(
            c.action for c in self.recorded_calls() if service is None or c.service == service
        )

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
