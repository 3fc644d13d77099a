"""The e2e tests' "any kubeconfig" mode (how they run against kind), exercised here: a local test
ground stands in for the cluster, and the e2e tests run in a child pytest with only the ``E2E_*``
variables pointing at it, so they use the remote path of the conftest (no ground of their own)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.ground import LocalGround

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGround]:
    local = LocalGround(tmp_path_factory.mktemp("cluster"))
    local.start()
    try:
        local.write_config()
        local.apply_sample()
        local.start_reconciler()
        yield local
    finally:
        local.stop()


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_e2e_tests_pass_against_a_given_cluster(cluster: LocalGround) -> None:
    env = {
        **os.environ,
        "E2E_KUBECONFIG": str(cluster.kubeconfig),
        "E2E_AWS_ENDPOINT": cluster.moto.endpoint_url,
        "E2E_BIND_HOST": "127.0.0.1",
        "E2E_BIND_PORT": str(cluster.bind.port),
        "E2E_TSIG_SECRET_FILE": str(cluster.bind.secret_file),
    }
    result = _run(env, "tests/e2e/test_path.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout, result.stdout
    # they really used this cluster: the hijack attempts left their Events in it
    events = cluster.observer().refusals(("payroll",))
    assert any(r.ingress.startswith("hijack-") for r in events), events


def test_a_partial_environment_fails_loudly(cluster: LocalGround) -> None:
    env = {**os.environ, "E2E_KUBECONFIG": str(cluster.kubeconfig)}
    for name in ("E2E_AWS_ENDPOINT", "E2E_BIND_PORT", "E2E_TSIG_SECRET_FILE"):
        env.pop(name, None)
    result = _run(env, "tests/e2e/test_path.py", "-k", "scheme")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "E2E_KUBECONFIG is set but E2E_AWS_ENDPOINT" in result.stdout + result.stderr
