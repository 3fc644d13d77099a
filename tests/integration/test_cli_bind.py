"""``plan`` and ``once`` end to end against a real, TSIG-guarded BIND9 with the sample manifests."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.servers.bind import BindServer, ZoneRecord
from reconciler.app import cli
from reconciler.kube.client import KubeClient
from reconciler.kube.resources import INGRESS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
OWNER_TXT = (
    '"heritage=external-dns,external-dns/owner=sample-cluster,'
    'external-dns/resource=ingress/{resource}"'
)


def env_for(bind: BindServer, **extra: str) -> dict[str, str]:
    return {
        "INGRESS_RECONCILER_PROVIDERS__0__PORT": str(bind.port),
        "INGRESS_RECONCILER_PROVIDERS__0__TSIG__SECRET_FILE": str(bind.secret_file),
        **extra,
    }


def invoke(
    bind: BindServer, *args: str, manifests: Path = SAMPLES / "manifests", **env: str
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(SAMPLES / "config.yaml"), "--manifests", str(manifests), *args]
    code = cli.main(argv, env=env_for(bind, **env), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def records(bind: BindServer, zone: str = "example.test") -> dict[tuple[str, str], ZoneRecord]:
    return {(r.name, r.rdtype): r for r in bind.transfer(zone) if r.rdtype not in ("SOA", "NS")}


def ingress(name: str, host: str, *, ip: str = "", hostname: str = "") -> dict[str, Any]:
    entry = {"ip": ip} if ip else {"hostname": hostname}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"ingressClassName": "public", "rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [entry]}},
    }


def write(directory: Path, *objects: dict[str, Any]) -> Path:
    directory.mkdir(exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    (directory / "ingresses.yaml").write_text(yaml.safe_dump_all(objects))
    return directory


def test_plan_writes_nothing_then_once_converges(bind: BindServer) -> None:
    before = records(bind)
    code, out, _ = invoke(bind, "plan", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    planned = {(r["name"], r["type"]) for r in doc["create"]}
    assert ("www.example.test", "AAAA") in planned
    assert ("dashboard.private.example.test", "A") in planned
    assert [c["name"] for c in doc["conflicts"]] == ["old_shop.example.test"]
    assert records(bind) == before

    code, out, _ = invoke(bind, "once")
    assert code == 0
    assert "(applied)" in out
    zone = records(bind)
    assert zone[("shop.example.test", "A")].values == ("192.0.2.10",)
    assert zone[("shop.example.test", "AAAA")].values == ("2001:db8::10",)
    assert zone[("api.example.test", "CNAME")].ttl == 60
    assert zone[("a-shop.example.test", "TXT")].values == (OWNER_TXT.format(resource="shop/shop"),)
    assert zone[("cname-api.example.test", "TXT")].values == (
        OWNER_TXT.format(resource="shop/api"),
    )
    assert ("elsewhere.example.test", "A") not in zone
    private = records(bind, "private.example.test")
    assert private[("dashboard.private.example.test", "A")].values == ("10.20.0.15",)

    # Idempotent: the same input again plans and writes nothing.
    serial = bind.serial("example.test")
    code, out, _ = invoke(bind, "once", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert (doc["create"], doc["update"], doc["delete"]) == ([], [], [])
    assert bind.serial("example.test") == serial


def test_update_type_change_and_delete(bind: BindServer, tmp_path: Path) -> None:
    manifests = tmp_path / "m"
    write(
        manifests,
        ingress("app", "app.example.test", ip="192.0.2.1"),
        ingress("old", "old.example.test", ip="192.0.2.2"),
    )
    assert invoke(bind, "once", manifests=manifests)[0] == 0

    # The address changes, and the other host's load balancer becomes a host name (A → CNAME).
    write(
        manifests,
        ingress("app", "app.example.test", ip="192.0.2.9"),
        ingress("old", "old.example.test", hostname="lb.example.net"),
    )
    code, out, _ = invoke(bind, "once", "--output", "json", manifests=manifests)
    assert code == 0
    doc = json.loads(out)
    assert [(u["old"]["targets"], u["new"]["targets"]) for u in doc["update"]] == [
        (["192.0.2.1"], ["192.0.2.9"])
    ]
    zone = records(bind)
    assert zone[("app.example.test", "A")].values == ("192.0.2.9",)
    assert zone[("old.example.test", "CNAME")].values == ("lb.example.net.",)
    assert ("old.example.test", "A") not in zone
    assert ("a-old.example.test", "TXT") not in zone

    # The Ingress goes away: its records and ownership records go too.
    write(manifests, ingress("app", "app.example.test", ip="192.0.2.9"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    zone = records(bind)
    assert ("old.example.test", "CNAME") not in zone
    assert ("cname-old.example.test", "TXT") not in zone
    assert ("app.example.test", "A") in zone


def test_foreign_and_other_owner_records_untouched(bind: BindServer, tmp_path: Path) -> None:
    foreign = ZoneRecord("shop.example.test", "A", 300, ("203.0.113.5",))
    other = ZoneRecord("www.example.test", "A", 300, ("203.0.113.6",))
    other_txt = ZoneRecord(
        "a-www.example.test",
        "TXT",
        300,
        (
            '"heritage=external-dns,external-dns/owner=someone-else,external-dns/resource=ingress/x/y"',
        ),
    )
    bind.update("example.test", add=[foreign, other, other_txt])
    code, out, _ = invoke(bind, "once", "--output", "json")
    assert code == 0
    refused = {(c["name"], c["type"]) for c in json.loads(out)["conflicts"]}
    assert ("shop.example.test", "A") in refused
    assert ("www.example.test", "A") in refused
    zone = records(bind)
    assert zone[("shop.example.test", "A")] == foreign
    assert zone[("www.example.test", "A")] == other
    assert zone[("a-www.example.test", "TXT")] == other_txt
    # The rest of the sample is still written.
    assert ("legacy.example.test", "A") in zone


def test_wrong_key_is_a_clear_runtime_error(bind: BindServer, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.secret"
    wrong.write_text(bind.other_secret)
    code, out, err = invoke(
        bind,
        "once",
        "--output",
        "json",
        INGRESS_RECONCILER_PROVIDERS__0__TSIG__SECRET_FILE=str(wrong),
    )
    assert code == 1
    (error,) = json.loads(out)["errors"]
    assert error["provider"] == "bind"
    assert "ddns-key" in error["error"]
    assert bind.other_secret not in out + err
    assert ("shop.example.test", "A") not in records(bind)


def test_real_command_exit_codes(bind: BindServer) -> None:
    script = shutil.which("ingress-reconciler", path=str(Path(sys.executable).parent))
    command = [script] if script else [sys.executable, "-m", "reconciler.app.cli"]
    env = {**env_for(bind), "PATH": "/usr/bin:/bin"}
    base = ["--config", str(SAMPLES / "config.yaml"), "--manifests", str(SAMPLES / "manifests")]
    done = subprocess.run(
        [*command, *base, "plan"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "to create" in done.stdout
    bad = subprocess.run(
        [*command, *base, "plan"],
        env={**env, "INGRESS_RECONCILER_OWNER_ID": "default"},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert bad.returncode == 2
    assert "ownerId" in bad.stderr


def test_run_converges_and_stops_on_sigterm(bind: BindServer, tmp_path: Path) -> None:
    env = {
        **env_for(bind),
        "INGRESS_RECONCILER_INTERVAL": "0.5",
        "INGRESS_RECONCILER_HEALTH__HOST": "127.0.0.1",
        "INGRESS_RECONCILER_HEALTH__PORT": "0",
        "PATH": "/usr/bin:/bin",
    }
    argv = ["--config", str(SAMPLES / "config.yaml"), "--manifests", str(SAMPLES / "manifests")]
    log = tmp_path / "run.log"  # a file, not a pipe: nobody reads a pipe while run logs
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler.app.cli", *argv, "run"],
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        # The two zones are written by two UPDATE messages: wait for both, then check the data.
        while not (
            bind.query("shop.example.test", "A")
            and bind.query("dashboard.private.example.test", "A")
        ):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "run did not write the sample records in 30 s"
            time.sleep(0.05)
        assert bind.query("dashboard.private.example.test", "A") == ("10.20.0.15",)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()


def test_plan_and_once_read_ingresses_from_a_real_apiserver(
    bind: BindServer, kubeconfig: Path, api_client: KubeClient, namespace: str
) -> None:
    live = ingress("live", "live.example.test", ip="192.0.2.77")
    live["metadata"]["namespace"] = namespace
    status = live.pop("status")
    api_client.create(live)
    api_client.patch(INGRESS, "live", {"status": status}, namespace=namespace, subresource="status")
    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(SAMPLES / "config.yaml"), "--kubeconfig", str(kubeconfig)]
    code = cli.main([*argv, "once", "--output", "json"], env=env_for(bind), stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    created = {
        (r["name"], r["type"], tuple(r["targets"])) for r in json.loads(out.getvalue())["create"]
    }
    assert ("live.example.test", "A", ("192.0.2.77",)) in created
    assert bind.query("live.example.test", "A") == ("192.0.2.77",)
    txt = records(bind)[("a-live.example.test", "TXT")].values
    assert txt == (OWNER_TXT.format(resource=f"{namespace}/live"),)


def test_takeover_of_an_external_dns_zone_changes_nothing(bind: BindServer, tmp_path: Path) -> None:
    # What external-dns v0.22 (same owner id, TTL 300) leaves in the zone for these Ingresses.
    seeded = [
        ZoneRecord("app.example.test", "A", 300, ("192.0.2.1",)),
        ZoneRecord("a-app.example.test", "TXT", 300, (OWNER_TXT.format(resource="web/app"),)),
        ZoneRecord("api.example.test", "CNAME", 300, ("lb.example.net.",)),
        ZoneRecord("cname-api.example.test", "TXT", 300, (OWNER_TXT.format(resource="web/api"),)),
    ]
    bind.update("example.test", add=seeded)
    manifests = write(
        tmp_path / "m",
        ingress("app", "app.example.test", ip="192.0.2.1"),
        ingress("api", "api.example.test", hostname="lb.example.net"),
    )
    serial = bind.serial("example.test")
    code, out, _ = invoke(bind, "once", "--output", "json", manifests=manifests)
    assert code == 0
    doc = json.loads(out)
    assert (doc["create"], doc["update"], doc["delete"], doc["conflicts"]) == ([], [], [], [])
    assert bind.serial("example.test") == serial


def test_takeover_keeps_the_ttl_0_that_external_dns_rfc2136_writes(
    bind: BindServer, tmp_path: Path
) -> None:
    # external-dns's RFC2136 provider writes TTL 0 where no ttl annotation asks for one, and on
    # its TXTs: a takeover rewrites none of it, and defaultTTL (300 here) is for creates only.
    seeded = [
        ZoneRecord("app.example.test", "A", 0, ("192.0.2.1",)),
        ZoneRecord("a-app.example.test", "TXT", 0, (OWNER_TXT.format(resource="web/app"),)),
        ZoneRecord("api.example.test", "CNAME", 0, ("lb.example.net.",)),
        ZoneRecord("cname-api.example.test", "TXT", 0, (OWNER_TXT.format(resource="web/api"),)),
    ]
    bind.update("example.test", add=seeded)
    manifests = write(
        tmp_path / "m",
        ingress("app", "app.example.test", ip="192.0.2.1"),
        ingress("api", "api.example.test", hostname="lb.example.net"),
        ingress("new", "new.example.test", ip="192.0.2.3"),
    )
    code, out, _ = invoke(bind, "once", "--output", "json", manifests=manifests)
    assert code == 0
    doc = json.loads(out)
    assert [(r["name"], r["type"]) for r in doc["create"]] == [("new.example.test", "A")]
    assert (doc["update"], doc["delete"], doc["conflicts"]) == ([], [], [])
    zone = records(bind)
    assert all(zone[(r.name, r.rdtype)] == r for r in seeded)
    assert zone[("new.example.test", "A")].ttl == 300
    # an address change keeps the record's TTL; an annotation is what changes a TTL
    changed = ingress("app", "app.example.test", ip="192.0.2.2")
    annotated = ingress("api", "api.example.test", hostname="lb.example.net")
    annotated["metadata"]["annotations"] = {"external-dns.alpha.kubernetes.io/ttl": "60"}
    write(manifests, changed, annotated, ingress("new", "new.example.test", ip="192.0.2.3"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    zone = records(bind)
    assert zone[("app.example.test", "A")] == ZoneRecord("app.example.test", "A", 0, ("192.0.2.2",))
    assert zone[("api.example.test", "CNAME")].ttl == 60


def test_annotation_prefixes_match_an_external_dns_deployment(
    bind: BindServer, tmp_path: Path
) -> None:
    alpha = ingress("alpha", "alpha.example.test", ip="192.0.2.1")
    alpha["metadata"]["annotations"] = {
        "external-dns.alpha.kubernetes.io/hostname": "extra-alpha.example.test"
    }
    current = ingress("current", "current.example.test", ip="192.0.2.1")
    current["metadata"]["annotations"] = {
        "external-dns.kubernetes.io/hostname": "extra-current.example.test"
    }
    manifests = write(tmp_path / "m", alpha, current)
    code, out, _ = invoke(
        bind,
        "plan",
        "--output",
        "json",
        manifests=manifests,
        INGRESS_RECONCILER_ANNOTATION_PREFIXES='["external-dns.kubernetes.io/"]',
    )
    assert code == 0, out
    names = {r["name"] for r in json.loads(out)["create"]}
    assert "extra-current.example.test" in names
    assert "extra-alpha.example.test" not in names  # external-dns would not read it either
    code, out, _ = invoke(bind, "plan", "--output", "json", manifests=manifests)
    assert {"extra-current.example.test", "extra-alpha.example.test"} <= {
        r["name"] for r in json.loads(out)["create"]
    }


def test_plan_against_a_saved_snapshot_equals_the_live_plan(
    bind: BindServer, tmp_path: Path
) -> None:
    manifests = write(tmp_path / "m", ingress("app", "app.example.test", ip="192.0.2.1"))
    assert invoke(bind, "once", manifests=manifests)[0] == 0
    bind.update(
        "example.test", add=[ZoneRecord("foreign.example.test", "A", 300, ("198.51.100.1",))]
    )
    write(
        manifests,
        ingress("app", "app.example.test", ip="192.0.2.2"),
        ingress("new", "new.example.test", ip="192.0.2.3"),
        ingress("foreign", "foreign.example.test", ip="192.0.2.4"),
    )
    snapshot = tmp_path / "zones.json"
    code, live, err = invoke(
        bind, "plan", "--output", "json", "--save-zones", str(snapshot), manifests=manifests
    )
    assert code == 0, err
    # offline: no DNS server at all (the provider points at a closed port)
    code, offline, err = invoke(
        bind,
        "plan",
        "--output",
        "json",
        "--zones",
        str(snapshot),
        manifests=manifests,
        INGRESS_RECONCILER_PROVIDERS__0__PORT="1",
    )
    assert code == 0, err
    assert json.loads(offline) == json.loads(live)
    doc = json.loads(live)
    assert [r["name"] for r in doc["create"]] == ["new.example.test"]
    assert [u["new"]["targets"] for u in doc["update"]] == [["192.0.2.2"]]
    assert [c["name"] for c in doc["conflicts"]] == ["foreign.example.test"]


def test_plan_against_empty_zones_and_zone_files(bind: BindServer, tmp_path: Path) -> None:
    manifests = write(
        tmp_path / "m",
        ingress("app", "app.example.test", ip="192.0.2.1"),
        ingress("dash", "dash.private.example.test", ip="10.0.0.1"),
    )
    closed = {
        "INGRESS_RECONCILER_PROVIDERS__0__PORT": "1",
        "INGRESS_RECONCILER_PROVIDERS__0__TIMEOUT": "0.5",
    }
    code, out, err = invoke(bind, "plan", "--zones", "empty", manifests=manifests, **closed)
    assert code == 0, err
    assert out.startswith("Planned against empty zones, not the DNS servers.")
    assert "app.example.test" in out
    assert "dash.private.example.test" in out

    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.test.zone").write_text(
        "$TTL 300\n"
        "@ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300\n"
        "@ IN NS ns.example.test.\n"
        "app IN A 192.0.2.9\n"
        'a-app IN TXT "heritage=external-dns,external-dns/owner=sample-cluster,'
        'external-dns/resource=ingress/web/app"\n'
    )
    code, out, err = invoke(
        bind, "plan", "--output", "json", "--zones", str(zones), manifests=manifests, **closed
    )
    assert code == 0, err
    doc = json.loads(out)
    assert [(u["old"]["targets"], u["new"]["targets"]) for u in doc["update"]] == [
        (["192.0.2.9"], ["192.0.2.1"])
    ]
    assert {r["name"] for r in doc["create"]} == {"dash.private.example.test"}

    code, out, err = invoke(bind, "plan", manifests=manifests, **closed)
    assert code == 1
    assert out.startswith("Incomplete: 1 provider(s) could not be read")
    assert "in sync" not in out
