"""App "pods" for the test ground: a backend process in a network namespace of its own.

A :class:`NetnsPod` makes a network namespace and a veth pair: ``10.254.<n>.1/30`` on the host
side, ``10.254.<n>.2/30`` inside, and runs :mod:`e2e.servers.backend` inside on that address.
The apiserver refuses loopback addresses in EndpointSlices; these addresses are real, reachable
from the host (where the fleet controllers run) and from nowhere else. :meth:`NetnsPod.stop`
deletes the process, the link and the namespace. Needs root (``ip netns``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from e2e.servers.process import terminate

__all__ = ["NetnsError", "NetnsPod", "can_make_namespaces"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.254"


class NetnsError(RuntimeError):
    """A namespace, link or backend could not be made."""


def can_make_namespaces() -> str:
    """Why network namespaces cannot be made here ("" when they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    return ""


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class NetnsPod:
    """One backend in its own network namespace, at ``10.254.<index>.2``."""

    def __init__(
        self,
        name: str,
        index: int,
        *,
        port: int = 8080,
        log_dir: Path,
        cert: Path | None = None,
        key: Path | None = None,
    ) -> None:
        if not 1 <= index <= 254:
            raise NetnsError(f"pod index {index} must be 1-254")
        tag = secrets.token_hex(2)
        self.name = name
        self.port = port
        self.netns = f"irt-{tag}-{index}"
        self.host_link = f"irh{tag}{index}"[:15]
        self.pod_link = f"irp{tag}{index}"[:15]
        self.host_address = f"{SUBNET}.{index}.1"
        self.address = f"{SUBNET}.{index}.2"
        self.log = log_dir / f"backend-{name}.log"
        self.cert = cert
        self.key = key
        self._proc: subprocess.Popen[bytes] | None = None
        self._made: list[str] = []

    def __enter__(self) -> NetnsPod:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Make the namespace and link, start the backend, wait until it answers."""
        try:
            _ip("netns", "add", self.netns)
            self._made.append("netns")
            _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.pod_link)
            self._made.append("link")
            _ip("link", "set", self.pod_link, "netns", self.netns)
            _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
            _ip("link", "set", self.host_link, "up")
            inside = ("netns", "exec", self.netns, "ip")
            _ip(*inside, "addr", "add", f"{self.address}/30", "dev", self.pod_link)
            _ip(*inside, "link", "set", self.pod_link, "up")
            _ip(*inside, "link", "set", "lo", "up")
            command = [
                "ip", "netns", "exec", self.netns,
                sys.executable, "-m", "e2e.servers.backend",
                "--name", self.name, "--bind", self.address, "--port", str(self.port),
            ]  # fmt: skip
            if self.cert and self.key:
                command += ["--cert", str(self.cert), "--key", str(self.key)]
            with self.log.open("ab") as log:
                self._proc = subprocess.Popen(
                    command,
                    cwd=REPO_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise NetnsError(f"backend {self.name} exited: {self.log.read_text()[-2000:]}")
            if self.log.exists() and "ready" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.05)  # polling the backend's start with a deadline
        raise NetnsError(f"backend {self.name} did not start within {timeout}s")

    def stop(self) -> None:
        """Stop the backend; delete the link and the namespace (whatever was made)."""
        if self._proc is not None:
            terminate(self._proc, grace=5)
        self._proc = None
        if "link" in self._made:
            subprocess.run(["ip", "link", "del", self.host_link], capture_output=True, check=False)
        if "netns" in self._made:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        self._made.clear()
