"""The README's first command, as a user runs it: ``python -m e2e.demo`` (here with
``--exit-after-report``), against a real kube-apiserver + etcd, BIND9 and moto. Asserts on what it
prints: fleets with NLBs of the right scheme, each Ingress's status, records in the right view
only, the hijack attempt refused with its reason, and each host's request answered through its own
fleet's Traefik only."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from e2e.sample import ingress
from reconciler.kube.client import load_client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = sections.setdefault(line[3:].split(":")[0].split(" (")[0], [])
        elif current is not None and line.startswith("   "):
            current.append(line.strip())
    return sections


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    workdir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "e2e.demo", "--exit-after-report", "--timeout", "120"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        env=None,
    )
    (workdir / "demo.out").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (
        f"demo failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def test_demo_converges_and_says_so(demo_output: str) -> None:
    assert re.search(r"^demo: converged in \d+\.\d s$", demo_output, re.MULTILINE)
    assert "Not converged" not in demo_output


def test_demo_shows_fleets_with_nlbs_of_their_scheme(demo_output: str) -> None:
    fleets = _sections(demo_output)["Fleets"]
    public = [line for line in fleets if line.startswith("public ")]
    private = [line for line in fleets if line.startswith("private ")]
    assert len(public) == 1, fleets
    assert len(private) == 1, fleets
    assert " internet-facing " in public[0], fleets
    assert " internal " in private[0], fleets
    assert re.search(r"\S+\.elb\.amazonaws\.com", public[0]), public
    assert re.search(r"\S+\.elb\.amazonaws\.com", private[0]), private


def _address(line: str) -> str:
    match = re.search(r"(\S+\.elb\.amazonaws\.com)", line)
    assert match, line
    return match.group(1)


def test_demo_shows_each_ingress_with_its_fleet_address(demo_output: str) -> None:
    sections = _sections(demo_output)
    fleets = {line.split()[0]: _address(line) for line in sections["Fleets"]}
    ingresses = {line.split()[0]: line for line in sections["Ingresses"]}
    assert set(ingresses) == {"shop/shop", "payroll/payroll", "payroll/hijack"}
    assert _address(ingresses["shop/shop"]) == fleets["public"]
    assert _address(ingresses["payroll/payroll"]) == fleets["private"]


def test_demo_records_land_in_their_view_only(demo_output: str) -> None:
    sections = _sections(demo_output)
    fleets = {line.split()[0]: _address(line) for line in sections["Fleets"]}
    public = sections["DNS, public view"]
    private = sections["DNS, private view"]
    for host in ("shop.example.test", "www.shop.example.test"):
        rows = [line for line in public if line.split()[0] == host]
        assert rows, public
        assert all(fleets["public"] in row for row in rows), public
    rows = [line for line in private if line.split()[0] == "payroll.internal.example.test"]
    assert rows, private
    assert all(fleets["private"] in row for row in rows), private
    assert any("external-dns/owner=demo-cluster" in line for line in public)
    assert any("external-dns/owner=demo-cluster" in line for line in private)
    # split horizon: the private name never reaches the public zone, and the refused one nowhere
    assert not any("payroll" in line.split()[0] for line in public), public
    assert not any("checkout" in line for line in public + private)


def test_demo_shows_the_hijack_refused_with_its_reason(demo_output: str) -> None:
    refusals = _sections(demo_output)["Refusals"]
    assert any(
        line.startswith("payroll/hijack")
        and "HostnameConflict" in line
        and "checkout.shop.example.test" in line
        for line in refusals
    ), refusals


def test_demo_sends_each_host_through_its_own_fleet_and_shows_the_curl(demo_output: str) -> None:
    lines = _sections(demo_output)["Requests through each fleet"]
    text = "\n".join(lines)
    for host, fleet, backend, other in (
        ("shop.example.test", "public", "shop", "private"),
        ("www.shop.example.test", "public", "shop", "private"),
        ("payroll.internal.example.test", "private", "payroll", "public"),
    ):
        at = lines.index(next(line for line in lines if line.startswith(f"{host} (")))
        assert f"= fleet {fleet})" in lines[at]
        assert re.fullmatch(
            rf"\$ curl -s --connect-to {re.escape(host)}:80:127\.0\.0\.1:\d+ http://{re.escape(host)}/",
            lines[at + 1],
        ), lines[at + 1]
        assert lines[at + 2] == f"HTTP 200 from {backend}", text
        assert lines[at + 3] == f"the same request to fleet {other}: HTTP 404 from the fleet itself"


def test_demo_keeps_reconciling_until_ctrl_c() -> None:
    """Without --exit-after-report: an Ingress applied with the printed kubeconfig shows up as a
    change, and Ctrl-C (SIGINT) stops everything cleanly."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "e2e.demo", "--timeout", "120"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []

    def wait_for(pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        pytest.fail(f"demo never printed /{pattern}/:\n{''.join(seen)}")

    try:
        kubeconfig = wait_for(r"export KUBECONFIG=(\S+)", 200).group(1)
        client = load_client(kubeconfig=kubeconfig)
        try:
            client.create(ingress("shop", "blog", "public", ("blog.shop.example.test",)))
        finally:
            client.close()
        wait_for(r"^\s+\+ blog\.shop\.example\.test\s+A ALIAS\s+\S+\.elb\.amazonaws\.com", 60)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, "".join(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
