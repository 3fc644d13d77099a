"""Reads what a reconciler has done, from the outside: the cluster, the AWS emulator and BIND.

The demo prints it; the e2e tests assert on it. :class:`Observer` works against any kubeconfig
(kind, or the local test ground) and any Route53/ELBv2 endpoint and RFC2136 server it is given;
it never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.name
import dns.query
import dns.rdatatype
import dns.tsig
import dns.zone

from reconciler.kube.client import KubeClient
from reconciler.kube.resources import EVENT, INGRESS, SERVICE

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client

__all__ = [
    "FLEET_LABEL",
    "MANAGED_BY",
    "FleetView",
    "IngressView",
    "Observer",
    "Record",
    "Refusal",
    "addresses_of",
]

FLEET_LABEL = "ingress-reconciler.io/fleet"
"""Label naming the fleet of every object the reconciler owns."""
MANAGED_BY = "app.kubernetes.io/managed-by=ingress-reconciler"
"""Label selector of every object the reconciler owns."""


@dataclass(frozen=True, slots=True)
class Record:
    """One DNS record set: name (no trailing dot), type and values (sorted)."""

    name: str
    """Owner name, lower case, no trailing dot."""
    type: str
    """Record type; Route53 ALIAS records show as ``A``/``AAAA`` with ``alias`` set."""
    values: tuple[str, ...]
    """Record values (for an ALIAS, its DNS name)."""
    alias: bool = False
    """Whether this is a Route53 ALIAS record."""


@dataclass(frozen=True, slots=True)
class FleetView:
    """A fleet Service and its load balancer as the cluster and the emulator show them."""

    fleet: str
    """Fleet name (the ``ingress-reconciler.io/fleet`` label)."""
    namespace: str
    """Namespace of the fleet Service."""
    service: str
    """Name of the fleet Service."""
    addresses: tuple[str, ...]
    """``status.loadBalancer.ingress`` hostnames/IPs of the Service."""
    scheme: str
    """Scheme of the NLB with that DNS name in the emulator (empty when none is found)."""


@dataclass(frozen=True, slots=True)
class IngressView:
    """An Ingress: its class, hosts and published status addresses."""

    namespace: str
    """Namespace."""
    name: str
    """Name."""
    class_name: str
    """``spec.ingressClassName``."""
    hosts: tuple[str, ...]
    """Hosts of its rules."""
    addresses: tuple[str, ...]
    """``status.loadBalancer.ingress`` hostnames/IPs."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A Warning Event the reconciler wrote about an Ingress."""

    namespace: str
    """Namespace of the Ingress."""
    ingress: str
    """Name of the Ingress."""
    reason: str
    """Event reason."""
    note: str
    """Event note (says which host and why)."""


def addresses_of(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Hostnames/IPs in ``status.loadBalancer.ingress`` of a Service or Ingress."""
    entries = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or ()
    return tuple(str(e.get("hostname") or e.get("ip") or "") for e in entries)


def _bare(name: str) -> str:
    return name.rstrip(".").lower().replace("\\052", "*")


class Observer:
    """Read-only views of the cluster, the Route53 zone and the BIND zone of a test ground."""

    def __init__(
        self,
        *,
        kube: KubeClient,
        route53: Route53Client,
        elbv2: ElasticLoadBalancingv2Client,
        bind_host: str,
        bind_port: int,
        tsig_key: dns.tsig.Key,
        public_zone: str,
        private_zone: str,
    ) -> None:
        self.kube = kube
        self.route53 = route53
        self.elbv2 = elbv2
        self.bind_host = bind_host
        self.bind_port = bind_port
        self.tsig_key = tsig_key
        self.public_zone = public_zone
        self.private_zone = private_zone

    # --- cluster ---------------------------------------------------------------------------

    def fleets(self) -> tuple[FleetView, ...]:
        """Every fleet Service the reconciler owns, with its address and the NLB's scheme."""
        services, _ = self.kube.list(SERVICE, label_selector=MANAGED_BY)
        schemes = self._schemes()
        views = []
        for svc in services:
            meta = svc.get("metadata") or {}
            fleet = (meta.get("labels") or {}).get(FLEET_LABEL, "")
            addresses = addresses_of(svc)
            scheme = next((schemes[a] for a in addresses if a in schemes), "")
            views.append(
                FleetView(
                    fleet=fleet,
                    namespace=str(meta.get("namespace", "")),
                    service=str(meta.get("name", "")),
                    addresses=addresses,
                    scheme=scheme,
                )
            )
        return tuple(sorted(views, key=lambda v: (v.fleet, v.namespace, v.service)))

    def fleet_addresses(self) -> dict[str, tuple[str, ...]]:
        """Fleet name -> its Service's load-balancer addresses (only fleets that have one)."""
        return {v.fleet: v.addresses for v in self.fleets() if v.addresses}

    def ingresses(self, namespaces: tuple[str, ...]) -> tuple[IngressView, ...]:
        """The Ingresses of ``namespaces``, sorted by namespace and name."""
        views = []
        for namespace in namespaces:
            items, _ = self.kube.list(INGRESS, namespace)
            for item in items:
                meta = item.get("metadata") or {}
                spec = item.get("spec") or {}
                views.append(
                    IngressView(
                        namespace=namespace,
                        name=str(meta.get("name", "")),
                        class_name=str(spec.get("ingressClassName") or ""),
                        hosts=tuple(str(r.get("host", "")) for r in spec.get("rules") or ()),
                        addresses=addresses_of(item),
                    )
                )
        return tuple(sorted(views, key=lambda v: (v.namespace, v.name)))

    def refusals(self, namespaces: tuple[str, ...]) -> tuple[Refusal, ...]:
        """Warning Events about Ingresses in ``namespaces``, newest information per note."""
        found: dict[tuple[str, str, str, str], Refusal] = {}
        for namespace in namespaces:
            items, _ = self.kube.list(EVENT, namespace)
            for event in items:
                regarding = event.get("regarding") or {}
                if event.get("type") != "Warning" or regarding.get("kind") != "Ingress":
                    continue
                refusal = Refusal(
                    namespace=namespace,
                    ingress=str(regarding.get("name", "")),
                    reason=str(event.get("reason", "")),
                    note=str(event.get("note", "")),
                )
                found[(refusal.namespace, refusal.ingress, refusal.reason, refusal.note)] = refusal
        return tuple(sorted(found.values(), key=lambda r: (r.namespace, r.ingress, r.note)))

    # --- AWS emulator ----------------------------------------------------------------------

    def _schemes(self) -> dict[str, str]:
        schemes: dict[str, str] = {}
        for page in self.elbv2.get_paginator("describe_load_balancers").paginate():
            for lb in page.get("LoadBalancers", ()):
                schemes[lb.get("DNSName", "")] = str(lb.get("Scheme", ""))
        return schemes

    def load_balancers(self) -> tuple[tuple[str, str, str], ...]:
        """(name, scheme, DNS name) of every load balancer in the emulator."""
        result = []
        for page in self.elbv2.get_paginator("describe_load_balancers").paginate():
            for lb in page.get("LoadBalancers", ()):
                result.append(
                    (lb.get("LoadBalancerName", ""), str(lb.get("Scheme", "")), lb["DNSName"])
                )
        return tuple(sorted(result))

    def _zone_id(self, zone: str) -> str | None:
        answer = self.route53.list_hosted_zones_by_name(DNSName=zone + ".")
        for hosted in answer.get("HostedZones", ()):
            if _bare(hosted["Name"]) == zone and not hosted.get("Config", {}).get(
                "PrivateZone", False
            ):
                return hosted["Id"]
        return None

    def public_records(self) -> tuple[Record, ...]:
        """Record sets of the Route53 public zone (SOA and NS left out)."""
        zone_id = self._zone_id(self.public_zone)
        if zone_id is None:
            return ()
        records = []
        paginator = self.route53.get_paginator("list_resource_record_sets")
        for page in paginator.paginate(HostedZoneId=zone_id):
            for rrset in page["ResourceRecordSets"]:
                if rrset["Type"] in ("SOA", "NS"):
                    continue
                alias = rrset.get("AliasTarget")
                if alias is not None:
                    values: tuple[str, ...] = (_bare(alias["DNSName"]),)
                else:
                    values = tuple(sorted(r["Value"] for r in rrset.get("ResourceRecords", ())))
                records.append(
                    Record(_bare(rrset["Name"]), rrset["Type"], values, alias=alias is not None)
                )
        return tuple(sorted(records, key=lambda r: (r.name, r.type)))

    # --- BIND ------------------------------------------------------------------------------

    def private_records(self) -> tuple[Record, ...]:
        """Record sets of the BIND zone (SOA and NS left out), by a TSIG-signed AXFR."""
        zone = dns.zone.from_xfr(
            dns.query.xfr(
                self.bind_host,
                self.private_zone,
                port=self.bind_port,
                keyring={self.tsig_key.name: self.tsig_key},
                relativize=False,
                timeout=5,
                lifetime=10,
            ),
            relativize=False,
        )
        records = []
        for name, rdataset in zone.iterate_rdatasets():
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            if rtype in ("SOA", "NS"):
                continue
            values = tuple(sorted(r.to_text() for r in rdataset))
            records.append(Record(_bare(name.to_text()), rtype, values))
        return tuple(sorted(records, key=lambda r: (r.name, r.type)))

    def records(self, view: str) -> tuple[Record, ...]:
        """The records of ``view`` (``public``: Route53 zone; ``private``: BIND zone)."""
        return self.public_records() if view == "public" else self.private_records()
