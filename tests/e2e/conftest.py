"""The e2e tests' ground: a cluster with the reconciler running, an AWS emulator and BIND.

With ``E2E_KUBECONFIG`` set (e.g. by ``e2e/kind/up.sh``, which writes ``e2e/kind/e2e.env``), the
tests run against that cluster, where the chart runs the reconciler with the sample's
configuration; the emulator and BIND are reached at ``E2E_AWS_ENDPOINT`` and
``E2E_BIND_HOST``:``E2E_BIND_PORT`` with the TSIG secret in ``E2E_TSIG_SECRET_FILE``.

Without it (CI, this machine: no Docker), the local test ground (:mod:`e2e.ground`) runs: a real
kube-apiserver + etcd, BIND9 and moto on 127.0.0.1, and the reconciler as a local process. The
tests are never skipped.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.tsig
import pytest

from e2e import sample
from e2e.ground import GroundError, LocalGround, apply_object, aws_client
from e2e.observe import Observer
from reconciler.kube.client import KubeClient, load_client

__all__ = ["E2eGround", "eventually", "ground"]


@dataclass(frozen=True, slots=True)
class E2eGround:
    """What the tests need: an admin client, an observer, and a liveness check."""

    kube: KubeClient
    """Client of the cluster (admin)."""
    observer: Observer
    """Read-only view of the cluster and both DNS views."""
    check: Callable[[], None]
    """Raises when the reconciler is known to have died (local ground only)."""

    def apply(self, obj: dict[str, object]) -> None:
        """Create or update one object."""
        apply_object(self.kube, obj)


def eventually(
    ground: E2eGround,
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float = 60.0,
) -> None:
    """Poll ``check`` until true; fail (with what was awaited) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not check():
        ground.check()
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)  # poll interval: the reconciler runs in another process
        delay = min(delay * 1.5, 0.5)


def _remote(kubeconfig: str) -> Iterator[E2eGround]:
    missing = [
        name
        for name in ("E2E_AWS_ENDPOINT", "E2E_BIND_PORT", "E2E_TSIG_SECRET_FILE")
        if not os.environ.get(name)
    ]
    if missing:
        pytest.fail(f"E2E_KUBECONFIG is set but {', '.join(missing)} are not", pytrace=False)
    endpoint = os.environ["E2E_AWS_ENDPOINT"]
    secret = Path(os.environ["E2E_TSIG_SECRET_FILE"]).read_text().strip()
    kube = load_client(kubeconfig=kubeconfig)
    observer = Observer(
        kube=kube,
        route53=aws_client("route53", endpoint),
        elbv2=aws_client("elbv2", endpoint),
        bind_host=os.environ.get("E2E_BIND_HOST", "127.0.0.1"),
        bind_port=int(os.environ["E2E_BIND_PORT"]),
        tsig_key=dns.tsig.Key("ddns-key", secret, algorithm="hmac-sha256"),
        public_zone=sample.PUBLIC_ZONE,
        private_zone=sample.BIND_ZONE,
    )
    try:
        yield E2eGround(kube=kube, observer=observer, check=lambda: None)
    finally:
        kube.close()


@pytest.fixture(scope="session")
def ground() -> Iterator[E2eGround]:
    """The cluster under test, with the sample's tenant namespaces present."""
    kubeconfig = os.environ.get("E2E_KUBECONFIG")
    if kubeconfig:
        yield from _remote(kubeconfig)
        return
    with tempfile.TemporaryDirectory(prefix="e2e-ground-") as workdir:
        local = LocalGround(Path(workdir))
        local.start()
        try:
            local.write_config()
            local.apply_sample()
            local.start_reconciler()

            def check() -> None:
                try:
                    local.check_reconciler()
                except GroundError as exc:
                    pytest.fail(str(exc), pytrace=False)

            yield E2eGround(kube=local.kube, observer=local.observer(), check=check)
        finally:
            local.stop()
