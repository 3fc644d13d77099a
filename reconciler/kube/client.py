"""The one seam to the kubernetes client: raw JSON requests and watch streams, typed errors.

``load_client(kubeconfig=..., context=...)`` or ``load_client(in_cluster=True)`` (called by the
composition root) returns a ``KubeClient``. It uses the official client only for
configuration, authentication (tokens, client certs, exec plugins, token refresh) and its
connection pool, and sends requests with the raw response kept (no snake_case models): every
object it returns is the API's JSON, camelCase keys exactly as served.

Every failure leaves as ``reconciler.model.errors.KubernetesError`` with ``status`` (HTTP status,
or None
when no response arrived) and ``transient`` (429, 5xx, timeouts and connection errors: retry later).
No kubernetes or urllib3 exception leaves this module (``translate_error`` does the wrapping).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import urllib3

from reconciler.kube.resources import ResourceKind, kind_for
from reconciler.model.cluster import JsonObject
from reconciler.model.errors import KubernetesError

__all__ = [
    "APPLY_PATCH",
    "JSON",
    "MERGE_PATCH",
    "TRANSIENT_STATUSES",
    "KubeClient",
    "WatchStream",
    "load_client",
    "status_error",
    "translate_error",
]

log = logging.getLogger(__name__)

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses after which a later retry may succeed."""


def status_error(status: int, body: bytes | str | None, *, operation: str) -> KubernetesError:
    """A KubernetesError for an HTTP error response, with the apiserver's own message."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
    reason, message = "", text.strip()[:500]
    try:
        decoded = json.loads(text)
    except ValueError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        reason = str(decoded.get("reason", ""))
        message = str(decoded.get("message", message))
    transient = status in TRANSIENT_STATUSES or status >= 500
    detail = f"{status} {reason}".strip()
    return KubernetesError(
        f"{operation}: {detail}: {message}" if message else f"{operation}: {detail}",
        status=status,
        transient=transient,
    )


def translate_error(exc: BaseException, *, operation: str) -> KubernetesError:
    """Wrap any kubernetes/urllib3/socket/decoding exception into a KubernetesError."""
    if isinstance(exc, KubernetesError):
        return exc
    # imported here, as everywhere in this module: the kubernetes package costs about 0.2 CPU s,
    # and commands that read no cluster (plan --manifests) never pay for it
    from kubernetes.client.exceptions import ApiException, OpenApiException  # noqa: PLC0415
    from kubernetes.config.config_exception import ConfigException  # noqa: PLC0415

    if isinstance(exc, ApiException) and exc.status:
        return status_error(int(exc.status), exc.body, operation=operation)
    transient = False
    if isinstance(exc, ApiException):
        # status 0: the request never got a response (TLS failure, unpreparable request)
        detail = str(exc.reason)
    elif isinstance(exc, ConfigException):
        detail = f"bad client configuration: {exc}"
    elif isinstance(exc, urllib3.exceptions.SSLError):
        detail = f"TLS failure: {exc}"
    elif isinstance(exc, urllib3.exceptions.HTTPError | OSError):
        # connection refused/reset, timeouts, truncated streams: the server may be back soon
        detail, transient = f"{type(exc).__name__}: {exc}", True
    elif isinstance(exc, ValueError):
        # undecodable JSON: a truncated or garbled response
        detail, transient = f"bad response: {exc}", True
    elif isinstance(exc, OpenApiException):
        detail = str(exc)
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return KubernetesError(f"{operation}: {detail}", status=None, transient=transient)


class WatchStream:
    """The events of one watch request, decoded; iterate it, and ``close()`` it (any thread).

    Each item is the decoded watch event: ``{"type": ..., "object": {...}}``. Iteration ends when
    the server closes the stream (its ``timeoutSeconds``) or after ``close()``.
    """

    def __init__(self, response: Any, *, operation: str) -> None:
        self._response = response
        self._operation = operation
        self._closed = False

    def __iter__(self) -> Iterator[JsonObject]:
        try:
            for line in self._response:
                if self._closed:
                    return
                if line.strip():
                    event = json.loads(line)
                    if isinstance(event, dict):
                        yield event
        except Exception as exc:
            if self._closed:
                return  # closing from another thread interrupts the read; that is no error
            raise translate_error(exc, operation=self._operation) from exc
        finally:
            self._release()

    def close(self) -> None:
        """Stop the stream; a read blocked in another thread returns."""
        self._closed = True
        try:
            self._response.shutdown()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.debug("watch shutdown failed", extra={"error": str(exc)})
        self._release()

    def _release(self) -> None:
        try:
            self._response.release_conn()
        except Exception as exc:  # noqa: BLE001 - releasing is best effort
            log.debug("watch release failed", extra={"error": str(exc)})

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class KubeClient:
    """Raw-JSON access to one Kubernetes API server.

    ``api_client`` is a ``kubernetes.client.ApiClient`` (build one with ``load_client``).
    ``impersonate_user``/``impersonate_groups`` send the impersonation headers (the caller must be
    allowed to impersonate). ``timeout`` is the default per-request timeout in seconds.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        impersonate_user: str | None = None,
        impersonate_groups: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> None:
        self._api = api_client
        self.impersonate_user = impersonate_user
        self.impersonate_groups = tuple(impersonate_groups)
        self.timeout = timeout

    @property
    def host(self) -> str:
        """The API server's base URL."""
        return str(self._api.configuration.host)

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> KubeClient:
        """A client on the same connection that acts as ``user`` in ``groups``."""
        return KubeClient(
            self._api, impersonate_user=user, impersonate_groups=groups, timeout=self.timeout
        )

    def close(self) -> None:
        """Close the connection pool."""
        try:
            self._api.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.debug("client close failed", extra={"error": str(exc)})

    # --- raw requests ------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        """Send one request; return the urllib3 response (unread) or raise KubernetesError."""
        items = list(query.items()) if isinstance(query, Mapping) else list(query)
        resource = f"{path}?{urlencode(items)}" if items else path
        operation = f"{method} {path}"
        headers: dict[str, Any] = {"Accept": JSON}
        if body is not None:
            headers["Content-Type"] = content_type
        if self.impersonate_user:
            headers["Impersonate-User"] = self.impersonate_user
        try:
            method_, url, headers_, body_, post_ = self._api.param_serialize(
                method=method,
                resource_path=resource,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            if self.impersonate_groups:
                # one header line per group: the apiserver does not split a comma-joined value
                multi = urllib3.HTTPHeaderDict(headers_)
                for group in self.impersonate_groups:
                    multi.add("Impersonate-Group", group)
                headers_ = multi
            response = self._api.call_api(
                method_,
                url,
                header_params=headers_,
                body=body_,
                post_params=post_,
                _request_timeout=self.timeout if timeout is None else timeout,
            )
        except Exception as exc:
            raise translate_error(exc, operation=operation) from exc
        raw = response.response
        if not 200 <= int(raw.status) < 300:
            try:
                data = raw.data
            except Exception as exc:
                raise translate_error(exc, operation=operation) from exc
            finally:
                raw.release_conn()
            raise status_error(int(raw.status), data, operation=operation)
        return raw

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
    ) -> JsonObject:
        """One request; return the decoded JSON body (``{}`` when empty)."""
        raw = self._send(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        try:
            data = raw.data
            decoded = json.loads(data) if data else {}
        except Exception as exc:
            raise translate_error(exc, operation=f"{method} {path}") from exc
        finally:
            raw.release_conn()
        if not isinstance(decoded, dict):
            raise KubernetesError(f"{method} {path}: expected a JSON object", transient=True)
        return decoded

    def watch(
        self,
        path: str,
        *,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        connect_timeout: float = 10.0,
        read_timeout: float = 330.0,
    ) -> WatchStream:
        """Open a watch (``watch=true`` is added) and return its event stream."""
        items = list(query.items()) if isinstance(query, Mapping) else list(query)
        raw = self._send(
            "GET",
            path,
            query=[("watch", "true"), *items],
            timeout=(connect_timeout, read_timeout),
        )
        return WatchStream(raw, operation=f"WATCH {path}")

    # --- typed helpers ---------------------------------------------------------------------

    def get(self, kind: ResourceKind, name: str, namespace: str | None = None) -> JsonObject:
        """GET one object."""
        return self.request("GET", kind.object_path(name, namespace))

    def list(
        self,
        kind: ResourceKind,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        page_size: int = 500,
    ) -> tuple[list[JsonObject], str]:
        """List every object (following ``continue`` pages); return (items, resourceVersion).

        Items carry ``apiVersion`` and ``kind`` (a list response leaves them out of its items)
        and no ``metadata.managedFields``: nothing here reads them, and dropped page by page they
        never pile up (at 10,000 Ingresses they are the largest part of a listing).
        """
        items: list[JsonObject] = []
        token = ""
        while True:
            query = [("limit", str(page_size))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if token:
                query.append(("continue", token))
            page = self.request("GET", kind.collection_path(namespace), query=query)
            meta = page.get("metadata") or {}
            for item in page.get("items") or ():
                item_meta = item.get("metadata")
                if isinstance(item_meta, dict):
                    item_meta.pop("managedFields", None)
                items.append({"apiVersion": kind.api_version, "kind": kind.kind, **item})
            token = str(meta.get("continue") or "")
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    def create(self, obj: Mapping[str, Any]) -> JsonObject:
        """POST a new object (its kind from ``apiVersion``/``kind``)."""
        kind = kind_for(obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        return self.request("POST", kind.collection_path(namespace), body=dict(obj))

    def delete(self, kind: ResourceKind, name: str, namespace: str | None = None) -> JsonObject:
        """DELETE one object; return the server's answer (the object or a Status)."""
        return self.request("DELETE", kind.object_path(name, namespace))

    def patch(
        self,
        kind: ResourceKind,
        name: str,
        patch: Mapping[str, Any],
        *,
        namespace: str | None = None,
        subresource: str = "",
        content_type: str = MERGE_PATCH,
        query: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    ) -> JsonObject:
        """PATCH one object (merge patch by default) and return the result."""
        return self.request(
            "PATCH",
            kind.object_path(name, namespace, subresource),
            query=query,
            body=dict(patch),
            content_type=content_type,
        )


def load_client(
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    timeout: float = 30.0,
) -> KubeClient:
    """A KubeClient from a kubeconfig (``kubeconfig`` path, else $KUBECONFIG or ~/.kube/config)
    or, with ``in_cluster=True``, from the pod's ServiceAccount. KubernetesError when unusable."""
    operation = "load in-cluster config" if in_cluster else "load kubeconfig"
    from kubernetes import client as k8s_client  # noqa: PLC0415
    from kubernetes import config as k8s_config  # noqa: PLC0415

    try:
        if in_cluster:
            configuration = type.__call__(k8s_client.Configuration)
            k8s_config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
            api = k8s_client.ApiClient(configuration)
        else:
            path = str(Path(kubeconfig)) if kubeconfig is not None else None
            api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=context, persist_config=False
            )
    except Exception as exc:
        raise translate_error(exc, operation=operation) from exc
    api.user_agent = "ingress-reconciler"
    return KubeClient(api, timeout=timeout)
