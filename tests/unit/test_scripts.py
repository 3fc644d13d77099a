"""The repository's scripts and the dev loop's files, checked without running a cluster:

* shellcheck on every shell script in the repository (warnings fail everywhere; the dev-loop
  scripts under e2e/kind/ are held to every severity);
* the Tiltfile evaluated by go.starlark.net under recording stubs (e2e/tiltcheck.py), with and
  without a LocalStack token, and the checker shown to catch a broken Tiltfile;
* the kind dev values equal the local demo's sample and render through the real chart;
* the seeding command prints exactly the sample's namespaces and Ingresses.

shellcheck, starlark and helm are required binaries: a missing one fails the test, naming the
step that installs it.
"""

from __future__ import annotations

import io
import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e import demo, sample, seed, tiltcheck
from e2e.ground import GroundError
from e2e.servers.apiserver import BinariesMissingError

ROOT = Path(__file__).resolve().parents[2]
HELM = Path.home() / ".cache" / "ingress-reconciler" / "bin" / "helm"
_SKIP_DIRS = {".git", ".venv", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _shell_scripts() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*")):
        if not path.is_file() or _SKIP_DIRS & set(path.relative_to(ROOT).parts):
            continue
        if path.suffix == ".sh":
            found.append(path)
            continue
        try:
            with path.open("rb") as handle:
                first = handle.readline(200)
        except OSError:
            continue
        if first.startswith(b"#!") and any(s in first for s in (b"bash", b"/sh", b" sh")):
            found.append(path)
    return found


def _shellcheck() -> str:
    binary = shutil.which("shellcheck")
    if binary is None:
        pytest.fail("shellcheck not found: apt-get install shellcheck", pytrace=False)
    return binary


def test_every_shell_script_is_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _shell_scripts()}
    expected = {
        "scripts/install-deps",
        "scripts/lint",
        "scripts/check-tiltfile",
        "scripts/install.d/30-starlark",
        "scripts/install.d/50-traefik",
        "e2e/kind/up.sh",
        "e2e/kind/down.sh",
        "e2e/kind/port-forward.sh",
        "e2e/kind/secrets.sh",
        "e2e/kind/e2e.sh",
        "e2e/kind/dev-entrypoint.sh",
        "e2e/kind/restart.sh",
    }
    assert expected <= names, expected - names


def test_shell_scripts_pass_shellcheck() -> None:
    result = subprocess.run(
        [_shellcheck(), "--severity=warning", "--external-sources", *map(str, _shell_scripts())],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dev_loop_scripts_pass_shellcheck_at_every_severity() -> None:
    scripts = [p for p in _shell_scripts() if p.is_relative_to(ROOT / "e2e")]
    scripts += [
        ROOT / "scripts" / "check-tiltfile",
        ROOT / "scripts" / "install.d" / "30-starlark",
        ROOT / "scripts" / "install.d" / "50-traefik",
    ]
    result = subprocess.run(
        [_shellcheck(), "--severity=style", "--external-sources", *map(str, scripts)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_catches_a_broken_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n[ $x == 1 ]\n")
    result = subprocess.run(
        [_shellcheck(), "--severity=warning", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "SC2115" in result.stdout or "SC2086" in result.stdout


# --- Tiltfile ----------------------------------------------------------------------------------


def _evaluate(env: dict[str, str], tiltfile: Path | None = None) -> list[tiltcheck.Call]:
    if not tiltcheck.STARLARK.is_file():
        pytest.fail(
            f"{tiltcheck.STARLARK} missing: run scripts/install.d/30-starlark", pytrace=False
        )
    return tiltcheck.evaluate(tiltfile or ROOT / "Tiltfile", env=env)


@pytest.mark.parametrize(
    ("env", "emulator"),
    [({}, "moto.yaml"), ({"LOCALSTACK_AUTH_TOKEN": "t"}, "localstack.yaml")],
    ids=["moto", "localstack"],
)
def test_tiltfile_evaluates_and_holds_the_dev_loop(env: dict[str, str], emulator: str) -> None:
    calls = _evaluate(env)
    lines = tiltcheck.check(calls)
    assert len(lines) >= 5
    applied = [str(c.arg(0, "yaml")) for c in calls if c.fn == "k8s_yaml"]
    assert f"e2e/kind/manifests/{emulator}" in applied
    assert not any(
        a.endswith(("moto.yaml", "localstack.yaml")) for a in applied if emulator not in a
    )
    image = next(c for c in calls if c.fn == "docker_build")
    assert image.kwargs["dockerfile"] == "e2e/kind/Dockerfile.dev"


def test_tiltcheck_rejects_a_tiltfile_that_breaks_the_rules(tmp_path: Path) -> None:
    source = (ROOT / "Tiltfile").read_text()
    broken = {
        "no context pin": source.replace("allow_k8s_contexts(KIND_CONTEXT)", ""),
        "deps on every change": source.replace(", trigger=['pyproject.toml']", ""),
        "no restart": source.replace("        run('dev-restart'),\n", ""),
        "not the real chart": source.replace("'charts/ingress-reconciler',", "'charts/other',"),
        "a syntax error": source + "\ndef (:\n",
    }
    for what, text in broken.items():
        assert text != source, what
        path = tmp_path / "Tiltfile"
        path.write_text(text)
        with pytest.raises(tiltcheck.TiltfileError):
            tiltcheck.check(_evaluate({}, path))


def test_dev_image_copies_only_what_docker_build_sends() -> None:
    calls = _evaluate({})
    only = set(next(c for c in calls if c.fn == "docker_build").kwargs["only"])
    dockerfile = (ROOT / "e2e" / "kind" / "Dockerfile.dev").read_text().splitlines()
    copied = [line.split()[1:-1] for line in dockerfile if line.startswith("COPY ")]
    for sources in copied:
        for src in sources:
            assert src in only, f"Dockerfile.dev copies {src}, which docker_build does not send"


# --- dev values and the sample -----------------------------------------------------------------


def _dev_values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "e2e" / "kind" / "values-dev.yaml").read_text())
    return data


def test_dev_values_are_the_demo_sample() -> None:
    values = _dev_values()
    expected = sample.config(
        aws_endpoint="http://aws.e2e.svc.cluster.local:5000",
        bind_port=53,
        tsig_secret_file="unused",
        health_port=8080,
    )
    for key in ("ownerId", "policy", "defaultTTL", "clusterName", "fleets", "tenants"):
        assert values[key] == expected[key], key
    assert values["domainFilter"]["include"] == expected["domainFilter"]
    assert values["aws"]["endpointUrl"] == expected["aws"]["endpointUrl"]
    providers = {p["name"]: p for p in values["providers"]}
    for provider in expected["providers"]:
        mine = providers[provider["name"]]
        for key in ("type", "view", "zones", "zoneType", "port"):
            assert mine.get(key) == provider.get(key), (provider["name"], key)


def test_dev_values_render_through_the_real_chart() -> None:
    if not HELM.is_file():
        pytest.fail(f"{HELM} missing: run scripts/install.d/20-helm", pytrace=False)
    result = subprocess.run(
        [
            str(HELM),
            "template",
            "ingress-reconciler",
            str(ROOT / "charts" / "ingress-reconciler"),
            "--namespace",
            "ingress-reconciler",
            "-f",
            str(ROOT / "e2e" / "kind" / "values-dev.yaml"),
            "--set",
            "image.repository=ingress-reconciler-dev,securityContext.readOnlyRootFilesystem=false",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    config_maps = [
        yaml.safe_load(d["data"]["config.yaml"])
        for d in docs
        if d["kind"] == "ConfigMap" and "config.yaml" in d.get("data", {})
    ]
    assert len(config_maps) == 1
    config = config_maps[0]
    assert [f["name"] for f in config["fleets"]] == ["public", "private"]
    assert {f["loadBalancer"]["mode"] for f in config["fleets"]} == {"elbv2"}
    bind = next(p for p in config["providers"] if p["type"] == "rfc2136")
    assert "secret" not in bind["tsig"], "the TSIG secret must not be in the ConfigMap"
    assert bind["tsig"]["secretFile"].startswith("/etc/ingress-reconciler/secrets/")
    images = {
        c["image"]
        for d in docs
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert any(i.startswith("ingress-reconciler-dev:") for i in images), images


def test_seed_prints_the_sample_namespaces_and_ingresses() -> None:
    out = io.StringIO()
    assert seed.main(["manifests"], out=out) == 0
    docs = list(yaml.safe_load_all(out.getvalue()))
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"] == list(
        sample.NAMESPACES
    )
    assert [d for d in docs if d["kind"] == "Ingress"] == list(sample.ingresses())


def test_kind_manifests_agree_with_the_dev_values() -> None:
    manifests = ROOT / "e2e" / "kind" / "manifests"
    docs = {
        (d["kind"], d["metadata"]["name"], path.name): d
        for path in sorted(manifests.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d
    }
    values = _dev_values()
    bind = docs[("Service", "bind", "bind.yaml")]
    provider = next(p for p in values["providers"] if p["type"] == "rfc2136")
    assert bind["spec"]["clusterIP"] == provider["host"]
    kind_config = yaml.safe_load((ROOT / "e2e" / "kind" / "kind-config.yaml").read_text())
    subnet = ipaddress.ip_network(kind_config["networking"]["serviceSubnet"])
    assert ipaddress.ip_address(provider["host"]) in subnet
    assert f"kind-{kind_config['name']}" == tiltcheck.KIND_CONTEXT
    for emulator in ("moto.yaml", "localstack.yaml"):
        service = docs[("Service", "aws", emulator)]
        port = service["spec"]["ports"][0]["port"]
        assert values["aws"]["endpointUrl"] == f"http://aws.e2e.svc.cluster.local:{port}"
    named_conf = docs[("ConfigMap", "bind", "bind.yaml")]["data"]["named.conf"]
    assert f'zone "{sample.BIND_ZONE}"' in named_conf
    assert 'allow-update { key "ddns-key"; }' in named_conf


# --- the demo's first-run build --------------------------------------------------------------


def test_demo_shows_progress_while_the_binaries_build(tmp_path: Path) -> None:
    marker = tmp_path / "built"
    script = tmp_path / "build"
    script.write_text(
        f"#!/bin/sh\necho 'building etcd'\nsleep 0.5\necho 'building kube-apiserver'\n"
        f"touch {marker}\n"
    )
    script.chmod(0o755)

    def find() -> None:
        if not marker.exists():
            raise BinariesMissingError("kube-apiserver not found")

    said: list[str] = []
    demo.ensure_binaries(said.append, build=[str(script)], find=find, heartbeat=0.1)
    text = "\n".join(said)
    assert "not built yet" in said[0]
    assert "  build: building etcd" in said
    assert "  build: building kube-apiserver" in said
    assert "still building" in text  # the heartbeat ran while the build was quiet
    assert said[-1].startswith("built in ")


def test_demo_build_failure_is_an_error_not_a_hang(tmp_path: Path) -> None:
    script = tmp_path / "build"
    script.write_text("#!/bin/sh\necho 'no go here' >&2\nexit 3\n")
    script.chmod(0o755)

    def find() -> None:
        raise BinariesMissingError("missing")

    said: list[str] = []
    with pytest.raises(GroundError, match="exit code 3"):
        demo.ensure_binaries(said.append, build=[str(script)], find=find, heartbeat=5)
    assert "  build: no go here" in said


def test_demo_does_not_build_what_is_there() -> None:
    said: list[str] = []
    demo.ensure_binaries(said.append, build=["/nonexistent"], find=lambda: None)
    assert said == []
