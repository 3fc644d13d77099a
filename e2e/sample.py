"""The embedded sample the demo and the e2e tests run: two fleets, two tenants, three Ingresses.

Everything here is data. :func:`config` builds the reconciler's configuration for a test ground
(the endpoints of the apiserver, the AWS emulator and BIND are parameters); :data:`NAMESPACES` and
:func:`ingresses` are the objects applied to the cluster; :data:`EXPECTED_RECORDS` and
:data:`EXPECTED_REFUSALS` say what a converged reconciler has done with them.

* fleet ``public`` (IngressClass ``public``): an internet-facing NLB, records into the Route53
  public hosted zone ``example.test``;
* fleet ``private`` (IngressClass ``private``): an internal NLB, records into the BIND zone
  ``internal.example.test`` only (split horizon: never into the public zone, although
  ``example.test`` contains it);
* tenant ``shop`` (namespace ``shop``) owns ``shop.example.test`` on the public fleet; tenant
  ``payroll`` (namespace ``payroll``) owns ``payroll.internal.example.test`` on the private fleet;
* ``payroll/hijack`` tries to take ``checkout.shop.example.test`` from ``shop``: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "BIND_ZONE",
    "CLUSTER_NAME",
    "EXPECTED_RECORDS",
    "EXPECTED_REFUSALS",
    "FLEETS",
    "NAMESPACES",
    "OWNER_ID",
    "PUBLIC_ZONE",
    "ExpectedRecord",
    "ExpectedRefusal",
    "FleetSample",
    "config",
    "ingress",
    "ingresses",
]

OWNER_ID = "demo-cluster"
"""ownerId of the sample reconciler (written into every TXT ownership record)."""
CLUSTER_NAME = "demo"
"""clusterName: subnets tagged ``kubernetes.io/cluster/demo`` carry the fleets' NLBs."""
PUBLIC_ZONE = "example.test"
"""The Route53 public hosted zone (public view)."""
BIND_ZONE = "internal.example.test"
"""The BIND zone (private view)."""


@dataclass(frozen=True, slots=True)
class FleetSample:
    """One sample fleet: its name (= IngressClass), visibility, namespace and DNS provider."""

    name: str
    """Fleet and IngressClass name."""
    visibility: str
    """``public`` or ``private``."""
    namespace: str
    """Namespace of the fleet's controller objects."""
    provider: str
    """The one DNS provider the fleet writes to."""


FLEETS = (
    FleetSample("public", "public", "ingress-public", "route53-public"),
    FleetSample("private", "private", "ingress-private", "bind-private"),
)
"""The two sample fleets."""

NAMESPACES = ("shop", "payroll")
"""Tenant namespaces the sample Ingresses live in."""


@dataclass(frozen=True, slots=True)
class ExpectedRecord:
    """A record a converged reconciler has written: name, view and the fleet whose NLB it names."""

    name: str
    """Fully qualified name, no trailing dot."""
    view: str
    """``public`` (Route53 zone in the emulator) or ``private`` (BIND zone)."""
    fleet: str
    """The fleet whose load balancer the record points at."""


EXPECTED_RECORDS = (
    ExpectedRecord("shop.example.test", "public", "public"),
    ExpectedRecord("www.shop.example.test", "public", "public"),
    ExpectedRecord("payroll.internal.example.test", "private", "private"),
)
"""Records the sample produces."""


@dataclass(frozen=True, slots=True)
class ExpectedRefusal:
    """A refusal the reconciler reports as a Warning Event on the Ingress."""

    namespace: str
    """Namespace of the refused Ingress."""
    ingress: str
    """Name of the refused Ingress."""
    host: str
    """The host it was refused."""


EXPECTED_REFUSALS = (ExpectedRefusal("payroll", "hijack", "checkout.shop.example.test"),)
"""Refusals the sample produces."""


def ingress(namespace: str, name: str, class_name: str, hosts: tuple[str, ...]) -> dict[str, Any]:
    """An Ingress manifest with one rule per host, all to Service ``name`` port 80."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": class_name,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
                for host in hosts
            ],
        },
    }


def ingresses() -> tuple[dict[str, Any], ...]:
    """The sample Ingresses: shop (public), payroll (private), and payroll's hijack attempt."""
    return (
        ingress("shop", "shop", "public", ("shop.example.test", "www.shop.example.test")),
        ingress("payroll", "payroll", "private", ("payroll.internal.example.test",)),
        ingress("payroll", "hijack", "private", ("checkout.shop.example.test",)),
    )


def _fleet(sample: FleetSample) -> dict[str, Any]:
    return {
        "name": sample.name,
        "ingressClassName": sample.name,
        "visibility": sample.visibility,
        "default": False,
        "profile": "traefik",
        "namespace": sample.namespace,
        "replicas": 1,
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "https", "port": 443, "targetPort": "https"},
        ],
        "loadBalancer": {"mode": "elbv2", "targetType": "ip", "annotations": {}},
        "dnsProviders": [sample.provider],
    }


def config(
    *,
    aws_endpoint: str,
    bind_port: int,
    tsig_secret_file: str,
    health_port: int,
    interval: float = 30.0,
) -> dict[str, Any]:
    """The reconciler's configuration for a test ground (camelCase, as in the ConfigMap)."""
    route53: dict[str, Any] = {
        "name": "route53-public",
        "type": "route53",
        "zoneType": "public",
        "endpointUrl": aws_endpoint,
        "region": "us-east-1",
    }
    bind: dict[str, Any] = {
        "name": "bind-private",
        "type": "rfc2136",
        "host": "127.0.0.1",
        "port": bind_port,
        "zones": [BIND_ZONE],
        "tsig": {"keyName": "ddns-key", "algorithm": "hmac-sha256", "secretFile": tsig_secret_file},
    }
    data: dict[str, Any] = {
        "ownerId": OWNER_ID,
        "policy": "sync",
        "defaultTTL": 60,
        "domainFilter": [PUBLIC_ZONE],
        "interval": interval,
        "providers": [route53, bind],
    }
    route53["view"] = "public"
    bind["view"] = "private"
    data.update(
        {
            "debounce": 0.2,
            "clusterName": CLUSTER_NAME,
            "aws": {"region": "us-east-1", "endpointUrl": aws_endpoint},
            "fleets": [_fleet(f) for f in FLEETS],
            "tenants": [
                {
                    "name": "shop",
                    "namespaces": ["shop"],
                    "domains": ["shop.example.test"],
                    "fleets": ["public"],
                },
                {
                    "name": "payroll",
                    "namespaces": ["payroll"],
                    "domains": ["payroll.internal.example.test"],
                    "fleets": ["private"],
                },
            ],
            "tenancy": {"unassigned": "deny"},
            "leaderElection": {"enabled": False},
            "health": {"host": "127.0.0.1", "port": health_port, "toleratedIntervals": 3},
        }
    )
    return data
