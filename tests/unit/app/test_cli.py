"""The command line: exit codes, messages naming the bad key, JSON shape, table, dry run."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.app import cli
from reconciler.app.output import render_json, render_table
from reconciler.app.pipeline import RefreshableState
from reconciler.app.settings import Settings, load_settings
from reconciler.dns.ingress_source import Rejection
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.plan import Conflict, ConflictReason
from reconciler.dns.registry import TxtRegistry
from reconciler.dns.sync import DnsPassResult, ProviderResult
from reconciler.model.cluster import EventType, ObjectRef
from reconciler.model.endpoint import Changes, Endpoint, Update
from reconciler.model.errors import ReconcilerError, TransientProviderError
from reconciler.runtime.collector import COLLECTOR_THRESHOLDS

SAMPLES = Path(__file__).resolve().parents[3] / "samples"


def config(tmp_path: Path, **overrides: object) -> Path:
    data: dict[str, Any] = {
        "ownerId": "cluster-a",
        "ingressClassNames": ["public", "private"],
        "providers": [
            {
                "name": "bind",
                "type": "rfc2136",
                "host": "127.0.0.1",
                "zones": ["example.test", "private.example.test"],
            }
        ],
    }
    data.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Fleet:
    """In-memory providers built from the settings (zones as configured), kept for inspection."""

    def __init__(self, *, records: Sequence[Endpoint] = (), fail: bool = False) -> None:
        self.providers: list[InMemoryProvider] = []
        self.records = records
        self.fail = fail

    def __call__(self, settings: Settings) -> list[TxtRegistry]:
        targets = []
        for entry in settings.providers:
            zones = getattr(entry, "zones", ("example.test",))
            provider = InMemoryProvider(name=entry.name, zones=zones, records=self.records)
            if self.fail:
                provider.fail_next_apply(TransientProviderError("timeout talking to 127.0.0.1"))
            self.providers.append(provider)
            registry = TxtRegistry(provider=provider, owner_id=settings.owner_id)
            targets.append(registry)
        return targets


def invoke(
    args: Sequence[str], *, env: dict[str, str] | None = None, fleet: Fleet | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        list(args), env=env or {}, stdout=out, stderr=err, target_builder=fleet or Fleet()
    )
    return code, out.getvalue(), err.getvalue()


def test_version() -> None:
    code, out, _ = invoke(["version"])
    assert code == 0
    assert out.startswith("ingress-reconciler ")


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["plan", "--output", "yaml"], ["plan", "--bogus"]],
    ids=["no-command", "unknown-command", "bad-output", "unknown-option"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    code, out, err = invoke(args)
    assert code == 2
    assert out == ""
    assert "usage: ingress-reconciler" in err


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"ownerId": "default"}, "ownerId"),
        ({"policy": "everything"}, "policy"),
        ({"defaultTTL": -1}, "defaultTTL"),
        ({"managedRecordTypes": ["BOGUS"]}, "managedRecordTypes"),
        ({"fleets": [{"name": "public"}]}, "fleets[0].ingressClassName"),
        (
            {"providers": [{"name": "x", "type": "rfc2136", "zones": ["a.test"]}]},
            "providers[0].host",
        ),
        ({"providers": []}, "providers"),
    ],
)
def test_bad_configuration_exits_2_naming_the_key(
    tmp_path: Path, overrides: dict[str, object], key: str
) -> None:
    code, out, err = invoke(
        ["plan", "--config", str(config(tmp_path, **overrides)), "--manifests", str(SAMPLES)]
    )
    assert code == 2
    assert out == ""
    assert "configuration error" in err
    assert key in err


def test_bad_env_and_missing_files_exit_2(tmp_path: Path) -> None:
    path = str(config(tmp_path))
    code, _, err = invoke(
        ["plan", "--config", path, "--manifests", str(SAMPLES)],
        env={"INGRESS_RECONCILER_OWNER_ID": "a b"},
    )
    assert (code, "ownerId" in err) == (2, True)
    code, _, err = invoke(["plan", "--config", str(tmp_path / "nope.yaml")])
    assert (code, "--config" in err) == (2, True)
    code, _, err = invoke(["plan", "--config", path, "--manifests", str(tmp_path / "nope")])
    assert (code, "--manifests" in err) == (2, True)


def test_plan_json_shape_and_nothing_written(tmp_path: Path) -> None:
    fleet = Fleet()
    code, out, _ = invoke(
        [
            "plan",
            "--config",
            str(config(tmp_path)),
            "--manifests",
            str(SAMPLES / "manifests"),
            "--output",
            "json",
        ],
        fleet=fleet,
    )
    assert code == 0
    assert out.count("\n") == 1
    doc = json.loads(out)
    assert set(doc) >= {"create", "update", "delete", "conflicts"}
    assert doc["update"] == []
    assert doc["delete"] == []
    for record in doc["create"]:
        assert set(record) == {"name", "type", "targets", "ttl", "provider"}
        assert record["provider"] == "bind"
    names = {(r["name"], r["type"]) for r in doc["create"]}
    assert ("shop.example.test", "A") in names
    assert ("shop.example.test", "AAAA") in names
    assert ("api.example.test", "CNAME") in names
    assert ("dashboard.private.example.test", "A") in names
    assert not any(name.startswith("elsewhere") for name, _ in names)  # other class
    (rejected,) = doc["conflicts"]
    assert rejected["reason"] == "rejected"
    assert rejected["name"] == "old_shop.example.test"
    assert rejected["resource"] == "ingress/shop/legacy"
    assert fleet.providers[0].apply_calls == 0


def test_once_writes_then_converges_and_table_reports(tmp_path: Path) -> None:
    fleet = Fleet()
    args = ["once", "--config", str(config(tmp_path)), "--manifests", str(SAMPLES / "manifests")]
    code, out, _ = invoke(args, fleet=fleet)
    assert code == 0
    assert "8 to create" in out
    assert "(applied)" in out
    assert fleet.providers[0].get("www.example.test", "AAAA") is not None
    # A second run, with the state kept, changes nothing.
    provider = fleet.providers[0]
    again = Fleet(records=provider.records())
    code, out, _ = invoke(args, fleet=again)
    assert code == 0
    assert "No changes" in out


def test_once_dry_run_writes_nothing(tmp_path: Path) -> None:
    fleet = Fleet()
    code, out, _ = invoke(
        [
            "once",
            "--dry-run",
            "--config",
            str(config(tmp_path)),
            "--manifests",
            str(SAMPLES / "manifests"),
        ],
        fleet=fleet,
    )
    assert code == 0
    assert "(planned)" in out
    assert fleet.providers[0].apply_calls == 0


def test_options_before_the_command(tmp_path: Path) -> None:
    code, out, _ = invoke(
        ["--config", str(config(tmp_path)), "--manifests", str(SAMPLES), "--output", "json", "plan"]
    )
    assert code == 0
    assert json.loads(out)["create"]


def test_provider_failure_exits_1_and_is_reported(tmp_path: Path) -> None:
    code, out, _ = invoke(
        [
            "once",
            "--config",
            str(config(tmp_path)),
            "--manifests",
            str(SAMPLES),
            "--output",
            "json",
        ],
        fleet=Fleet(fail=True),
    )
    assert code == 1
    doc = json.loads(out)
    assert doc["errors"] == [
        {"provider": "bind", "error": "timeout talking to 127.0.0.1", "transient": True}
    ]


def test_unrouted_host_reported_as_no_zone(tmp_path: Path) -> None:
    manifest = tmp_path / "ing.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "x", "namespace": "web"},
                "spec": {"ingressClassName": "public", "rules": [{"host": "www.nowhere.test"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
            }
        )
    )
    code, out, _ = invoke(
        [
            "plan",
            "--config",
            str(config(tmp_path)),
            "--manifests",
            str(manifest),
            "--output",
            "json",
        ]
    )
    assert code == 0
    (conflict,) = json.loads(out)["conflicts"]
    assert conflict["reason"] == "no-zone"
    assert conflict["name"] == "www.nowhere.test"


def test_secret_file_missing_is_a_config_error(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        providers=[
            {
                "name": "bind",
                "type": "rfc2136",
                "host": "127.0.0.1",
                "zones": ["example.test"],
                "tsig": {"keyName": "k", "secretFile": str(tmp_path / "missing")},
            }
        ],
    )
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["plan", "--config", str(path), "--manifests", str(SAMPLES)], env={}, stdout=out, stderr=err
    )
    assert code == 2
    assert "providers[bind].tsig.secretFile: cannot read" in err.getvalue()


def test_table_shows_updates_deletes_conflicts_and_errors() -> None:
    old = Endpoint.of("app.example.test", "A", ["192.0.2.1"], ttl=300)
    new = Endpoint.of("app.example.test", "A", ["192.0.2.9"], ttl=60)
    gone = Endpoint.of("old.example.test", "CNAME", ["lb.example.net"], ttl=300)
    conflict = Conflict(
        name="taken.example.test",
        record_type="A",
        reason=ConflictReason.OWNED_BY_OTHER,
        detail="owner someone-else",
        resource="ingress/web/x",
    )
    result = DnsPassResult(
        providers=(
            ProviderResult(
                provider="bind",
                changes=Changes(update=(Update(old=old, new=new),), delete=(gone,)),
                conflicts=(conflict,),
                applied=True,
            ),
            ProviderResult(provider="aws", errors=("throttled",), transient=True),
        )
    )
    rejection = Rejection("ingress/web/y", "bad_host.example.test", "invalid host name")
    table = render_table(result, [rejection], dry_run=False)
    lines = table.splitlines()
    assert lines[0].split() == ["PROVIDER", "CHANGE", "NAME", "TYPE", "TTL", "TARGETS"]
    assert lines[1].split() == [
        "bind",
        "update",
        "app.example.test",
        "A",
        "300",
        "->",
        "60",
        "192.0.2.1",
        "->",
        "192.0.2.9",
    ]
    assert lines[2].split() == [
        "bind",
        "delete",
        "old.example.test",
        "CNAME",
        "300",
        "lb.example.net",
    ]
    assert "Refused (2):" in table
    assert "record owned by another owner" in table
    assert "bad_host.example.test" in table
    assert "aws: throttled (will retry)" in table
    assert table.rstrip().endswith(
        "0 to create, 1 to update, 1 to delete (applied, except by the providers with errors:"
        " they wrote nothing); 2 refused; 1 provider errors."
    )
    doc = json.loads(render_json(result, [rejection]))
    assert doc["update"] == [
        {
            "old": {
                "name": "app.example.test",
                "type": "A",
                "targets": ["192.0.2.1"],
                "ttl": 300,
                "provider": "bind",
            },
            "new": {
                "name": "app.example.test",
                "type": "A",
                "targets": ["192.0.2.9"],
                "ttl": 60,
                "provider": "bind",
            },
        }
    ]
    assert [c["reason"] for c in doc["conflicts"]] == ["rejected", "record owned by another owner"]


def test_unusable_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kubeconfig"
    code, out, err = invoke(
        ["plan", "--config", str(config(tmp_path)), "--kubeconfig", str(missing)]
    )
    assert code == 2
    assert out == ""
    assert "--kubeconfig" in err
    assert "--manifests" in err


FLEET_SAMPLE = SAMPLES / "fleets"


def test_plan_offline_applies_split_horizon_and_tenancy() -> None:
    fleet = Fleet()
    code, out, err = invoke(
        [
            "plan",
            "--config",
            str(FLEET_SAMPLE / "config.yaml"),
            "--manifests",
            str(FLEET_SAMPLE / "manifests"),
            "--output",
            "json",
        ],
        fleet=fleet,
    )
    assert code == 0, err
    doc = json.loads(out)
    created = {(r["provider"], r["name"], tuple(r["targets"])) for r in doc["create"]}
    assert created == {
        (
            "bind-public",
            "www.shop.example.test",
            ("public-fleet-0123456789.elb.us-east-1.amazonaws.com",),
        ),
        (
            "bind-private",
            "admin.shop.example.test",
            ("internal-private-fleet-0123456789.elb.us-east-1.amazonaws.com",),
        ),
    }
    conflicts = {(c["reason"], c["resource"], c["name"]) for c in doc["conflicts"]}
    assert conflicts == {
        ("FleetNotAllowed", "ingress/ops/grafana", None),
        ("HostnameConflict", "ingress/ops/takeover", "www.shop.example.test"),
    }
    for conflict in doc["conflicts"]:
        assert conflict["message"]
        assert conflict["type"] is None
    assert all(p.apply_calls == 0 for p in fleet.providers)  # plan writes nothing


def test_route53_providers_share_one_token_bucket_without_botocore_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = Settings(
        owner_id="cluster-a",
        providers=(
            {"name": "a", "type": "route53", "endpointUrl": "http://127.0.0.1:9"},  # type: ignore[arg-type]
            {"name": "b", "type": "route53", "zoneType": "private"},
        ),
    )
    targets = cli.build_targets(settings)
    first, second = (t.provider for t in targets)
    assert first._limiter is second._limiter  # type: ignore[attr-defined]
    for provider in (first, second):
        client = provider._client  # type: ignore[attr-defined]
        assert client.meta.config.retries["total_max_attempts"] == 1
    assert cli.build_targets(settings)[0].provider._limiter is not first._limiter  # type: ignore[attr-defined]


def test_run_without_a_lease_namespace_exits_2_naming_the_key(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    code, _, err = invoke(
        ["run", "--config", str(config(tmp_path)), "--kubeconfig", str(kubeconfig)]
    )
    assert code == 2
    assert "leaderElection.leaseNamespace" in err


def test_fleet_sample_loads() -> None:
    settings = load_settings(FLEET_SAMPLE / "config.yaml", {})
    assert [f.name for f in settings.fleets] == ["public", "private"]
    assert [t.name for t in settings.tenants] == ["shop", "ops"]


class Recorder:
    """Stands in for every writer the guard wraps; records what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return {} if name not in ("ensure", "delete", "owned", "list_owned") else ()

        return call


def test_write_guard_checks_leadership_right_before_every_write() -> None:
    leading = [True]
    guard = cli.WriteGuard(lambda: leading[0])
    inner = Recorder()
    writer = guard.writer(inner)  # type: ignore[arg-type]
    fleet_kube = guard.fleet_kube(inner)  # type: ignore[arg-type]
    lb_kube = guard.lb_kube(inner)  # type: ignore[arg-type]
    backend = guard.backend(inner)  # type: ignore[arg-type]
    events = guard.events(inner)
    ref = ObjectRef("v1", "Service", "s", "n")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    spec: Any = object()

    def writes() -> list[Any]:
        return [
            lambda: writer.patch_ingress_status("n", "i", []),
            lambda: writer.patch_service_status("n", "s", []),
            lambda: writer.apply({"kind": "X"}),
            lambda: fleet_kube.apply({"kind": "X"}),
            lambda: fleet_kube.delete(ref),
            lambda: lb_kube.patch_service_status("n", "s", []),
            lambda: lb_kube.add_finalizer("n", "s", "f"),
            lambda: lb_kube.remove_finalizer("n", "s", "f"),
            lambda: backend.ensure(spec),
            lambda: backend.delete(spec),
        ]

    for write in writes():
        write()
    events.record(ref, type=EventType.WARNING, reason="R", note="n", action="a", now=now)
    assert len(inner.calls) == 11
    leading[0] = False
    inner.calls.clear()
    for write in writes():
        with pytest.raises(ReconcilerError, match="not the leader"):
            write()
    events.record(ref, type=EventType.WARNING, reason="R", note="n", action="a", now=now)
    assert inner.calls == []
    # reads stay allowed
    fleet_kube.list_owned("o")
    backend.owned("c", "o")
    assert inner.calls == ["list_owned", "owned"]


class ListingClient:
    """Stands in for KubeClient.list: each listing returns one more Service than the last."""

    def __init__(self) -> None:
        self.lists = 0

    def request(self, method: str, path: str) -> dict[str, Any]:
        """Discovery: the Gateway API group serves Gateways and HTTPRoutes at v1."""
        assert (method, path) == ("GET", "/apis/gateway.networking.k8s.io/v1")
        names = ("gateways", "gateways/status", "httproutes", "httproutes/status")
        return {"resources": [{"name": n} for n in names]}

    def list(self, kind: Any, namespace: str | None = None) -> tuple[list[dict[str, Any]], str]:
        self.lists += 1
        if kind.kind == "HTTPRoute":
            return [{"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "x"}}], "1"
        if kind.kind != "Service":
            return [], "1"
        items = [
            {"kind": "Service", "metadata": {"name": f"s{n}", "namespace": "x"}}
            for n in range(self.lists // 6 + 1)
        ]
        return items, "1"


def test_listed_state_lists_again_when_refreshed_manifests_do_not() -> None:
    client = ListingClient()
    listed = cli.ListedState.from_client(client)  # type: ignore[arg-type]
    assert isinstance(listed, RefreshableState)
    assert client.lists == 6  # four kinds, and the two Gateway API kinds served
    assert [s["metadata"]["name"] for s in listed.services()] == ["s0"]
    assert [r["metadata"]["name"] for r in listed.routes()] == ["r"]
    assert listed.gateways() == ()
    again = listed.refreshed()
    assert again is not listed
    assert client.lists == 12
    assert [s["metadata"]["name"] for s in again.services()] == ["s0", "s1"]
    assert [s["metadata"]["name"] for s in listed.services()] == ["s0"]  # the old read is kept
    offline = cli.ListedState.from_manifests(str(SAMPLES))
    assert offline.refreshed() is offline


@pytest.mark.parametrize("command", ["once", "plan"])
def test_a_command_logs_one_info_summary_detail_at_debug(tmp_path: Path, command: str) -> None:
    args = ["--config", str(config(tmp_path)), "--manifests", str(SAMPLES / "manifests")]
    code, _, err = invoke([command, *args, "--log-level", "debug"])
    assert code == 0
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, err
    info = [line["msg"] for line in lines if line["level"] == "info"]
    assert info == ["pass finished"], info
    (summary,) = [line for line in lines if line["msg"] == "pass finished"]
    assert summary["reason"] == command
    assert summary["dry_run"] is (command == "plan")
    assert summary["incremental"] is False  # once and plan read and plan everything
    assert summary["converged"] is True
    assert sum(summary["changes"].values()) == (8 if command == "once" else 0)
    assert summary["refusals"] == {"InvalidHost": 1}  # the sample's bad host; its detail warns
    assert [line["msg"] for line in lines if line["level"] == "warning"] == [
        "ingress data rejected"
    ]
    assert any(line["msg"] == "dns pass done" for line in lines)  # the detail, at DEBUG


def test_plan_reads_routes_and_gateways_from_manifests(tmp_path: Path) -> None:
    manifests = tmp_path / "routes.yaml"
    manifests.write_text(
        """
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: infra}
spec:
  gatewayClassName: public
  listeners:
  - {name: http, protocol: HTTP, port: 80, hostname: "*.example.test",
     allowedRoutes: {namespaces: {from: All}}}
status:
  addresses: [{type: IPAddress, value: 192.0.2.44}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: web}
spec:
  parentRefs: [{name: edge, namespace: infra}]
  hostnames: [shop.example.test, elsewhere.test]
status:
  parents:
  - parentRef: {name: edge, namespace: infra}
    conditions: [{type: Accepted, status: "True"}]
"""
    )
    args = ["--config", str(config(tmp_path, gatewayClassNames=["public"]))]
    code, out, err = invoke(["plan", *args, "--manifests", str(manifests), "--output", "json"])
    assert code == 0, err
    plan = json.loads(out)
    assert [(r["name"], r["type"], r["targets"]) for r in plan["create"]] == [
        ("shop.example.test", "A", ["192.0.2.44"])
    ]
    off = ["--config", str(config(tmp_path, gatewayRoutes=False))]
    code, out, _ = invoke(["plan", *off, "--manifests", str(manifests), "--output", "json"])
    assert code == 0
    assert json.loads(out)["create"] == []


def test_commands_that_run_passes_tune_the_collector(tmp_path: Path) -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # CPython's default
        assert invoke(["version"])[0] == 0
        assert gc.get_threshold() == (700, 10, 10)
        code, _, _ = invoke(
            ["plan", "--config", str(config(tmp_path)), "--manifests", str(SAMPLES)]
        )
        assert code == 0
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
    finally:
        gc.set_threshold(*before)
