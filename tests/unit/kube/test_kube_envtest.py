"""The envtest pin and binary lookup: one version file, honoured by the Go wrapper modules, the
launcher, KUBEBUILDER_ASSETS and the build cache."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from e2e.servers.apiserver import (
    REPO_ROOT,
    BinariesMissingError,
    binary_dir,
    find_binaries,
    versions,
)

SCRIPT = REPO_ROOT / "scripts" / "install.d" / "10-envtest"


def test_version_file_pins_kubernetes_and_etcd() -> None:
    pinned = versions()
    assert re.fullmatch(r"v1\.\d+\.\d+", pinned.kubernetes)
    assert re.fullmatch(r"v3\.\d+\.\d+", pinned.etcd)


def test_go_wrapper_modules_match_the_pin() -> None:
    pinned = versions()
    apiserver_mod = (REPO_ROOT / "e2e/envtest/kube-apiserver/go.mod").read_text()
    etcd_mod = (REPO_ROOT / "e2e/envtest/etcd/go.mod").read_text()
    assert re.search(rf"k8s\.io/kubernetes {re.escape(pinned.kubernetes)}\b", apiserver_mod)
    assert "tool k8s.io/kubernetes/cmd/kube-apiserver" in apiserver_mod
    staging = "v0." + pinned.kubernetes.removeprefix("v1.")
    replaces = re.findall(r"^\s+(k8s\.io/\S+) => (\S+) (\S+)$", apiserver_mod, re.MULTILINE)
    assert len(replaces) > 20
    assert all(a == b and v == staging for a, b, v in replaces)
    assert re.search(rf"go\.etcd\.io/etcd/server/v3 {re.escape(pinned.etcd)}\b", etcd_mod)
    assert (REPO_ROOT / "e2e/envtest/kube-apiserver/go.sum").stat().st_size > 0
    assert (REPO_ROOT / "e2e/envtest/etcd/go.sum").stat().st_size > 0


def test_version_parser_reads_key_value_lines(tmp_path: Path) -> None:
    pin = tmp_path / "k8s-version"
    pin.write_text("# comment\nKUBERNETES_VERSION = v1.2.3\n\nETCD_VERSION=v3.4.5\n")
    assert versions(pin).kubernetes == "v1.2.3"
    assert versions(pin).etcd == "v3.4.5"
    pin.write_text("KUBERNETES_VERSION=v1.2.3\n")
    with pytest.raises(RuntimeError, match="ETCD_VERSION"):
        versions(pin)


def test_kubebuilder_assets_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert binary_dir() == tmp_path
    for name in ("kube-apiserver", "etcd"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    assert find_binaries() == (tmp_path / "kube-apiserver", tmp_path / "etcd")


def test_cache_dir_is_per_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("ENVTEST_CACHE", str(tmp_path))
    assert binary_dir() == tmp_path / versions().kubernetes


def test_missing_binary_names_it_and_the_build_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    (tmp_path / "kube-apiserver").write_text("#!/bin/sh\n")
    (tmp_path / "kube-apiserver").chmod(0o755)
    with pytest.raises(BinariesMissingError) as err:
        find_binaries()
    assert "etcd not found" in str(err.value)
    assert "scripts/install.d/10-envtest" in str(err.value)


def test_install_step_accepts_kubebuilder_assets_without_building(tmp_path: Path) -> None:
    for name in ("kube-apiserver", "etcd"):
        (tmp_path / name).write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / name).chmod(0o755)
    env = {**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"using KUBEBUILDER_ASSETS={tmp_path}" in done.stderr


def test_install_step_refuses_incomplete_kubebuilder_assets(tmp_path: Path) -> None:
    env = {**os.environ, "KUBEBUILDER_ASSETS": str(tmp_path)}
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "no executable kube-apiserver" in done.stderr


def test_install_step_skips_when_cached_binaries_run(tmp_path: Path) -> None:
    cache = tmp_path / versions().kubernetes
    cache.mkdir()
    for name in ("kube-apiserver", "etcd"):
        (cache / name).write_text("#!/bin/sh\necho fake\n")
        (cache / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env.update(ENVTEST_CACHE=str(tmp_path), PATH="/usr/bin:/bin")  # no Go needed to skip
    done = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "already in" in done.stderr
