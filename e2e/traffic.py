"""Real traffic on the test ground: app backends behind Services, and requests through a fleet.

:func:`expose` puts a :class:`~e2e.servers.netns.NetnsPod` behind a selector-less Service and an
EndpointSlice (what a Deployment, its pods and the EndpointSlice controller would give).
:func:`request` sends one HTTP request for a host to a fleet controller's listener (the one
simulated hop: a load balancer in front of the fleet) and :func:`curl_command` says the same
request as a ``curl`` command line.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass

from e2e.servers.apiserver import ApiServer
from e2e.servers.netns import NetnsPod

__all__ = ["Answer", "curl_command", "expose", "request"]


@dataclass(frozen=True)
class Answer:
    """One HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: str

    @property
    def backend(self) -> str:
        """The test backend that answered ("" when it was not one of ours)."""
        try:
            return str(json.loads(self.body).get("backend", ""))
        except (ValueError, AttributeError):
            return ""


def expose(apiserver: ApiServer, namespace: str, service: str, pod: NetnsPod) -> None:
    """A Service named ``service`` (port 80) whose one endpoint is ``pod``."""
    apiserver.must(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service},
            "spec": {"ports": [{"name": "app", "port": 80, "targetPort": pod.port}]},
        },
    )
    apiserver.must(
        "POST",
        f"/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices",
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-1",
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [pod.address], "conditions": {"ready": True}}],
            "ports": [{"name": "app", "port": pod.port, "protocol": "TCP"}],
        },
    )


def request(
    listener: tuple[str, int],
    host: str,
    path: str = "/",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """An HTTP request for ``host`` sent to ``listener`` (a fleet's entry point)."""
    conn = http.client.HTTPConnection(*listener, timeout=5)
    try:
        conn.request(method, path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return Answer(response.status, dict(response.getheaders()), body)
    finally:
        conn.close()


def curl_command(listener: tuple[str, int], host: str, path: str = "/") -> str:
    """``curl`` sending the same request to the same listener."""
    address, port = listener
    return f"curl -s --connect-to {host}:80:{address}:{port} http://{host}{path}"
