"""``kill -9`` of ``once`` in the middle of its write to BIND, then one more ``once``.

600 new Ingresses take several UPDATE messages. A proxy in front of BIND kills the ``once``
process (SIGKILL) when its second UPDATE message arrives, so the first message is written and
the rest is not. The zone then holds no record without its ownership TXT, and the next ``once``
converges in that one pass (a pass after it changes nothing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from e2e.servers.bind import BindServer
from tests.fixtures.dns_cutter import DnsCutter
from tests.integration.test_cli_bind import SAMPLES, env_for, ingress, invoke, records, write

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COUNT = 600


def _without_ownership(zone: Mapping[tuple[str, str], object]) -> list[str]:
    """Records of ours (the Ingresses' app<N> hosts) whose ownership TXT is missing."""
    return sorted(
        name
        for name, rtype in zone
        if rtype in ("A", "AAAA", "CNAME")
        and name.startswith("app")
        and (f"{rtype.lower()}-{name}", "TXT") not in zone
    )


def test_kill_9_between_update_messages_then_one_pass_converges(
    bind: BindServer, tmp_path: Path
) -> None:
    manifests = write(
        tmp_path / "m",
        *(ingress(f"app{i}", f"app{i}.example.test", ip="192.0.2.10") for i in range(COUNT)),
    )
    before = records(bind)
    holder: dict[str, subprocess.Popen[bytes]] = {}

    def kill() -> None:
        os.kill(holder["once"].pid, signal.SIGKILL)

    with DnsCutter(bind.port, cut_at=2, on_cut=kill) as cutter:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            **env_for(bind),
            "INGRESS_RECONCILER_PROVIDERS__0__PORT": str(cutter.port),
        }
        command = [
            sys.executable,
            "-m",
            "reconciler.app.cli",
            "--config",
            str(SAMPLES / "config.yaml"),
            "--manifests",
            str(manifests),
            "once",
        ]
        with (tmp_path / "once.log").open("wb") as log:
            holder["once"] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            code = holder["once"].wait(timeout=120)
    log_text = (tmp_path / "once.log").read_text()
    assert cutter.cut, f"the write never reached a second UPDATE message: {log_text}"
    assert code == -signal.SIGKILL

    between = records(bind)
    written = [name for name, rtype in between if rtype == "A" and name.startswith("app")]
    assert 0 < len(written) < COUNT, "the kill must land in the middle of the write"
    assert _without_ownership(between) == []
    assert all(between[key] == value for key, value in before.items())
    print(f"kill -9 after {len(written)} of {COUNT} records: 0 records without ownership")

    code, out, err = invoke(bind, "once", manifests=manifests)
    assert code == 0, out + err
    after = records(bind)
    assert sorted(n for n, t in after if t == "A" and n.startswith("app")) == sorted(
        f"app{i}.example.test" for i in range(COUNT)
    )
    assert _without_ownership(after) == []
    serial = bind.serial("example.test")
    code, out, err = invoke(bind, "once", manifests=manifests)
    assert code == 0, out + err
    assert bind.serial("example.test") == serial  # converged in the one pass before
