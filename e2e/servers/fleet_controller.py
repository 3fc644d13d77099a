"""A fleet's controller as a local process: a node of one for the fleet the reconciler wrote.

:class:`FleetController` reads the fleet's workload (Deployment or DaemonSet) from the apiserver,
does what the kubelet would and runs its container's ``args`` with the cached Traefik binary:

- the ServiceAccount named by the pod template gets a token from the TokenRequest API, so the
  controller reads the API with exactly the fleet's RBAC (a missing right shows as a 403 in its
  log);
- the pod's Secret and ConfigMap volumes are written to a directory, and the container's mount
  paths are rewritten to it in the args and in the ConfigMap files (which name each other's
  paths, as the dynamic configuration names the certificate's);
- every ``--entrypoints.<name>.address=:<port>`` is rewritten to ``127.0.0.1:<free port>``, and
  each Kubernetes provider the args enable (the ingress-nginx one, the Gateway API one) gets the
  apiserver endpoint, the token file and the CA file (what in-cluster configuration would find in
  the pod). With ``loopback`` (a 127.0.0.0/8 address of its own) the entrypoints keep their
  ports and listen on that address instead: Traefik's Gateway provider maps a Gateway listener to
  the entrypoint of the listener's port, so the ports must stay the container's.

Nothing else of the args changes. The load balancer in front of the fleet is the one piece that
is simulated: a test sends the request for a load-balancer address straight to the listener
(:meth:`FleetController.listener`).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from e2e.servers.apiserver import ApiServer, free_tcp_port
from e2e.servers.process import terminate

__all__ = [
    "TRAEFIK_VERSION",
    "FleetController",
    "FleetControllerError",
    "traefik_binary",
]

TRAEFIK_VERSION = "v3.7.13"
_ENTRYPOINT = re.compile(
    r"^--entrypoints\.(?P<name>[a-z0-9]+)\.address=:(?P<port>[0-9]+)(?P<rest>.*)$"
)
_PROVIDERS = ("--providers.kubernetesingressnginx", "--providers.kubernetesgateway")


class FleetControllerError(RuntimeError):
    """The fleet's workload cannot be run here, or its controller did not start."""


def traefik_binary() -> Path:
    """The cached Traefik binary (``scripts/install.d/50-traefik`` builds it)."""
    cache = Path(os.environ.get("TRAEFIK_CACHE", Path.home() / ".cache" / "ingress-reconciler"))
    binary = cache / "bin" / "traefik"
    version = cache / "bin" / "traefik.version"
    if not binary.exists() or not version.exists():
        raise FleetControllerError(
            f"no Traefik binary at {binary}: run scripts/install.d/50-traefik (or: make deps)"
        )
    if version.read_text().strip() != TRAEFIK_VERSION:
        raise FleetControllerError(
            f"{binary} is Traefik {version.read_text().strip()}, not {TRAEFIK_VERSION}: "
            "run scripts/install.d/50-traefik"
        )
    return binary


def _rewrite_paths(text: str, mounts: Mapping[str, Path]) -> str:
    for mount_path, local in mounts.items():
        text = text.replace(mount_path, str(local))
    return text


def _workload(apiserver: ApiServer, namespace: str, name: str) -> dict[str, Any]:
    for plural in ("deployments", "daemonsets"):
        status, body = apiserver.request(
            "GET", f"/apis/apps/v1/namespaces/{namespace}/{plural}/{name}"
        )
        if status == 200:
            return dict(body)
    raise FleetControllerError(f"no Deployment or DaemonSet {namespace}/{name}")


class FleetController:
    """The controller of one fleet, started from its workload as written in the apiserver."""

    def __init__(
        self,
        apiserver: ApiServer,
        *,
        namespace: str,
        workload: str,
        directory: Path,
        binary: Path | None = None,
        loopback: str = "",
    ) -> None:
        self.apiserver = apiserver
        self.host = loopback or "127.0.0.1"
        self.keep_ports = bool(loopback)
        self.namespace = namespace
        self.workload_name = workload
        self.directory = directory
        self.binary = binary or traefik_binary()
        self.log = directory / "controller.log"
        self.ports: dict[str, int] = {}
        self.args: list[str] = []
        self.service_account = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> FleetController:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what the kubelet does -----------------------------------------------------------------

    def _token(self) -> str:
        body = self.apiserver.must(
            "POST",
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{self.service_account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            },
        )
        return str(body["status"]["token"])

    def _volume_files(
        self, volume: Mapping[str, Any], target: Path, mounts: Mapping[str, Path]
    ) -> None:
        target.mkdir(parents=True, exist_ok=True)
        if "secret" in volume:
            name = volume["secret"]["secretName"]
            secret = self.apiserver.must(
                "GET", f"/api/v1/namespaces/{self.namespace}/secrets/{name}"
            )
            for key, value in (secret.get("data") or {}).items():
                (target / key).write_bytes(base64.b64decode(value))
        elif "configMap" in volume:
            name = volume["configMap"]["name"]
            config = self.apiserver.must(
                "GET", f"/api/v1/namespaces/{self.namespace}/configmaps/{name}"
            )
            for key, value in (config.get("data") or {}).items():
                (target / key).write_text(_rewrite_paths(value, mounts))
        else:
            raise FleetControllerError(f"volume {volume.get('name')!r}: only secret and configMap")

    def _prepare(self) -> None:
        workload = _workload(self.apiserver, self.namespace, self.workload_name)
        pod = workload["spec"]["template"]["spec"]
        [container] = pod["containers"]
        self.service_account = pod["serviceAccountName"]
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        mounts = {
            m["mountPath"]: self.directory / "volumes" / m["name"]
            for m in container.get("volumeMounts") or []
        }
        for mount in container.get("volumeMounts") or []:
            self._volume_files(volumes[mount["name"]], mounts[mount["mountPath"]], mounts)
        args: list[str] = []
        for arg in container.get("args") or []:
            match = _ENTRYPOINT.match(arg)
            if match:
                port = int(match["port"]) if self.keep_ports else free_tcp_port()
                self.ports[match["name"]] = port
                local_arg = (
                    f"--entrypoints.{match['name']}.address={self.host}:{port}{match['rest']}"
                )
            else:
                local_arg = _rewrite_paths(arg, mounts)
            args.append(local_arg)
        token_file = self.directory / "token"
        token_file.write_text(self._token())
        token_file.chmod(0o600)
        for provider in _PROVIDERS:
            if f"{provider}=true" in args:
                args += [
                    f"{provider}.endpoint={self.apiserver.url}",
                    f"{provider}.token={token_file}",
                    f"{provider}.certauthfilepath={self.apiserver.ca_file}",
                ]
        self.args = args

    # --- the process ---------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> None:
        """Run the controller; wait until it answers its ping."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prepare()
        if "traefik" not in self.ports:
            raise FleetControllerError("the workload has no traefik (admin) entrypoint to ping")
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self.binary), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise FleetControllerError(
                    f"the controller exited with {self._proc.returncode}: {self.log_text()[-3000:]}"
                )
            if self._ping():
                return
            time.sleep(0.1)  # polling the controller's start with a deadline
        self.stop()
        raise FleetControllerError(f"no ping answer within {timeout}s: {self.log_text()[-3000:]}")

    def _ping(self) -> bool:
        url = f"http://{self.host}:{self.ports['traefik']}/ping"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Stop the controller (SIGTERM, then SIGKILL)."""
        if self._proc is not None:
            terminate(self._proc, grace=10)
        self._proc = None

    def listener(self, entrypoint: str) -> tuple[str, int]:
        """Where the load balancer's port for ``entrypoint`` (web, websecure) sends traffic."""
        return self.host, self.ports[entrypoint]

    def log_text(self) -> str:
        """The controller's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_lines(self, pattern: str) -> Sequence[str]:
        """Log lines matching the regular expression ``pattern``."""
        found = re.compile(pattern)
        return [line for line in self.log_text().splitlines() if found.search(line)]
