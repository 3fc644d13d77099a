"""The Route53 provider: hosted zones, ALIAS records to AWS load balancers, minimal API calls.

How it talks to Route53:

- **Zones** are discovered with ``ListHostedZones`` (filtered by zone type, pinned zone ids and
  domain filter) and cached for ``zone_refresh_period``. A name goes to exactly one zone: the
  longest matching zone of the configured type. Two selected zones with the same name (a public
  and a private one, or private zones of several VPCs) are refused with a ConfigError that says
  to set ``zoneType`` or ``zoneIds``; records are never fanned out (external-dns #973, #4241).
- **Records** are listed with ``ListResourceRecordSets`` at 300 per page into a write-through
  cache; a pass with nothing to change makes no Route53 call at all. A zone is re-listed after
  ``resync_period`` or after a failed write.
- **Writes**: one zone's changes go out in the fewest ``ChangeResourceRecordSets`` calls that
  Route53's limits allow (1,000 values and 32,000 value characters per call, UPSERT counted
  twice); a record and its TXT ownership record (linked by the ``ownedRecord`` label, else by
  name) always travel in the same call. A record set that exists is never sent a CREATE; a
  DELETE carries exactly the values Route53 returned; a change of type, of alias-ness, of set
  identifier or of routing policy becomes DELETE + CREATE in one call.
- **Throttling** (``Throttling``, ``PriorRequestNotComplete``, 5xx, connection errors) is retried
  with jittered backoff; every attempt takes a token from the shared :class:`TokenBucket`.
  A rejected batch (``InvalidChangeBatch``, moto's ``InvalidInput``) is bisected and retried so
  one bad record does not block the others; what still fails is raised as
  :class:`PermanentProviderError` naming the records and AWS's message. No botocore exception
  escapes this module.

Record sets and endpoints are translated by :mod:`providers.route53_records`, and changes are
grouped and packed into calls by :mod:`providers.route53_batches`. Endpoint conventions
(external-dns's provider/aws/aws.go keys, so zones it wrote compare equal):
an ALIAS record is an A or AAAA endpoint whose single target is the load balancer's hostname,
with ``ttl=None`` and provider-specific ``alias=true``, ``aws/evaluate-target-health=true|false``
and ``aws/target-hosted-zone=<canonical hosted zone id>``. Other records carry no ``alias`` key
and a TTL (300 when the desired endpoint has none). TXT targets are in presentation form, with
their double quotes, as Route53 stores them. Weighted, latency, failover, geolocation and
multi-value records keep their ``set_identifier`` and ``aws/weight``, ``aws/region``,
``aws/failover``, ``aws/geolocation-*``, ``aws/multi-value-answer``, ``aws/health-check-id``.

The boto3 clients are made by the composition root and injected; this module never creates a
client and never sees credentials. Build the Route53 client with botocore's own retries off
(:func:`client_config`) so every attempt passes through the shared bucket.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from providers.aws_errors import describe_error, error_code, is_transient
from providers.aws_hosted_zones import canonical_hosted_zone_id, is_aws_load_balancer
from providers.route53_batches import (
    MAX_CHARS_PER_CALL,
    MAX_VALUES_PER_CALL,
    Change,
    group_of,
    grouped,
    needs_replace,
    pack,
)
from providers.route53_records import (
    ALIAS,
    DEFAULT_TTL,
    EVALUATE_TARGET_HEALTH,
    TARGET_HOSTED_ZONE,
    clean_zone_id,
    endpoint_from_record_set,
    is_alias,
    record_set_from_endpoint,
)
from providers.throttle import Retrier, TokenBucket
from reconciler.model.endpoint import (
    Changes,
    Endpoint,
    InvalidNameError,
    RecordType,
    Update,
    normalize_name,
    normalize_target,
)
from reconciler.model.errors import ConfigError, PermanentProviderError, TransientProviderError
from reconciler.model.zones import is_within, zone_for

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client

__all__ = [
    "PAGE_SIZE",
    "HostedZone",
    "Route53Provider",
    "ZoneType",
    "client_config",
]

log = logging.getLogger(__name__)

PAGE_SIZE = 300
"""``ListResourceRecordSets`` page size: Route53's server-side maximum."""
_REJECTED_CODES = frozenset({"InvalidChangeBatch", "InvalidInput"})
_LOAD_BALANCER_MIN_REFRESH = 60.0


class ZoneType:
    """Accepted ``zoneType`` values."""

    PUBLIC = "public"
    PRIVATE = "private"
    ANY = "any"
    ALL = (PUBLIC, PRIVATE, ANY)


@dataclass(frozen=True, slots=True)
class HostedZone:
    """One Route53 hosted zone the provider writes to."""

    id: str
    """The zone id without the ``/hostedzone/`` prefix, e.g. ``Z0123456789ABC``."""
    name: str
    """Normalised zone name."""
    private: bool
    """True for a private (VPC) zone."""


def _is_apex_ns(endpoint: Endpoint, zone: str) -> bool:
    """Is this the zone's own NS record set (at its apex, without a set identifier)?"""
    return (
        endpoint.record_type == RecordType.NS
        and endpoint.name == zone
        and not endpoint.set_identifier
    )


class _BatchRejectedError(Exception):
    """Route53 refused a change batch as a whole; the message is AWS's."""


_Held = Endpoint | tuple[Endpoint, dict[str, Any]]
"""What the cache keeps per record set: the endpoint alone when it reproduces the record set (a
tuple per record set would cost 56 bytes), else the endpoint and a copy of the record set."""


@dataclass
class _ZoneCache:
    """What one zone holds: endpoint and the raw record set, per endpoint key (and keys by name).

    The raw record set is kept only when the endpoint does not reproduce it
    (:func:`_kept_record_set`): at 10,000 records the copies were a tenth of the process.
    """

    records: dict[tuple[str, str, str], _Held]
    """Per endpoint key: the endpoint, or (endpoint, raw record set) when it does not reproduce
    the record set."""
    listed_at: float
    stale: bool = False
    names: dict[str, str | tuple[tuple[str, str, str], ...]] = field(default_factory=dict)
    """The keys held at each name: for the common name with one record set and no set identifier
    its record type alone (no tuple to keep per name), else a tuple of the keys."""

    def __post_init__(self) -> None:
        for key in self.records:
            self._add_key(key)

    def keys_at(self, name: str) -> tuple[tuple[str, str, str], ...]:
        """The keys of the record sets held at ``name``."""
        held = self.names.get(name)
        if held is None:
            return ()
        return ((name, held, ""),) if isinstance(held, str) else held

    def _set_keys(self, name: str, keys: tuple[tuple[str, str, str], ...]) -> None:
        if not keys:
            self.names.pop(name, None)
        elif len(keys) == 1 and not keys[0][2]:
            self.names[name] = keys[0][1]
        else:
            self.names[name] = keys

    def _add_key(self, key: tuple[str, str, str]) -> None:
        keys = self.keys_at(key[0])
        if key not in keys:
            self._set_keys(key[0], (*keys, key))

    def put(
        self, endpoint: Endpoint, record_set: dict[str, Any], *, reproduces: bool = False
    ) -> None:
        """Remember a record set written (``reproduces``: the endpoint is known to render to it)."""
        self.records[endpoint.key] = endpoint if reproduces else _hold(endpoint, record_set)
        self._add_key(endpoint.key)

    def drop(self, key: tuple[str, str, str]) -> None:
        """Forget a record set deleted."""
        self.records.pop(key, None)
        self._set_keys(key[0], tuple(k for k in self.keys_at(key[0]) if k != key))


class Route53Provider:
    """A :class:`reconciler.dns.provider.Provider` for AWS Route53.

    ``client`` (and the optional ``elbv2_client``, used to read load balancers' canonical hosted
    zone ids) are made by the composition root; ``elbv2_client`` may be a function that makes it,
    called when an ALIAS target first needs it (a client and its service model cost megabytes).
    ``limiter`` should be one bucket shared by every Route53 provider of the process; without one
    the provider makes its own (10/s, 50 burst). ``clock`` times the caches; ``retrier`` carries
    the backoff, sleep and randomness.
    """

    def __init__(
        self,
        *,
        name: str,
        client: Route53Client,
        zone_type: str = ZoneType.ANY,
        zone_ids: Sequence[str] = (),
        domain_filter: Sequence[str] = (),
        elbv2_client: ElasticLoadBalancingv2Client
        | Callable[[], ElasticLoadBalancingv2Client]
        | None = None,
        region: str = "us-east-1",
        evaluate_target_health: bool = True,
        resync_period: float = 3600.0,
        zone_refresh_period: float = 3600.0,
        default_ttl: int = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        limiter: TokenBucket | None = None,
        retrier: Retrier | None = None,
    ) -> None:
        if zone_type not in ZoneType.ALL:
            raise ConfigError(
                f"providers[{name}].zoneType: {zone_type!r} is not one of public, private, any"
            )
        self._name = name
        self._client = client
        self._elbv2 = elbv2_client
        self._elbv2_made: ElasticLoadBalancingv2Client | None = None
        self.zone_type = zone_type
        """``public``, ``private`` or ``any``."""
        self.zone_ids = tuple(clean_zone_id(z) for z in zone_ids)
        """Pinned zone ids (without ``/hostedzone/``); empty means every zone that matches."""
        try:
            self.domain_filter = tuple(normalize_name(d.lstrip(".")) for d in domain_filter)
            """Normalised domains: a zone is used when it is inside one or contains one."""
        except InvalidNameError as exc:
            raise ConfigError(f"providers[{name}].domainFilter: {exc}") from exc
        self.region = region
        """The region of the load balancers we look up (ALIAS target zones)."""
        self.evaluate_target_health = evaluate_target_health
        """EvaluateTargetHealth for ALIAS records whose endpoint does not say."""
        self.resync_period = resync_period
        """Seconds before the record cache of a zone is re-listed in full."""
        self.zone_refresh_period = zone_refresh_period
        """Seconds before the zone list is refreshed."""
        self.default_ttl = default_ttl
        """TTL of a record created without one (an existing record keeps its own)."""
        self._clock = clock
        self._limiter = limiter or TokenBucket(clock=clock)
        self._retrier = retrier or Retrier()
        self._lock = threading.RLock()
        self._zones: tuple[HostedZone, ...] | None = None
        self._zones_at = 0.0
        self._records: dict[str, _ZoneCache] = {}
        self._generation = 0
        self._load_balancers: dict[str, str] = {}
        self._load_balancers_at: float | None = None
        self._load_balancer_misses: set[str] = set()

    # -- the Provider protocol -----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The configured provider name."""
        return self._name

    def zones(self) -> Sequence[str]:
        """Normalised names of the selected hosted zones (refreshed on the slow timer)."""
        return tuple(z.name for z in self.hosted_zones())

    def records(self) -> Sequence[Endpoint]:
        """Every record set of the selected zones but the apex's SOA and NS, from the cache.

        The apex NS is the zone's own (nothing there is ours to plan); listed without the SOA
        beside it, the planner would read it as a delegation and refuse every record at the
        apex (docs/planner.md). The cache keeps it, so a write there still finds it.
        """
        with self._lock:
            result: list[Endpoint] = []
            for zone in self.hosted_zones():
                held = map(_endpoint_of, self._zone_records(zone).values())
                result.extend(e for e in held if not _is_apex_ns(e, zone.name))
            return sorted(result, key=lambda e: e.key)

    def generation(self) -> int:
        """How many times a zone was listed; a zone is listed again (and counted) when stale or
        past ``resync_period``, the only way Route53 shows changes made by others."""
        with self._lock:
            for zone in self.hosted_zones():
                self._zone_cache(zone)
            return self._generation

    def records_named(self, names: Collection[str]) -> Sequence[Endpoint]:
        """The record sets at these names, from the cache (listed again as :meth:`records`
        would: when stale or past ``resync_period``)."""
        with self._lock:
            zone_of = self._zone_lookup(self.hosted_zones())
            result: list[Endpoint] = []
            for name in names:
                zone = zone_of(name)
                if zone is None:
                    continue
                cache = self._zone_cache(zone)
                result.extend(
                    endpoint
                    for key in cache.keys_at(name)
                    if not _is_apex_ns(endpoint := _endpoint_of(cache.records[key]), zone.name)
                )
            return sorted(result, key=lambda e: e.key)

    def adjust_endpoints(self, endpoints: Sequence[Endpoint]) -> Sequence[Endpoint]:
        """Desired endpoints in the shape :meth:`records` returns them.

        A CNAME to an AWS load balancer becomes ALIAS A and AAAA records (as external-dns does,
        so a zone it wrote compares equal) unless it says ``alias=false``; other records lose
        alias-only keys. A TTL of None stays None: the default TTL applies on create only.
        """
        result: list[Endpoint] = []
        for endpoint in endpoints:
            ps = endpoint.provider_specific
            if (
                endpoint.record_type == RecordType.CNAME
                and len(endpoint.targets) == 1
                and ps.get(ALIAS) != "false"
                and is_aws_load_balancer(endpoint.targets[0])
            ):
                zone_id = self.target_hosted_zone_id(endpoint.targets[0])
                if zone_id is not None:
                    for rtype in (RecordType.A, RecordType.AAAA):
                        result.append(
                            self._alias_shape(replace(endpoint, record_type=rtype.value), zone_id)
                        )
                    continue
            if is_alias(endpoint):
                zone_id = ps.get(TARGET_HOSTED_ZONE) or self.target_hosted_zone_id(
                    endpoint.targets[0]
                )
                if zone_id is not None:
                    result.append(self._alias_shape(endpoint, zone_id))
                    continue
            plain = ps.without(ALIAS).without(EVALUATE_TARGET_HEALTH).without(TARGET_HOSTED_ZONE)
            result.append(endpoint if plain is ps else replace(endpoint, provider_specific=plain))
        return result

    def apply(self, changes: Changes) -> None:
        """Write ``changes``; raise PermanentProviderError naming what Route53 refused."""
        if changes.is_empty():
            return
        with self._lock:
            self._apply(changes)

    # -- zones ---------------------------------------------------------------------------------

    def hosted_zones(self) -> tuple[HostedZone, ...]:
        """The selected hosted zones, from cache unless ``zone_refresh_period`` has passed."""
        with self._lock:
            now = self._clock()
            if self._zones is None or now - self._zones_at >= self.zone_refresh_period:
                self._zones = self._discover_zones()
                self._zones_at = now
                known = {z.id for z in self._zones}
                for zone_id in list(self._records):
                    if zone_id not in known:
                        del self._records[zone_id]
            return self._zones

    def invalidate(self) -> None:
        """Forget every cache: the next call lists zones and records again."""
        with self._lock:
            self._zones = None
            self._records.clear()
            self._load_balancers_at = None

    def _wanted(self, zone: HostedZone) -> bool:
        if self.zone_ids and zone.id not in self.zone_ids:
            return False
        if self.zone_type == ZoneType.PUBLIC and zone.private:
            return False
        if self.zone_type == ZoneType.PRIVATE and not zone.private:
            return False
        return not self.domain_filter or any(
            is_within(zone.name, d) or is_within(d, zone.name) for d in self.domain_filter
        )

    def _discover_zones(self) -> tuple[HostedZone, ...]:
        found: list[HostedZone] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MaxItems": "100"}
            if marker:
                kwargs["Marker"] = marker
            page = self._call("ListHostedZones", partial(self._client.list_hosted_zones, **kwargs))
            for raw in page["HostedZones"]:
                zone = HostedZone(
                    id=clean_zone_id(raw["Id"]),
                    name=normalize_name(raw["Name"]),
                    private=bool(raw.get("Config", {}).get("PrivateZone", False)),
                )
                if self._wanted(zone):
                    found.append(zone)
            if not page.get("IsTruncated"):
                break
            marker = page.get("NextMarker")
        missing = sorted(set(self.zone_ids) - {z.id for z in found})
        if missing:
            raise ConfigError(
                f"providers[{self._name}].zoneIds: {', '.join(missing)} not found among the "
                f"{self.zone_type} hosted zones matching the domain filter"
            )
        by_name: dict[str, list[HostedZone]] = {}
        for zone in found:
            by_name.setdefault(zone.name, []).append(zone)
        clashes = {n: zs for n, zs in by_name.items() if len(zs) > 1}
        if clashes:
            detail = "; ".join(
                n + ": " + ", ".join(f"{z.id} ({_kind(z)})" for z in zs)
                for n, zs in sorted(clashes.items())
            )
            raise ConfigError(
                f"providers[{self._name}]: several hosted zones share a name ({detail}); a name "
                "must go to exactly one zone: set zoneType to public or private, or pin zoneIds"
            )
        zones = tuple(sorted(found, key=lambda z: z.name))
        log.debug(
            "route53 zones discovered",
            extra={"provider": self._name, "zones": [z.name for z in zones]},
        )
        return zones

    @staticmethod
    def _zone_lookup(zones: Sequence[HostedZone]) -> Callable[[str], HostedZone | None]:
        """name -> the zone it belongs to (the longest zone name that contains it), or None."""
        by_name = {z.name: z for z in zones}
        names = frozenset(by_name)

        def zone_of(name: str) -> HostedZone | None:
            best = zone_for(name, names)
            return by_name[best] if best is not None else None

        return zone_of

    # -- records -------------------------------------------------------------------------------

    def _zone_records(self, zone: HostedZone) -> dict[tuple[str, str, str], _Held]:
        return self._zone_cache(zone).records

    def _zone_cache(self, zone: HostedZone) -> _ZoneCache:
        now = self._clock()
        cache = self._records.get(zone.id)
        if cache is None or cache.stale or now - cache.listed_at >= self.resync_period:
            cache = _ZoneCache(records=self._list_zone(zone), listed_at=now)
            self._records[zone.id] = cache
            self._generation += 1
        return cache

    def _list_zone(self, zone: HostedZone) -> dict[tuple[str, str, str], _Held]:
        records: dict[tuple[str, str, str], _Held] = {}
        kwargs: dict[str, Any] = {"HostedZoneId": zone.id, "MaxItems": str(PAGE_SIZE)}
        while True:
            page = self._call(
                "ListResourceRecordSets",
                lambda: self._client.list_resource_record_sets(**kwargs),
                zone=zone,
            )
            for raw in page["ResourceRecordSets"]:
                if raw["Type"] == "SOA":
                    continue
                try:
                    endpoint = endpoint_from_record_set(raw)
                except InvalidNameError as exc:
                    log.warning(
                        "route53 record skipped",
                        extra={"provider": self._name, "zone": zone.name, "reason": str(exc)},
                    )
                    continue
                stored = dict(raw)
                stored["Name"] = endpoint.name
                records[endpoint.key] = _hold(endpoint, stored)
            if not page.get("IsTruncated"):
                break
            kwargs["StartRecordName"] = page["NextRecordName"]
            kwargs["StartRecordType"] = page["NextRecordType"]
            if page.get("NextRecordIdentifier"):
                kwargs["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            else:
                kwargs.pop("StartRecordIdentifier", None)
        log.debug(
            "route53 zone listed",
            extra={"provider": self._name, "zone": zone.name, "records": len(records)},
        )
        return records

    # -- ALIAS targets ---------------------------------------------------------------------------

    def target_hosted_zone_id(self, hostname: str) -> str | None:
        """Canonical hosted zone id of an AWS load balancer hostname.

        From ELBv2 ``DescribeLoadBalancers`` when the load balancer is visible to the injected
        ELBv2 client, else from AWS's published per-region table; None if neither knows it.

        The listing is cached. A name it lacks lists again (at most once a minute), once: a name
        still missing after that (another account or region, a deleted load balancer) is
        remembered as a miss until the ``resync_period`` re-lists everything, so quiet passes
        make no ELBv2 call.
        """
        host = normalize_name(hostname)
        bare = host.removeprefix("dualstack.")
        if self._elbv2 is not None and is_aws_load_balancer(bare):
            with self._lock:
                known = self._load_balancers.get(bare)
                now = self._clock()
                listed_at = self._load_balancers_at
                stale = listed_at is not None and now - listed_at >= self.resync_period
                new_miss = known is None and bare not in self._load_balancer_misses
                if (
                    listed_at is None
                    or stale
                    or (new_miss and now - listed_at >= _LOAD_BALANCER_MIN_REFRESH)
                ):
                    self._refresh_load_balancers(now)
                    known = self._load_balancers.get(bare)
                if known is None:
                    self._load_balancer_misses.add(bare)
            if known is not None:
                return known
        return canonical_hosted_zone_id(bare)

    def _elbv2_client(self) -> ElasticLoadBalancingv2Client:
        """The ELBv2 client, made on first use when a function to make it was given."""
        if self._elbv2_made is None:
            source = self._elbv2
            assert source is not None
            self._elbv2_made = source() if callable(source) else source
        return self._elbv2_made

    def _refresh_load_balancers(self, now: float) -> None:
        elbv2 = self._elbv2_client()
        found: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        try:
            while True:
                page = self._retrier.call(
                    lambda: elbv2.describe_load_balancers(**kwargs),
                    is_retryable=is_transient,
                )
                for lb in page.get("LoadBalancers", []):
                    dns = lb.get("DNSName")
                    zone_id = lb.get("CanonicalHostedZoneId")
                    if dns and zone_id:
                        found[normalize_name(dns).removeprefix("dualstack.")] = zone_id
                marker = page.get("NextMarker")
                if not marker:
                    break
                kwargs["Marker"] = marker
        except (ClientError, BotoCoreError) as exc:
            # Not ours to see (or ELBv2 is down): the published table still knows AWS's ids.
            log.warning(
                "elbv2 load balancers not readable, using the canonical zone table",
                extra={"provider": self._name, "error": describe_error(exc)},
            )
        self._load_balancers = found
        self._load_balancers_at = now
        self._load_balancer_misses = set()

    def _alias_shape(self, endpoint: Endpoint, zone_id: str) -> Endpoint:
        ps = endpoint.provider_specific
        health = ps.get(EVALUATE_TARGET_HEALTH)
        if health not in ("true", "false"):
            health = "true" if self.evaluate_target_health else "false"
        return replace(
            endpoint,
            targets=(normalize_name(endpoint.targets[0]),),
            ttl=None,
            provider_specific=ps.with_item(ALIAS, "true")
            .with_item(EVALUATE_TARGET_HEALTH, health)
            .with_item(TARGET_HOSTED_ZONE, zone_id),
        )

    # -- writes ----------------------------------------------------------------------------------

    def _stored_change(self, action: str, endpoint: Endpoint, group: str) -> Change:
        """A CREATE/UPSERT of a desired endpoint, normalised to what Route53 will hold."""
        if is_alias(endpoint):
            zone_id = endpoint.provider_specific.get(TARGET_HOSTED_ZONE) or (
                self.target_hosted_zone_id(endpoint.targets[0])
            )
            if zone_id is None:
                raise InvalidNameError(
                    f"{endpoint.name}: no canonical hosted zone known for {endpoint.targets[0]}"
                )
            endpoint = self._alias_shape(endpoint, zone_id)
        elif endpoint.ttl is None:
            endpoint = endpoint.with_ttl(self.default_ttl)
        record_set = record_set_from_endpoint(endpoint)
        stored, reproduces = _as_stored(endpoint, record_set)
        return Change(action, record_set, stored, group, reproduces)

    def _plan_zone_changes(
        self, changes: Changes, zones: Sequence[HostedZone], failures: list[str]
    ) -> dict[str, list[Change]]:
        """Route53 changes per zone id, from the cache's view of what exists."""
        planned: dict[str, list[Change]] = {}
        deleted: set[tuple[str, tuple[str, str, str]]] = set()
        written: dict[tuple[str, tuple[str, str, str]], Change] = {}
        zone_of = self._zone_lookup(zones)

        def zone_and_cache(
            name: str,
        ) -> tuple[HostedZone | None, dict[tuple[str, str, str], _Held]]:
            zone = zone_of(name)
            if zone is None:
                log.warning(
                    "route53 change outside every zone skipped",
                    extra={"provider": self._name, "record": name},
                )
                return None, {}
            return zone, self._zone_records(zone)

        def delete(old: Endpoint, group: str) -> None:
            zone, cache = zone_and_cache(old.name)
            if zone is None:
                return
            held = _held_at(cache, old.key)
            if held is None:
                log.debug(
                    "route53 delete of an absent record skipped",
                    extra={"provider": self._name, "record": old.name, "type": old.record_type},
                )
                return
            deleted.add((zone.id, old.key))
            planned.setdefault(zone.id, []).append(
                Change("DELETE", _held_record_set(held), held[0], group)
            )

        def write(new: Endpoint, group: str) -> None:
            zone, cache = zone_and_cache(new.name)
            if zone is None:
                return
            held = _held_at(cache, new.key)
            exists = held is not None and (zone.id, new.key) not in deleted
            try:
                change = self._stored_change("UPSERT" if exists else "CREATE", new, group)
            except (InvalidNameError, ValueError) as exc:
                failures.append(f"{new.name} {new.record_type}: {exc}")
                return
            if exists and held is not None and held[0] == change.endpoint:
                return  # Route53 already holds exactly this
            earlier = written.get((zone.id, new.key))
            if earlier is not None:
                # one record set written twice in a batch is refused: the last word wins
                planned[zone.id].remove(earlier)
                change = replace(change, action=earlier.action)
            written[(zone.id, new.key)] = change
            planned.setdefault(zone.id, []).append(change)

        for old in changes.delete:
            delete(old, group_of(old))
        for update in changes.update:
            group = group_of(update.new)
            zone, cache = zone_and_cache(update.old.name)
            held = _held_at(cache, update.old.key) if zone is not None else None
            if held is not None:
                try:
                    probe = self._stored_change("UPSERT", update.new, group).endpoint
                except (InvalidNameError, ValueError) as exc:
                    failures.append(f"{update.new.name} {update.new.record_type}: {exc}")
                    continue
                if needs_replace(held[0], probe):
                    delete(update.old, group)
            write(update.new, group)
        for new in changes.create:
            write(new, group_of(new))
        return planned

    def _apply(self, changes: Changes) -> None:
        zones = self.hosted_zones()
        failures: list[str] = []
        by_id = {z.id: z for z in zones}
        failed_zones: set[str] = set()
        # planned and written one zone at a time: a zone's changes (each with its record set
        # rendered for the API) are let go before the next zone's are made
        for zone_changes in self._by_zone(changes, zones):
            planned = self._plan_zone_changes(zone_changes, zones, failures)
            for zone_id, planned_changes in sorted(planned.items()):
                self._write_zone(by_id[zone_id], planned_changes, failures, failed_zones)
        if failures:
            for zone_id in failed_zones:
                self._mark_stale(zone_id)
            raise PermanentProviderError(
                f"Route53 refused {len(failures)} change(s): " + "; ".join(failures),
                provider=self._name,
                zone=", ".join(sorted(by_id[z].name for z in failed_zones if z in by_id)),
            )

    def _by_zone(self, changes: Changes, zones: Sequence[HostedZone]) -> list[Changes]:
        """``changes`` split by hosted zone, in zone id order (names in no zone first)."""
        zone_of = self._zone_lookup(zones)
        parts: dict[str, tuple[list[Endpoint], list[Update], list[Endpoint]]] = {}

        def part(name: str) -> tuple[list[Endpoint], list[Update], list[Endpoint]]:
            zone = zone_of(name)
            return parts.setdefault(zone.id if zone is not None else "", ([], [], []))

        for endpoint in changes.create:
            part(endpoint.name)[0].append(endpoint)
        for update in changes.update:
            part(update.old.name)[1].append(update)
        for endpoint in changes.delete:
            part(endpoint.name)[2].append(endpoint)
        return [
            Changes(create=tuple(c), update=tuple(u), delete=tuple(d))
            for _, (c, u, d) in sorted(parts.items())
        ]

    def _write_zone(
        self,
        zone: HostedZone,
        zone_changes: list[Change],
        failures: list[str],
        failed_zones: set[str],
    ) -> None:
        """Send one zone's changes in the fewest batches within Route53's limits."""
        fitting: list[list[Change]] = []
        for group in grouped(zone_changes):
            values = sum(c.values for c in group)
            chars = sum(c.chars for c in group)
            if values > MAX_VALUES_PER_CALL or chars > MAX_CHARS_PER_CALL:
                failures.append(
                    f"{group[0].group}: {values} values / {chars} characters exceed "
                    "Route53's limits for one call"
                )
                failed_zones.add(zone.id)
            else:
                fitting.append(group)
        batches = pack(fitting)
        before = len(failures)
        for batch in batches:
            try:
                self._submit(zone, batch, failures)
            except Exception:
                self._mark_stale(zone.id)
                raise
        if len(failures) > before:
            failed_zones.add(zone.id)
        log.debug(
            "route53 zone changed",
            extra={
                "provider": self._name,
                "zone": zone.name,
                "changes": len(zone_changes),
                "calls": len(batches),
            },
        )

    def _mark_stale(self, zone_id: str) -> None:
        cache = self._records.get(zone_id)
        if cache is not None:
            cache.stale = True

    def _submit(self, zone: HostedZone, batch: list[Change], failures: list[str]) -> int:
        """Send one batch; bisect by group on rejection. Returns the number of calls made."""
        try:
            self._call(
                "ChangeResourceRecordSets",
                lambda: self._client.change_resource_record_sets(
                    HostedZoneId=zone.id,
                    ChangeBatch={"Changes": [c.as_api() for c in batch]},
                ),
                zone=zone,
                rejectable=True,
            )
        except _BatchRejectedError as exc:
            groups = grouped(batch)
            if len(groups) == 1:
                names = ", ".join(c.describe() for c in groups[0])
                failures.append(f"{names}: {exc}")
                return 1
            middle = len(groups) // 2
            first = [c for g in groups[:middle] for c in g]
            second = [c for g in groups[middle:] for c in g]
            return 1 + self._submit(zone, first, failures) + self._submit(zone, second, failures)
        cache = self._records.get(zone.id)
        if cache is not None:
            for change in batch:
                if change.action == "DELETE":
                    cache.drop(change.endpoint.key)
                else:
                    cache.put(change.endpoint, change.record_set, reproduces=change.reproduces)
        return 1

    # -- calls -----------------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        fn: Callable[[], Any],
        *,
        zone: HostedZone | None = None,
        rejectable: bool = False,
    ) -> Any:
        """One Route53 call under the bucket, with retries; errors become ours."""
        zone_name = zone.name if zone else ""

        def on_retry(exc: Exception, attempt: int, delay: float) -> None:
            log.info(
                "route53 call throttled, retrying",
                extra={
                    "provider": self._name,
                    "operation": operation,
                    "attempt": attempt + 1,
                    "delay": round(delay, 3),
                    "error": describe_error(exc),
                },
            )

        try:
            return self._retrier.call(
                fn, is_retryable=is_transient, limiter=self._limiter, on_retry=on_retry
            )
        except ClientError as exc:
            code = error_code(exc)
            if rejectable and code in _REJECTED_CODES:
                raise _BatchRejectedError(describe_error(exc)) from exc
            error = TransientProviderError if is_transient(exc) else PermanentProviderError
            raise error(
                f"Route53 {operation} failed: {describe_error(exc)}",
                provider=self._name,
                zone=zone_name,
            ) from exc
        except BotoCoreError as exc:
            error = TransientProviderError if is_transient(exc) else PermanentProviderError
            raise error(
                f"Route53 {operation} failed: {describe_error(exc)}",
                provider=self._name,
                zone=zone_name,
            ) from exc


def _as_stored(endpoint: Endpoint, record_set: dict[str, Any]) -> tuple[Endpoint, bool]:
    """The endpoint Route53 holds once ``record_set`` (made from ``endpoint``) is written: what
    :func:`endpoint_from_record_set` reads back, and whether it is known to render to
    ``record_set`` exactly. A plain A or TXT record whose values are its targets as they are
    reads back as itself (without its labels, which a record set does not carry), without
    parsing it again, and renders to the same record set."""
    values = record_set.get("ResourceRecords")
    targets = endpoint.targets
    if (
        endpoint.record_type in _AS_WRITTEN
        and not endpoint.set_identifier
        and not endpoint.provider_specific
        and values is not None
        and endpoint.name == normalize_name(endpoint.name)
        and len(values) == len(targets)
        and all(rr["Value"] == t for rr, t in zip(values, targets, strict=True))
        and (len(targets) == 1 or tuple(sorted(set(targets))) == targets)
        and all(normalize_target(endpoint.record_type, t) == t for t in targets)
    ):
        stored = Endpoint(endpoint.name, endpoint.record_type, endpoint.targets, record_set["TTL"])
        return stored, True
    return endpoint_from_record_set(record_set), False


_AS_WRITTEN = frozenset({RecordType.A.value, RecordType.TXT.value})


def _kept_record_set(endpoint: Endpoint, record_set: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of ``record_set`` to keep beside ``endpoint``, or None when the endpoint reproduces
    it exactly (:func:`record_set_from_endpoint`): the common case, kept without a copy."""
    try:
        if record_set_from_endpoint(endpoint) == record_set:
            return None
    except InvalidNameError:
        pass
    return copy.deepcopy(record_set)


def _hold(endpoint: Endpoint, record_set: dict[str, Any]) -> _Held:
    kept = _kept_record_set(endpoint, record_set)
    return endpoint if kept is None else (endpoint, kept)


def _endpoint_of(held: _Held) -> Endpoint:
    return held if isinstance(held, Endpoint) else held[0]


def _unhold(held: _Held) -> tuple[Endpoint, dict[str, Any] | None]:
    return (held, None) if isinstance(held, Endpoint) else held


def _held_at(
    cache: Mapping[tuple[str, str, str], _Held], key: tuple[str, str, str]
) -> tuple[Endpoint, dict[str, Any] | None] | None:
    held = cache.get(key)
    return None if held is None else _unhold(held)


def _held_record_set(held: tuple[Endpoint, dict[str, Any] | None]) -> dict[str, Any]:
    """The record set Route53 holds for a cached entry, exactly (what a DELETE must name)."""
    endpoint, kept = held
    return copy.deepcopy(kept) if kept is not None else record_set_from_endpoint(endpoint)


def client_config() -> Config:
    """botocore settings for the Route53 (and ELBv2) clients the composition root builds.

    botocore's own retries are off: the provider retries under its shared token bucket, and a
    second, hidden retry layer would bypass the bucket and multiply throttling. botocore's
    client-side parameter validation is off too: every request is built from normalised
    endpoints by this module, the service validates it again (an ``InvalidInput`` error, which
    the provider reports), and walking a 1,000-change batch through the model costs more CPU than
    the rest of the write.
    """
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        parameter_validation=False,
        connect_timeout=10,
        read_timeout=60,
    )


def _kind(zone: HostedZone) -> str:
    return "private" if zone.private else "public"
