"""A real kube-apiserver + etcd on 127.0.0.1 for tests, the demo and benchmarks (envtest style).

``ApiServer`` starts etcd (data in a temporary directory, client and peer URLs on free ports) and
kube-apiserver (secure port on a free port, RBAC, service-account signing key and issuer, a
static admin token in ``system:masters``), polls ``/readyz`` (never sleeps a fixed time), writes a
kubeconfig and on exit terminates both processes and waits for them::

    with ApiServer() as api:
        client = load_client(kubeconfig=api.kubeconfig)

``restart()`` stops and starts kube-apiserver alone (same port, same etcd, same kubeconfig), for
"apiserver restarted mid-run" tests. ``service_account_kubeconfig()`` writes a kubeconfig for a
ServiceAccount's token (RBAC tests); ``request()`` talks to the API directly as admin, bypassing the
code under test, so tests can seed and inspect objects out of band.

The binaries come from ``$KUBEBUILDER_ASSETS`` when set (setup-envtest's convention), else from
``~/.cache/ingress-reconciler/envtest/<k8s-version>/`` where ``scripts/install.d/10-envtest`` builds
them; the versions are pinned in ``e2e/k8s-version``.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from e2e.servers.process import terminate

__all__ = [
    "BUILD_COMMAND",
    "ApiServer",
    "ApiServerError",
    "BinariesMissingError",
    "EnvtestVersions",
    "binary_dir",
    "find_binaries",
    "free_tcp_port",
    "versions",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
# What delete_namespace() empties first: no controller-manager runs here to do it.
NAMESPACED_COLLECTIONS = (
    "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "/api/v1/namespaces/{ns}/services",
    "/api/v1/namespaces/{ns}/configmaps",
    "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/serviceaccounts",
    "/api/v1/namespaces/{ns}/events",
    "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
    "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
    # the Gateway API kinds, where the CRDs are installed (a 404 elsewhere)
    *(
        f"/apis/gateway.networking.k8s.io/v1/namespaces/{{ns}}/{plural}"
        for plural in (
            "httproutes",
            "grpcroutes",
            "tlsroutes",
            "tcproutes",
            "udproutes",
            "listenersets",
            "gateways",
        )
    ),
)
VERSION_FILE = REPO_ROOT / "e2e" / "k8s-version"
BUILD_COMMAND = "scripts/install.d/10-envtest (or: make deps)"
ADMIN_USER = "admin"


class ApiServerError(RuntimeError):
    """etcd or kube-apiserver did not start, stop or answer; the message holds the log's tail."""


class BinariesMissingError(ApiServerError):
    """kube-apiserver or etcd is not where it should be; the message names it and the fix."""


@dataclass(frozen=True, slots=True)
class EnvtestVersions:
    """The pinned versions of the test ground (from ``e2e/k8s-version``)."""

    kubernetes: str
    """k8s.io/kubernetes release, e.g. ``"v1.36.3"``."""
    etcd: str
    """go.etcd.io/etcd/server/v3 release, e.g. ``"v3.6.8"``."""


def versions(path: Path = VERSION_FILE) -> EnvtestVersions:
    """Read the pinned Kubernetes and etcd versions (``KEY=VALUE`` lines, ``#`` comments)."""
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    try:
        return EnvtestVersions(kubernetes=values["KUBERNETES_VERSION"], etcd=values["ETCD_VERSION"])
    except KeyError as exc:
        raise ApiServerError(f"{path} does not set {exc.args[0]}") from exc


def binary_dir() -> Path:
    """Where kube-apiserver and etcd are looked for: ``$KUBEBUILDER_ASSETS`` or the build cache."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        return Path(assets)
    root = os.environ.get("ENVTEST_CACHE") or str(
        Path.home() / ".cache" / "ingress-reconciler" / "envtest"
    )
    return Path(root) / versions().kubernetes


def find_binaries() -> tuple[Path, Path]:
    """Paths of (kube-apiserver, etcd), or raise BinariesMissingError naming what is missing."""
    folder = binary_dir()
    found = []
    for name in ("kube-apiserver", "etcd"):
        path = folder / name
        if not (path.is_file() and os.access(path, os.X_OK)):
            source = (
                "$KUBEBUILDER_ASSETS"
                if os.environ.get("KUBEBUILDER_ASSETS")
                else "the envtest build cache"
            )
            raise BinariesMissingError(
                f"{name} not found at {path} ({source}). Build it with: {BUILD_COMMAND}; "
                "or point KUBEBUILDER_ASSETS at a folder holding kube-apiserver and etcd"
            )
        found.append(path)
    return found[0], found[1]


def free_tcp_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _write_private_key(path: Path) -> None:
    """An RSA key for signing ServiceAccount tokens (kube-apiserver reads the PEM as both files)."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


class ApiServer:
    """etcd + kube-apiserver on 127.0.0.1, with an admin kubeconfig at :attr:`kubeconfig`.

    Use as a context manager (or call :meth:`start` and :meth:`stop`). ``extra_args`` are added to
    kube-apiserver's command line (``--flag=value`` strings). kube-apiserver gets SIGTERM and
    ``apiserver_grace`` seconds to exit before SIGKILL: with a watch open it otherwise lingers ~20 s
    in graceful termination, which buys the tests nothing.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 90.0,
        stop_timeout: float = 20.0,
        apiserver_grace: float = 3.0,
    ) -> None:
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.apiserver_grace = apiserver_grace
        self.token = secrets.token_hex(24)
        self.port = 0
        self.etcd_port = 0
        self.etcd_peer_port = 0
        self.restarts = 0
        self._dir: Path | None = None
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self._apiserver_bin: Path | None = None
        self._etcd_bin: Path | None = None

    def __repr__(self) -> str:
        return f"ApiServer(url={self.url!r}, etcd={self.etcd_url!r})"

    # --- addresses and files ---------------------------------------------------------------

    @property
    def directory(self) -> Path:
        """The working directory (etcd data, certificates, logs, kubeconfigs)."""
        if self._dir is None:
            raise ApiServerError("apiserver not started")
        return self._dir

    @property
    def url(self) -> str:
        """The apiserver's https URL."""
        return f"https://{self.host}:{self.port}"

    @property
    def etcd_url(self) -> str:
        """etcd's client URL (plain http on 127.0.0.1)."""
        return f"http://{self.host}:{self.etcd_port}"

    @property
    def cert_dir(self) -> Path:
        """kube-apiserver's ``--cert-dir`` (it writes its self-signed serving cert there)."""
        return self.directory / "certs"

    @property
    def ca_file(self) -> Path:
        """The bundle that verifies the apiserver's serving certificate."""
        return self.cert_dir / "apiserver.crt"

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig for the admin identity (a static token in ``system:masters``)."""
        return self.directory / "kubeconfig"

    @property
    def apiserver_log(self) -> Path:
        """kube-apiserver's combined stdout/stderr (appended across restarts)."""
        return self.directory / "kube-apiserver.log"

    @property
    def etcd_log(self) -> Path:
        """etcd's combined stdout/stderr."""
        return self.directory / "etcd.log"

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ApiServer:
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
        """Start etcd, then kube-apiserver; return once ``/readyz`` says ok."""
        self._apiserver_bin, self._etcd_bin = find_binaries()
        self._dir = Path(tempfile.mkdtemp(prefix="apiserver-"))
        try:
            self.cert_dir.mkdir()
            _write_private_key(self.directory / "sa.key")
            (self.directory / "tokens.csv").write_text(
                f'{self.token},{ADMIN_USER},{ADMIN_USER}-uid,"system:masters"\n'
            )
            self._start_etcd()
            self.port = free_tcp_port()
            self._start_apiserver()
            self.write_kubeconfig(self.kubeconfig, token=self.token, user=ADMIN_USER)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate kube-apiserver and etcd, wait for both, remove the working directory."""
        self._terminate_apiserver()
        if self._etcd is not None:
            self._terminate(self._etcd, grace=self.stop_timeout)
            self._etcd = None
        if self._dir is not None and not os.environ.get("APISERVER_KEEP_DIR"):
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> None:
        """Stop kube-apiserver and start it again on the same port against the same etcd."""
        self._terminate_apiserver()
        self._start_apiserver()
        self.restarts += 1

    def stop_apiserver(self) -> None:
        """Stop kube-apiserver only (etcd keeps running); :meth:`start_apiserver` brings it back."""
        self._terminate_apiserver()

    def start_apiserver(self) -> None:
        """Start kube-apiserver again after :meth:`stop_apiserver`."""
        self._start_apiserver()
        self.restarts += 1

    def _start_etcd(self) -> None:
        assert self._etcd_bin is not None
        last = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.etcd_port, self.etcd_peer_port = free_tcp_port(), free_tcp_port()
            if self.etcd_port == self.etcd_peer_port:
                continue
            peer = f"http://{self.host}:{self.etcd_peer_port}"
            args = [
                str(self._etcd_bin),
                "--name=default",
                f"--data-dir={self.directory / 'etcd'}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=default={peer}",
                "--initial-cluster-state=new",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ]
            with self.etcd_log.open("ab") as log:
                self._etcd = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            if self._poll(self._etcd, self._etcd_healthy, 30.0):
                return
            last = _tail(self.etcd_log)
            self._terminate(self._etcd, grace=self.stop_timeout)
            self._etcd = None
            shutil.rmtree(self.directory / "etcd", ignore_errors=True)
        raise ApiServerError(f"etcd did not become healthy; log tail:\n{last}")

    def _apiserver_args(self) -> list[str]:
        assert self._apiserver_bin is not None
        sa_key = self.directory / "sa.key"
        return [
            str(self._apiserver_bin),
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={self.host}",
            f"--advertise-address={self.host}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.cert_dir}",
            "--authorization-mode=RBAC",
            f"--token-auth-file={self.directory / 'tokens.csv'}",
            f"--service-account-issuer={self.url}/",
            f"--service-account-key-file={sa_key}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # no controller-manager creates the "default" ServiceAccount (envtest does the same)
            "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=1",
            *self.extra_args,
        ]

    def _start_apiserver(self) -> None:
        with self.apiserver_log.open("ab") as log:
            self._apiserver = subprocess.Popen(
                self._apiserver_args(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if not self._poll(self._apiserver, self._apiserver_ready, self.startup_timeout):
            tail = _tail(self.apiserver_log)
            self._terminate_apiserver()
            raise ApiServerError(f"kube-apiserver did not become ready; log tail:\n{tail}")

    def _terminate_apiserver(self) -> None:
        if self._apiserver is not None:
            self._terminate(self._apiserver, grace=self.apiserver_grace)
            self._apiserver = None

    def _terminate(self, proc: subprocess.Popen[bytes], *, grace: float) -> None:
        """Terminate ``proc`` (SIGTERM, then SIGKILL after ``grace`` seconds) and reap it."""
        terminate(proc, grace=grace, kill_wait=self.stop_timeout)

    @staticmethod
    def _poll(proc: subprocess.Popen[bytes], check: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if check():
                return True
            time.sleep(delay)  # poll interval, not a wait for a fixed time
            delay = min(delay * 1.5, 0.5)
        return False

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def _apiserver_ready(self) -> bool:
        if not self.ca_file.exists():
            return False
        try:
            status, _ = self.request("GET", "/readyz", timeout=3)
        except (OSError, ApiServerError):
            return False
        return status == 200

    # --- out-of-band access ----------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the apiserver's serving certificate."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> tuple[int, Any]:
        """One request as admin (or as ``token``): (HTTP status, decoded JSON body or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def must(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        """Like :meth:`request` but raise ApiServerError unless the status is 2xx."""
        status, data = self.request(method, path, body, **kwargs)
        if not 200 <= status < 300:
            raise ApiServerError(f"{method} {path}: HTTP {status}: {data}")
        return data

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        """Create namespace ``name`` (out of band, as admin)."""
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = dict(labels)
        self.must(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": meta},
        )

    def delete_namespace(self, name: str) -> None:
        """Delete namespace ``name`` and what tests put in it, doing the namespace controller's job
        (no controller-manager runs here): empty the usual collections, delete, finalize."""
        for collection in NAMESPACED_COLLECTIONS:
            self.request("DELETE", collection.format(ns=name))
        status, _ = self.request("DELETE", f"/api/v1/namespaces/{name}")
        if status == 404:
            return
        self.request(
            "PUT",
            f"/api/v1/namespaces/{name}/finalize",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name},
                "spec": {"finalizers": []},
            },
        )

    def etcd_compact(self) -> int:
        """Compact etcd's history up to its current revision (via etcd's JSON gateway).

        Returns that revision. Watches from older resourceVersions that reach etcd then fail with
        410 Gone.
        """
        key = base64.b64encode(b"/").decode()
        rev = int(
            self._etcd_post("/v3/kv/range", {"key": key, "count_only": True})["header"]["revision"]
        )
        self._etcd_post("/v3/kv/compaction", {"revision": rev, "physical": True})
        return rev

    def _etcd_post(self, path: str, body: Mapping[str, Any]) -> Any:
        req = urllib.request.Request(
            self.etcd_url + path, data=json.dumps(body).encode(), method="POST"
        )
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    # --- kubeconfigs for other identities ----------------------------------------------------

    def write_kubeconfig(self, path: Path, *, token: str, user: str) -> Path:
        """Write a kubeconfig for this server that authenticates with bearer ``token``."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "envtest",
                    "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": {"token": token}}],
            "contexts": [{"name": user, "context": {"cluster": "envtest", "user": user}}],
            "current-context": user,
        }
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML: every loader reads it
        path.chmod(0o600)
        return path

    def service_account_token(
        self, namespace: str, name: str, *, expiration_seconds: int = 3600
    ) -> str:
        """A token for ServiceAccount ``namespace/name`` (created if missing), via TokenRequest."""
        status, _ = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        )
        if status not in (201, 409):
            raise ApiServerError(f"creating ServiceAccount {namespace}/{name}: HTTP {status}")
        data = self.must(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
        )
        return str(data["status"]["token"])

    def service_account_kubeconfig(self, namespace: str, name: str) -> Path:
        """A kubeconfig that acts as ServiceAccount ``namespace/name`` (no rights until bound)."""
        token = self.service_account_token(namespace, name)
        path = self.directory / f"kubeconfig-sa-{namespace}-{name}"
        return self.write_kubeconfig(path, token=token, user=f"sa-{namespace}-{name}")
