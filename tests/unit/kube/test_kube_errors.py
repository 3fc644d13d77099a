"""No kubernetes/urllib3/socket exception leaves reconciler.kube: every failure of the real client
stack (driven through a scripted connection pool, no network) arrives as KubernetesError with the
right status and transient flag (the idea of kopf's tests/k8s/test_errors.py)."""

from __future__ import annotations

import io
import json
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes.client
import pytest
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from reconciler.kube.client import KubeClient, load_client, translate_error
from reconciler.kube.resources import INGRESS
from reconciler.kube.writer import KubeWriter
from reconciler.model.errors import KubernetesError


def response(status: int, body: bytes) -> Any:
    return urllib3.HTTPResponse(
        body=io.BytesIO(body),
        status=status,
        headers={"Content-Type": "application/json"},
        preload_content=False,
    )


class ScriptedPool:
    """Stands in for urllib3's PoolManager: raises or answers as scripted."""

    def __init__(self, outcome: Callable[[], Any]) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls.append((method, url, kwargs))
        return self.outcome()

    def clear(self) -> None:
        pass


def client_with(outcome: Callable[[], Any]) -> tuple[KubeClient, ScriptedPool]:
    configuration = kubernetes.client.Configuration()
    configuration.host = "https://127.0.0.1:6443"
    configuration.api_key = {"authorization": "Bearer t0ken"}
    api = kubernetes.client.ApiClient(configuration)
    pool = ScriptedPool(outcome)
    api.rest_client.pool_manager = pool  # type: ignore[assignment]
    return KubeClient(api), pool


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "code": code,
            "reason": reason,
            "message": message,
        }
    ).encode()


def raiser(exc: BaseException) -> Callable[[], Any]:
    def outcome() -> Any:
        raise exc

    return outcome


CONNECTION_FAILURES: list[BaseException] = [
    MaxRetryError(None, "/x", reason=None),  # type: ignore[arg-type]
    NewConnectionError(None, "refused"),  # type: ignore[arg-type]
    ProtocolError("Connection aborted.", ConnectionResetError()),
    ReadTimeoutError(None, "/x", "read timed out"),  # type: ignore[arg-type]
    ConnectTimeoutError("connect timed out"),
    DecodeError("bad gzip"),
    ConnectionRefusedError(111, "refused"),
    ConnectionResetError(104, "reset"),
    TimeoutError("timed out"),
    socket.gaierror(-2, "Name or service not known"),
    ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    OSError(113, "No route to host"),
]


@pytest.mark.parametrize("exc", CONNECTION_FAILURES, ids=lambda e: type(e).__name__)
def test_connection_failures_are_transient_kubernetes_errors(exc: BaseException) -> None:
    client, _ = client_with(raiser(exc))
    with pytest.raises(KubernetesError) as err:
        client.get(INGRESS, "web", "default")
    assert type(err.value) is KubernetesError
    assert err.value.transient
    assert err.value.status is None
    assert err.value.__cause__ is not None


def test_tls_failure_is_permanent() -> None:
    client, _ = client_with(raiser(urllib3.exceptions.SSLError("certificate verify failed")))
    with pytest.raises(KubernetesError) as err:
        client.get(INGRESS, "web", "default")
    assert not err.value.transient
    assert err.value.status is None
    assert "certificate verify failed" in str(err.value)


@pytest.mark.parametrize(
    ("status", "reason", "transient"),
    [
        (400, "BadRequest", False),
        (401, "Unauthorized", False),
        (403, "Forbidden", False),
        (404, "NotFound", False),
        (409, "Conflict", False),
        (410, "Expired", False),
        (422, "Invalid", False),
        (429, "TooManyRequests", True),
        (500, "InternalError", True),
        (502, "", True),
        (503, "ServiceUnavailable", True),
        (504, "Timeout", True),
    ],
)
def test_http_errors_carry_status_and_message(status: int, reason: str, transient: bool) -> None:
    body = status_body(status, reason, f"the apiserver says {status}")
    client, _ = client_with(lambda: response(status, body))
    with pytest.raises(KubernetesError) as err:
        client.get(INGRESS, "web", "default")
    assert err.value.status == status
    assert err.value.transient is transient
    assert f"the apiserver says {status}" in str(err.value)
    assert "/apis/networking.k8s.io/v1/namespaces/default/ingresses/web" in str(err.value)


def test_non_json_error_body_still_gives_status() -> None:
    client, _ = client_with(lambda: response(502, b"<html>bad gateway</html>"))
    with pytest.raises(KubernetesError) as err:
        client.request("GET", "/api/v1/namespaces")
    assert err.value.status == 502
    assert err.value.transient
    assert "bad gateway" in str(err.value)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"], ids=["garbled", "not-an-object"])
def test_undecodable_success_body_is_a_transient_error(body: bytes) -> None:
    client, _ = client_with(lambda: response(200, body))
    with pytest.raises(KubernetesError) as err:
        client.request("GET", "/api/v1/namespaces")
    assert err.value.transient


def test_writes_wrap_errors_too() -> None:
    client, _ = client_with(raiser(ProtocolError("reset")))
    with pytest.raises(KubernetesError):
        KubeWriter(client).patch_ingress_status("ns", "web", [{"ip": "192.0.2.1"}])
    with pytest.raises(KubernetesError):
        KubeWriter(client).apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "a", "namespace": "b"},
            }
        )


def test_unknown_kind_is_a_kubernetes_error() -> None:
    client, pool = client_with(lambda: response(200, b"{}"))
    with pytest.raises(KubernetesError):
        KubeWriter(client).apply({"apiVersion": "example.com/v1", "kind": "Widget"})
    assert pool.calls == []


def test_watch_stream_failures_are_wrapped() -> None:
    class Broken(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise ConnectionResetError(104, "reset mid-stream")

    def outcome() -> Any:
        return urllib3.HTTPResponse(body=Broken(), status=200, preload_content=False)

    client, _ = client_with(outcome)
    stream = client.watch("/api/v1/namespaces")
    with pytest.raises(KubernetesError) as err:
        list(stream)
    assert err.value.transient


def test_watch_stream_garbage_line_is_wrapped() -> None:
    client, _ = client_with(lambda: response(200, b'{"type": "ADDED", "object": {}}\n{oops\n'))
    events: list[dict[str, Any]] = []
    with pytest.raises(KubernetesError) as err:
        events.extend(client.watch("/api/v1/namespaces"))
    assert events == [{"type": "ADDED", "object": {}}]
    assert err.value.transient


def test_requests_carry_auth_accept_and_impersonation() -> None:
    client, pool = client_with(lambda: response(200, b'{"kind": "Namespace"}'))
    assert client.impersonating("alice", ["devs", "ops"]).request("GET", "/api/v1/x") == {
        "kind": "Namespace"
    }
    _, url, kwargs = pool.calls[0]
    assert url == "https://127.0.0.1:6443/api/v1/x"
    headers = kwargs["headers"]
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["Accept"] == "application/json"
    assert headers["Impersonate-User"] == "alice"
    assert headers.getlist("Impersonate-Group") == ["devs", "ops"]


def test_apply_sends_apply_patch_with_field_manager_and_force() -> None:
    client, pool = client_with(lambda: response(200, b"{}"))
    KubeWriter(client).apply(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a", "namespace": "b"}}
    )
    method, url, kwargs = pool.calls[0]
    assert method == "PATCH"
    assert url == (
        "https://127.0.0.1:6443/api/v1/namespaces/b/serviceaccounts/a"
        "?fieldManager=ingress-reconciler&force=true"
    )
    assert kwargs["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert json.loads(kwargs["body"])["metadata"] == {"name": "a", "namespace": "b"}


def test_bad_kubeconfig_is_a_kubernetes_error(tmp_path: Path) -> None:
    with pytest.raises(KubernetesError):
        load_client(kubeconfig=tmp_path / "missing")
    broken = tmp_path / "broken"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(KubernetesError):
        load_client(kubeconfig=broken)


def test_in_cluster_outside_a_pod_is_a_kubernetes_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubernetesError):
        load_client(in_cluster=True)


def test_translate_error_never_returns_a_library_type() -> None:
    samples: list[BaseException] = [
        kubernetes.client.exceptions.ApiException(status=0, reason="x"),
        kubernetes.client.exceptions.ApiValueError("x"),
        kubernetes.client.exceptions.ApiTypeError("x"),
        kubernetes.config.ConfigException("x"),
        RuntimeError("x"),
        *CONNECTION_FAILURES,
    ]
    for exc in samples:
        assert type(translate_error(exc, operation="op")) is KubernetesError


def test_a_listing_follows_every_page_and_drops_managed_fields() -> None:
    def item(name: str) -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "namespace": "apps",
                "resourceVersion": "7",
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            }
        }

    pages = iter(
        [
            {"metadata": {"continue": "next", "resourceVersion": "40"}, "items": [item("a")]},
            {"metadata": {"resourceVersion": "41"}, "items": [item("b"), item("c")]},
        ]
    )
    client, pool = client_with(lambda: response(200, json.dumps(next(pages)).encode()))
    items, rv = client.list(INGRESS, page_size=1)
    assert [i["metadata"]["name"] for i in items] == ["a", "b", "c"]
    assert all("managedFields" not in i["metadata"] for i in items)
    assert {i["kind"] for i in items} == {"Ingress"}
    assert rv == "41"  # the listing's own version, not an item's
    assert "continue=next" in pool.calls[1][1]
