"""Route53 record sets and endpoints, each way.

An ALIAS record is an A or AAAA endpoint whose single target is the load balancer's hostname,
with ``ttl=None`` and provider-specific ``alias=true``, ``aws/evaluate-target-health=true|false``
and ``aws/target-hosted-zone=<canonical hosted zone id>`` (external-dns's provider/aws keys, so
zones it wrote compare equal). Other records carry no ``alias`` key and a TTL (300 when the
desired endpoint has none). TXT targets are in presentation form, with their double quotes, as
Route53 stores them. Weighted, latency, failover, geolocation and multi-value records keep their
``set_identifier`` and ``aws/weight``, ``aws/region``, ``aws/failover``, ``aws/geolocation-*``,
``aws/multi-value-answer``, ``aws/health-check-id``. Pure: no client, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.model.endpoint import (
    Endpoint,
    FrozenMap,
    InvalidNameError,
    RecordType,
    normalize_name,
)

__all__ = [
    "ALIAS",
    "DEFAULT_TTL",
    "EVALUATE_TARGET_HEALTH",
    "ROUTING_KEYS",
    "TARGET_HOSTED_ZONE",
    "clean_zone_id",
    "endpoint_from_record_set",
    "is_alias",
    "record_set_from_endpoint",
]

ALIAS = "alias"
"""Provider-specific key: ``"true"`` on an A/AAAA endpoint that is a Route53 ALIAS record."""
EVALUATE_TARGET_HEALTH = "aws/evaluate-target-health"
"""Provider-specific key: ``"true"|"false"``, the ALIAS record's EvaluateTargetHealth."""
TARGET_HOSTED_ZONE = "aws/target-hosted-zone"
"""Provider-specific key: the ALIAS target's canonical hosted zone id."""
WEIGHT = "aws/weight"
REGION = "aws/region"
FAILOVER = "aws/failover"
GEO_CONTINENT = "aws/geolocation-continent-code"
GEO_COUNTRY = "aws/geolocation-country-code"
GEO_SUBDIVISION = "aws/geolocation-subdivision-code"
MULTI_VALUE_ANSWER = "aws/multi-value-answer"
HEALTH_CHECK_ID = "aws/health-check-id"
ROUTING_KEYS = (WEIGHT, REGION, FAILOVER, GEO_CONTINENT, GEO_COUNTRY, GEO_SUBDIVISION)
"""Provider-specific keys of a routing policy (a change between policies is DELETE + CREATE)."""

DEFAULT_TTL = 300
"""TTL written for a non-alias record whose endpoint has none (Route53 requires one)."""

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def clean_zone_id(zone_id: str) -> str:
    """A hosted zone id without the ``/hostedzone/`` prefix Route53 sometimes returns."""
    return zone_id.strip().removeprefix("/hostedzone/")


def _unescape(name: str) -> str:
    """Route53 returns ``*`` and other special characters as ``\\ooo`` octal escapes."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name)


def _quote_txt(value: str) -> str:
    """A TXT value in presentation form: kept if already quoted, else quoted in 255-byte strings."""
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [escaped[i : i + 255] for i in range(0, len(escaped), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def is_alias(endpoint: Endpoint) -> bool:
    """True when ``endpoint`` is a Route53 ALIAS record (A/AAAA with ``alias=true``)."""
    return (
        endpoint.provider_specific.get(ALIAS) == "true"
        and endpoint.record_type in (RecordType.A, RecordType.AAAA)
        and len(endpoint.targets) == 1
    )


def record_set_from_endpoint(endpoint: Endpoint) -> dict[str, Any]:
    """The Route53 ResourceRecordSet for an endpoint in stored form.

    An alias endpoint must carry ``aws/target-hosted-zone``; a non-alias one gets TTL 300 when it
    has none. Raises InvalidNameError for an alias without a target hosted zone.
    """
    ps = endpoint.provider_specific
    record_set: dict[str, Any] = {"Name": endpoint.name, "Type": endpoint.record_type}
    if is_alias(endpoint):
        zone_id = ps.get(TARGET_HOSTED_ZONE, "")
        if not zone_id:
            raise InvalidNameError(f"{endpoint.name}: alias target has no hosted zone id")
        record_set["AliasTarget"] = {
            "HostedZoneId": clean_zone_id(zone_id),
            "DNSName": endpoint.targets[0],
            "EvaluateTargetHealth": ps.get(EVALUATE_TARGET_HEALTH) == "true",
        }
    else:
        values = endpoint.targets
        if endpoint.record_type == RecordType.TXT:
            values = tuple(_quote_txt(v) for v in values)
        record_set["TTL"] = endpoint.ttl if endpoint.ttl is not None else DEFAULT_TTL
        record_set["ResourceRecords"] = [{"Value": v} for v in values]
    if endpoint.set_identifier:
        record_set["SetIdentifier"] = endpoint.set_identifier
        if WEIGHT in ps:
            record_set["Weight"] = int(ps[WEIGHT])
        if REGION in ps:
            record_set["Region"] = ps[REGION]
        if FAILOVER in ps:
            record_set["Failover"] = ps[FAILOVER]
        if MULTI_VALUE_ANSWER in ps:
            record_set["MultiValueAnswer"] = True
        geo = {
            key: ps[prop]
            for key, prop in (
                ("ContinentCode", GEO_CONTINENT),
                ("CountryCode", GEO_COUNTRY),
                ("SubdivisionCode", GEO_SUBDIVISION),
            )
            if prop in ps
        }
        if geo:
            record_set["GeoLocation"] = geo
    if HEALTH_CHECK_ID in ps:
        record_set["HealthCheckId"] = ps[HEALTH_CHECK_ID]
    return record_set


def endpoint_from_record_set(record_set: Mapping[str, Any]) -> Endpoint:
    """The normalised endpoint for a ResourceRecordSet as Route53 returns it (no labels).

    Raises InvalidNameError for a name or value that is not valid for its type.
    """
    name = _unescape(str(record_set["Name"]))
    rtype = str(record_set["Type"]).upper()
    ps: dict[str, str] = {}
    set_identifier = str(record_set.get("SetIdentifier", ""))
    if set_identifier:
        if "Weight" in record_set:
            ps[WEIGHT] = str(record_set["Weight"])
        if "Region" in record_set:
            ps[REGION] = str(record_set["Region"])
        if "Failover" in record_set:
            ps[FAILOVER] = str(record_set["Failover"])
        if record_set.get("MultiValueAnswer"):
            ps[MULTI_VALUE_ANSWER] = "true"
        geo = record_set.get("GeoLocation") or {}
        for key, prop in (
            ("ContinentCode", GEO_CONTINENT),
            ("CountryCode", GEO_COUNTRY),
            ("SubdivisionCode", GEO_SUBDIVISION),
        ):
            if key in geo:
                ps[prop] = str(geo[key])
    if record_set.get("HealthCheckId"):
        ps[HEALTH_CHECK_ID] = str(record_set["HealthCheckId"])
    alias = record_set.get("AliasTarget")
    if alias:
        ps[ALIAS] = "true"
        ps[EVALUATE_TARGET_HEALTH] = "true" if alias.get("EvaluateTargetHealth") else "false"
        ps[TARGET_HOSTED_ZONE] = clean_zone_id(str(alias["HostedZoneId"]))
        # An alias A record's target is a hostname, which Endpoint.of would refuse for type A.
        return Endpoint(
            name=normalize_name(name),
            record_type=rtype,
            targets=(normalize_name(str(alias["DNSName"])),),
            ttl=None,
            set_identifier=set_identifier,
            provider_specific=FrozenMap(ps),
        )
    values = [str(rr["Value"]) for rr in record_set.get("ResourceRecords") or ()]
    ttl = record_set.get("TTL")
    return Endpoint.of(
        name,
        rtype,
        values,
        ttl=int(ttl) if ttl is not None else None,
        set_identifier=set_identifier,
        provider_specific=ps,
    )
