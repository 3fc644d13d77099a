"""Shared harness of the integration tests that drive the ``ingress-reconciler`` CLI.

Config pieces (BIND provider, fleet, leader election, health), the ``run`` subprocess, the
in-process ``once``/``plan`` call with JSON output, probes over HTTP, the Lease holder, and the
cleanup of what a reconciler with one owner id created in the cluster.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

from e2e.servers.apiserver import ApiServer
from e2e.servers.bind import BindServer, free_port
from reconciler.app import cli
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    INGRESS_CLASS,
    ResourceKind,
)
from reconciler.model.errors import KubernetesError

__all__ = [
    "ROOT",
    "ZONE",
    "Cluster",
    "aws_test_env",
    "bind_provider",
    "exited",
    "fleet",
    "free_port",
    "health",
    "http_status",
    "http_text",
    "ingress_object",
    "leader_election",
    "lease_holder",
    "remove_owned",
    "run_cli",
    "start_run",
]

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the subprocess's working directory)."""
ZONE = "example.test"
"""The zone BIND serves in the integration tests."""


class Cluster:
    """What a test helper works against: the apiserver, its client, BIND and the test namespace;
    ``suffix`` (random) names what the test creates."""

    def __init__(
        self, *, apiserver: ApiServer, client: KubeClient, bind: BindServer, namespace: str
    ) -> None:
        self.suffix = secrets.token_hex(3)
        self.apiserver = apiserver
        self.client = client
        self.bind = bind
        self.namespace = namespace

    def setup(self, tmp_path: Path) -> None:
        """What it prepares in ``tmp_path`` (config, logs); called by :func:`cluster_helper`."""

    def cleanup(self) -> None:
        """Remove what the test made; called by :func:`cluster_helper` whatever happened."""


_C = TypeVar("_C", bound=Cluster)


def cluster_helper(
    kind: type[_C],
    *,
    apiserver: ApiServer,
    client: KubeClient,
    bind: BindServer,
    namespace: str,
    tmp_path: Path,
) -> Iterator[_C]:
    """The body of a fixture: a ``kind`` helper set up in ``tmp_path``, cleaned up afterwards."""
    helper = kind(apiserver=apiserver, client=client, bind=bind, namespace=namespace)
    helper.setup(tmp_path)
    try:
        yield helper
    finally:
        helper.cleanup()


def bind_provider(
    bind: BindServer, *, name: str = "bind", view: str = "public", zone: str = ZONE
) -> dict[str, Any]:
    """An ``rfc2136`` provider entry for the test BIND with its TSIG key."""
    return {
        "name": name,
        "type": "rfc2136",
        "view": view,
        "host": "127.0.0.1",
        "port": bind.port,
        "zones": [zone],
        "tsig": {"keyName": "ddns-key", "secretFile": str(bind.secret_file)},
    }


def fleet(name: str, *, visibility: str, dns_providers: Iterable[str]) -> dict[str, Any]:
    """A one-replica fleet named ``name`` (its IngressClass too) in namespace ``ing-<name>``."""
    return {
        "name": name,
        "ingressClassName": name,
        "visibility": visibility,
        "namespace": f"ing-{name}",
        "replicas": 1,
        "dnsProviders": list(dns_providers),
    }


def leader_election(
    lease: str, namespace: str, *, duration: float, renew: float, retry: float
) -> dict[str, Any]:
    """The ``leaderElection`` section: enabled, with these timings."""
    return {
        "enabled": True,
        "leaseName": lease,
        "leaseNamespace": namespace,
        "leaseDuration": duration,
        "renewDeadline": renew,
        "retryPeriod": retry,
    }


def health(port: int) -> dict[str, Any]:
    """The ``health`` section: probes and metrics on 127.0.0.1:``port``."""
    return {"host": "127.0.0.1", "port": port, "toleratedIntervals": 3}


def start_run(
    config: Path, kubeconfig: Path, log: Path, *, env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """``python -m reconciler.app.cli run`` with ``env`` (plus PATH and HOME), output into
    ``log``."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "reconciler.app.cli",
        "run",
        "--config",
        str(config),
        "--kubeconfig",
        str(kubeconfig),
        "--log-level",
        "info",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT
        )


def exited(proc: subprocess.Popen[bytes] | None, what: str, log: Path) -> bool:
    """True while ``proc`` runs; fails the test with its log once it has exited."""
    assert proc is not None
    if proc.poll() is not None:
        text = log.read_text(errors="replace") if log.exists() else ""
        pytest.fail(f"{what} exited with {proc.returncode}:\n{text}")
    return True


def run_cli(
    config: Path, kubeconfig: Path, *args: str, pod_name: str
) -> tuple[int, dict[str, Any], str]:
    """The CLI in process with ``--output json``: exit code, parsed stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["--config", str(config), "--kubeconfig", str(kubeconfig), "--output", "json", *args],
        env={"POD_NAME": pod_name},
        stdout=out,
        stderr=err,
    )
    return code, json.loads(out.getvalue() or "{}"), err.getvalue()


def http_status(url: str) -> int:
    """The HTTP status of GET ``url``; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def http_text(url: str) -> str:
    """The body of GET ``url``, or "" when the server does not answer (yet / any more)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            text: str = answer.read().decode()
            return text
    except (urllib.error.URLError, OSError):
        return ""


def ingress_object(name: str, namespace: str, ingress_class: str, host: str) -> dict[str, Any]:
    """An Ingress of ``ingress_class`` with one rule for ``host``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ingressClassName": ingress_class, "rules": [{"host": host}]},
    }


def lease_holder(client: KubeClient, namespace: str, name: str) -> str:
    """The Lease's holderIdentity ("" when released or not created yet)."""
    path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
    try:
        lease: dict[str, Any] = client.request("GET", path)
    except KubernetesError as exc:
        if exc.status == 404:
            return ""
        raise
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def remove_owned(
    apiserver: ApiServer, client: KubeClient, owner: str, namespaces: Iterable[str]
) -> None:
    """Delete ``namespaces`` and the cluster-scoped objects labelled with ``owner``."""
    for namespace in namespaces:
        apiserver.delete_namespace(namespace)
    selector = f"ingress-reconciler.io/owner={owner}"
    kinds: tuple[ResourceKind, ...] = (INGRESS_CLASS, CLUSTER_ROLE, CLUSTER_ROLE_BINDING)
    for kind in kinds:
        for item in client.list(kind, label_selector=selector)[0]:
            try:
                client.delete(kind, item["metadata"]["name"])
            except KubernetesError as exc:
                if exc.status != 404:
                    raise


def aws_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials for the emulator in the process environment (boto3 reads them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
