"""The Gateway API v1.6.1 standard CRDs on a test apiserver.

``scripts/install.d/60-gateway-api`` copies the CRDs out of the Go module
(``sigs.k8s.io/gateway-api@v1.6.1``, ``config/crd/standard``) into the cache;
:func:`install_gateway_api` applies them (server-side apply, so it is idempotent) and waits until
every one is Established and served.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml

from e2e.servers.apiserver import ApiServer

__all__ = ["GATEWAY_API_VERSION", "GatewayApiMissingError", "crd_directory", "install_gateway_api"]

GATEWAY_API_VERSION = "v1.6.1"


class GatewayApiMissingError(RuntimeError):
    """The CRDs are not in the cache, or the apiserver did not establish them."""


def crd_directory() -> Path:
    """Where ``scripts/install.d/60-gateway-api`` put the CRDs."""
    base = Path(
        os.environ.get(
            "GATEWAY_API_CACHE", Path.home() / ".cache" / "ingress-reconciler" / "gateway-api"
        )
    )
    directory = base / GATEWAY_API_VERSION
    if not (directory / ".complete").exists():
        raise GatewayApiMissingError(
            f"no Gateway API {GATEWAY_API_VERSION} CRDs in {directory}: run "
            "scripts/install.d/60-gateway-api (or: make deps)"
        )
    return directory


def install_gateway_api(apiserver: ApiServer, timeout: float = 30.0) -> list[str]:
    """Apply every CRD of the bundle; return their names once all are Established."""
    names: list[str] = []
    for path in sorted(crd_directory().glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue  # the bundle's upgrade policy is not needed here
            name = doc["metadata"]["name"]
            apiserver.must(
                "PATCH",
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
                "?fieldManager=ingress-reconciler-tests&force=true",
                doc,
                content_type="application/apply-patch+yaml",
            )
            names.append(name)
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            body = apiserver.must(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            )
            conditions = (body.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise GatewayApiMissingError(f"CRDs not established after {timeout}s: {pending}")
        time.sleep(0.1)
    return names
