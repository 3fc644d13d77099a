"""The pass ``run`` gives its loop: what it does around the pipeline."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import cast

import pytest

import reconciler.app.controller as controller_module
from reconciler.app.pipeline import PassConfig
from reconciler.dns.memory_provider import InMemoryProvider
from reconciler.dns.registry import TxtRegistry
from reconciler.kube.cache import ClusterCache
from reconciler.kube.fake import FakeCluster
from reconciler.model.errors import ProviderError
from reconciler.runtime import loop
from tests.unit.app.test_incremental import OWNER, ingress

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _run_pass(cluster: FakeCluster, provider: InMemoryProvider) -> loop.PassFunction:
    return controller_module._pass_function(
        argparse.Namespace(dry_run=False, manifests=None),
        PassConfig(owner_id=OWNER),
        cache=cast("ClusterCache", cluster),
        ingress_loader=None,
        targets=[TxtRegistry(provider=provider, owner_id=OWNER)],
        stages=(),
        change_stages=(),
        events=None,
    )


def _full(reason: str = "interval") -> loop.PassRequest:
    return loop.PassRequest(reason=reason, started=NOW, may_write=lambda: True)


def test_the_first_converged_full_pass_leaves_what_it_built_to_live_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept: list[str] = []
    monkeypatch.setattr(controller_module, "keep_as_long_lived", lambda: kept.append("now"))
    cluster = FakeCluster()
    cluster.put(ingress("web", "a", ("www.example.test",), None, "192.0.2.1"))
    provider = InMemoryProvider(name="bind", zones=("example.test",))
    run_pass = _run_pass(cluster, provider)

    provider.fail_next_apply(ProviderError("server gone", provider="bind"))
    assert not run_pass(_full()).converged
    assert kept == []
    assert run_pass(_full()).converged
    assert kept == ["now"]
    assert provider.get("www.example.test", "A") is not None
    assert run_pass(_full()).converged  # once: later passes keep nothing more
    assert kept == ["now"]
