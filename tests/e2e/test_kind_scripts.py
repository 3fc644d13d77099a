"""e2e/kind/up.sh and down.sh run for real, with docker, kind, kubectl and helm replaced by stubs
that log their arguments (no Docker engine here). The stub ``kubectl port-forward`` of the AWS
emulator starts a real moto server on the forwarded port, so up.sh's seeding really runs against
an emulator; BIND's forward is a plain TCP listener. Checks: the order of the steps, what the chart
is installed with, the seeded VPC/subnets/zone, the env file for the e2e tests, and that down.sh
stops exactly the forwards it started and deletes the cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e import sample
from e2e.ground import aws_client
from e2e.servers.apiserver import free_tcp_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KIND = ROOT / "e2e" / "kind"

_LISTENER = (
    "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); "
    "time.sleep(600)"
)

_KUBECTL = """#!/usr/bin/env bash
echo "kubectl $*" >> "$FAKE_LOG"
args="$*"
case "$args" in
  *"port-forward service/aws "*)
    port=${args##*service/aws }; port=${port%%:*}
    exec "$MOTO_SERVER" -H 127.0.0.1 -p "$port" ;;
  *"port-forward service/bind "*)
    port=${args##*service/bind }; port=${port%%:*}
    exec "$PYTHON" -c "$(printf "$LISTENER" "$port")" ;;
  *"get secret tsig -o jsonpath"*) printf 'c2VjcmV0' ;;
  *"get secret tsig"*) exit 1 ;;
  *"-o yaml"*) echo "kind: Secret" ;;
  *"apply -f -"*) cat > "$FAKE_STATE/applied-$(date +%s%N).yaml" ;;
esac
exit 0
"""
_KIND = """#!/usr/bin/env bash
echo "kind $*" >> "$FAKE_LOG"
case "$1 $2" in
  "get clusters") [ -f "$FAKE_STATE/cluster" ] && echo ingress-reconciler; exit 0 ;;
  "create cluster") touch "$FAKE_STATE/cluster" ;;
  "delete cluster") rm -f "$FAKE_STATE/cluster" ;;
  "get kubeconfig") echo "apiVersion: v1" ;;
esac
exit 0
"""
_LOGGER = """#!/usr/bin/env bash
echo "{name} $*" >> "$FAKE_LOG"
exit 0
"""


def _script(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KIND / name)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _forward_pids(state: Path) -> list[int]:
    """PIDs of the port-forwards port-forward.sh recorded (none when it did not get that far)."""
    files = (state / f"{name}.pid" for name in ("aws", "bind"))
    return [int(f.read_text()) for f in files if f.exists()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_up_then_down_with_stub_tools(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_state = tmp_path / "fake"
    fake_state.mkdir()
    for name, text in (
        ("kubectl", _KUBECTL),
        ("kind", _KIND),
        ("docker", _LOGGER.format(name="docker")),
        ("helm", _LOGGER.format(name="helm")),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "calls.log"
    state = tmp_path / "state"
    env_file = tmp_path / "e2e.env"
    aws_port, bind_port = free_tcp_port(), free_tcp_port()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(log),
        "FAKE_STATE": str(fake_state),
        "MOTO_SERVER": str(Path(sys.executable).parent / "moto_server"),
        "PYTHON": sys.executable,
        "LISTENER": _LISTENER.replace("{port}", "%s"),
        "E2E_STATE_DIR": str(state),
        "E2E_ENV_FILE": str(env_file),
        "AWS_PORT": str(aws_port),
        "BIND_PORT": str(bind_port),
    }
    env.pop("LOCALSTACK_AUTH_TOKEN", None)
    pids: list[int] = []
    try:
        up = _script("up.sh", env)
        pids = _forward_pids(state)
        assert up.returncode == 0, up.stdout + up.stderr
        assert len(pids) == 2
        calls = log.read_text().splitlines()

        def first(prefix: str) -> int:
            index = next((i for i, c in enumerate(calls) if c.startswith(prefix)), None)
            assert index is not None, f"{prefix!r} never called:\n" + "\n".join(calls)
            return index

        context = "kind-ingress-reconciler"
        order = [
            first("kind create cluster --name ingress-reconciler"),
            first("docker build -t ingress-reconciler:dev"),
            first("kind load docker-image ingress-reconciler:dev"),
            first(f"kubectl --context {context} apply -f {KIND / 'manifests' / 'moto.yaml'}"),
            first("kubectl --context kind-ingress-reconciler -n e2e port-forward service/aws"),
            first("helm --kube-context kind-ingress-reconciler upgrade --install"),
        ]
        assert order == sorted(order), calls
        assert not any("localstack.yaml" in c for c in calls)
        helm = calls[first("helm ")]
        assert f"-f {KIND / 'values-dev.yaml'}" in helm
        assert str(ROOT / "charts" / "ingress-reconciler") in helm

        # the seeding ran against the emulator behind the forward
        endpoint = f"http://127.0.0.1:{aws_port}"
        zones = aws_client("route53", endpoint).list_hosted_zones()["HostedZones"]
        assert [z["Name"] for z in zones] == [sample.PUBLIC_ZONE + "."]
        tag = f"kubernetes.io/cluster/{sample.CLUSTER_NAME}"
        subnets = aws_client("ec2", endpoint).describe_subnets(
            Filters=[{"Name": "tag-key", "Values": [tag]}]
        )["Subnets"]
        assert len(subnets) == 2
        applied = "".join(p.read_text() for p in sorted(fake_state.glob("applied-*.yaml")))
        assert "kind: Ingress" in applied
        assert "hijack" in applied

        written = dict(
            line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line
        )
        assert written["E2E_AWS_ENDPOINT"] == endpoint
        assert written["E2E_BIND_PORT"] == str(bind_port)
        assert Path(written["E2E_TSIG_SECRET_FILE"]).read_text().strip() == "secret"
        assert (Path(written["E2E_TSIG_SECRET_FILE"]).stat().st_mode & 0o077) == 0

        # running up.sh again is idempotent: no second cluster, the forwards replaced
        again = _script("up.sh", {**env, "SKIP_BUILD": "1"})
        assert again.returncode == 0, again.stdout + again.stderr
        assert sum(c.startswith("kind create cluster") for c in log.read_text().splitlines()) == 1
        assert not any(_alive(p) for p in pids), "the first forwards were not stopped"
        pids = _forward_pids(state)

        down = _script("down.sh", env)
        assert down.returncode == 0, down.stdout + down.stderr
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)  # poll: the forwards exit on SIGTERM
        assert not any(_alive(p) for p in pids)
        assert "kind delete cluster --name ingress-reconciler" in log.read_text()
        assert not state.exists()
        assert not env_file.exists()
    finally:
        for pid in {*pids, *_forward_pids(state)}:
            if _alive(pid):
                os.kill(pid, 9)


def _wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)  # poll interval


def test_dev_entrypoint_restarts_on_live_update_and_stops_on_sigterm(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    child = (
        "import os, sys, time; "
        f"open({str(starts)!r}, 'a').write(str(os.getpid()) + '\\n'); time.sleep(120)"
    )
    env = {**os.environ, "DEV_RUN_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [str(KIND / "dev-entrypoint.sh"), sys.executable, "-c", child],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def started() -> list[int]:
        return [int(x) for x in starts.read_text().split()] if starts.exists() else []

    try:
        _wait(lambda: len(started()) == 1 and (tmp_path / "reconciler.pid").exists(), "a start")
        first_pid = started()[0]
        restart = subprocess.run(
            [str(KIND / "restart.sh")], env=env, capture_output=True, text=True, check=False
        )
        assert restart.returncode == 0, restart.stderr
        _wait(lambda: len(started()) == 2, "the restart")
        assert proc.poll() is None, "the entry point must survive a live-update restart"
        assert not _alive(first_pid)
        second_pid = started()[1]
        _wait(
            lambda: (
                (tmp_path / "reconciler.pid").exists()
                and (tmp_path / "reconciler.pid").read_text().strip() == str(second_pid)
            ),
            "the new PID file",
        )
        proc.terminate()
        assert proc.wait(timeout=20) != 0
        assert not _alive(second_pid)
        assert len(started()) == 2, "SIGTERM must stop, not restart"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_dev_entrypoint_exits_with_the_childs_status(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(KIND / "dev-entrypoint.sh"), sys.executable, "-c", "raise SystemExit(3)"],
        env={**os.environ, "DEV_RUN_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 3
