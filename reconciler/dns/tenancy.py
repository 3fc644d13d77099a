"""Multi-tenancy: which hosts a namespace may publish, on which fleet, and in which view.

Pure code, like the planner: no I/O, no logging, no clock. The controller calls :func:`decide`
once per Ingress between the source and the planner; the allowed endpoints go on to the planner,
the refusals become Events, a metric and the ``conflicts`` list of ``plan --output json``.

The rules (the same ones the ValidatingAdmissionPolicy from
:func:`reconciler.dns.admission_policy.render_admission_policy` enforces at admission time; the
controller enforces them again for objects that predate the policy or slip through a policy set to
warn):

* A namespace belongs to the tenant that lists it by name or whose ``namespace_selector`` its
  labels match; a namespace that matches no tenant follows ``TenancyConfig.unassigned``
  (``"deny"``: it may publish nothing, or the name of a tenant whose rules it gets). A namespace
  that matches two tenants is refused outright: guessing would hand it one tenant's names.
* Every host has at most one rightful owner: the tenant with the most specific domain that
  contains it. A tenant may publish a host only if it is that owner. Names are compared after
  :func:`reconciler.model.endpoint.normalize_name` (case, trailing dot, IDN to punycode), so an IDN
  look-alike of another tenant's domain is simply a different name, owned by nobody.
* A wildcard host ``*.D`` must lie inside the tenant's domains and must not cover another
  tenant's (more specific) domain.
* The fleet is chosen by ``spec.ingressClassName``; the legacy ``kubernetes.io/ingress.class``
  annotation must agree with it and name an allowed fleet too (some controllers still honour it).
* Every target must be an address of a fleet the tenant may use, a name inside the tenant's own
  domains, or listed in the tenant's ``targets``: a tenant cannot point its names at another
  tenant's load balancer.
* The view (public or private zones) is the fleet's visibility, so a private-only tenant can
  never publish into public zones.

A refusal only drops the offender's endpoint: the rightful owner's desired endpoints are never
touched, so a refused host never removes or changes the owner's records.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.model.endpoint import Endpoint, FrozenMap, InvalidNameError, Label, normalize_name
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import (
    LEGACY_CLASS_ANNOTATION,
    Visibility,
    annotations_of,
    resource_of,
)
from reconciler.model.zones import is_within

__all__ = [
    "DEFAULT_PUBLIC_EXCLUDED_NETS",
    "DENY",
    "HOSTNAME_ANNOTATIONS",
    "TARGET_ANNOTATIONS",
    "Decision",
    "DomainPrecedence",
    "Fleet",
    "Namespace",
    "Refusal",
    "RefusalReason",
    "TenancyConfig",
    "Tenant",
    "decide",
    "decide_route",
    "domain_precedence",
    "guard_view",
    "normalize_address",
    "owner_of",
    "tenant_of",
    "validate_tenancy",
]

DENY = "deny"
"""The ``unassigned`` rule that lets namespaces in no tenant publish nothing (the default)."""


HOSTNAME_ANNOTATIONS = (
    "external-dns.kubernetes.io/hostname",
    "external-dns.alpha.kubernetes.io/hostname",
)
"""external-dns's annotations adding hostnames (comma-separated), under both of its prefixes."""

TARGET_ANNOTATIONS = (
    "external-dns.kubernetes.io/target",
    "external-dns.alpha.kubernetes.io/target",
)
"""external-dns's annotations replacing targets (comma-separated), under both of its prefixes."""


DEFAULT_PUBLIC_EXCLUDED_NETS: tuple[str, ...] = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)
"""Address ranges a public view never receives (external-dns's ``--exclude-target-net``):
RFC 1918, shared address space (100.64/10), link-local, unique-local and loopback."""


class RefusalReason(StrEnum):
    """Why a host or an Ingress was refused; also the Kubernetes Event reason and metric label."""

    HOSTNAME_NOT_ALLOWED = "HostnameNotAllowed"
    """The host lies in no tenant's domain (or is not a valid host name)."""
    HOSTNAME_CONFLICT = "HostnameConflict"
    """The host belongs to another tenant (its most specific domain is theirs)."""
    FLEET_NOT_ALLOWED = "FleetNotAllowed"
    """The Ingress's class is missing, unknown, ambiguous, or a fleet its tenant may not use."""
    NAMESPACE_NOT_IN_TENANT = "NamespaceNotInTenant"
    """The namespace belongs to no tenant (and the rule for those is deny) or to several."""
    TARGET_NOT_ALLOWED = "TargetNotAllowed"
    """A target is not the tenant's own load balancer, own name, or an allowed target."""
    WILDCARD_TOO_WIDE = "WildcardTooWide"
    """A wildcard host covers more than the tenant's domains."""
    RESERVED_NAME = "ReservedName"
    """The host has the form of an ownership TXT name (``a-<host>``, affixes applied)."""
    TARGET_NOT_IN_VIEW = "TargetNotInView"
    """A target may not enter this view: a private range in a public view, or the address of a
    fleet of the other visibility (split horizon), with or without tenants."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """What tenancy needs to know of one fleet: its class, its view and its load balancer."""

    name: str
    """Fleet name, as tenants list it in ``fleets``."""
    class_name: str
    """The IngressClass name users write in ``spec.ingressClassName``."""
    visibility: Visibility
    """Public fleets publish into public zones, private fleets into private zones."""
    addresses: tuple[str, ...] = ()
    """The fleet load balancer's observed addresses (IPs and host names), normalised."""
    namespace: str = ""
    """The fleet's namespace (where its Gateway lives)."""
    gateway: str = ""
    """The fleet's Gateway name; empty when it serves no Gateway."""
    gateway_class: str = ""
    """The GatewayClass of its Gateway."""

    @classmethod
    def of(
        cls,
        name: str,
        class_name: str,
        visibility: str,
        addresses: Iterable[str] = (),
        *,
        namespace: str = "",
        gateway: str = "",
        gateway_class: str = "",
    ) -> Fleet:
        """Build a fleet with normalised addresses; raise ConfigError for a bad visibility."""
        try:
            view = Visibility(visibility)
        except ValueError as exc:
            raise ConfigError(
                f"fleet {name!r}: visibility {visibility!r} must be 'public' or 'private'"
            ) from exc
        return cls(
            name=name,
            class_name=class_name,
            visibility=view,
            addresses=tuple(sorted({normalize_address(a) for a in addresses})),
            namespace=namespace,
            gateway=gateway,
            gateway_class=gateway_class,
        )


@dataclass(frozen=True, slots=True)
class Tenant:
    """A group of namespaces, the domains it owns and the fleets it may use."""

    name: str
    """Tenant name, unique; appears in refusal messages and the admission policy's parameters."""
    namespaces: tuple[str, ...] = ()
    """Namespaces that belong to the tenant by name."""
    namespace_selector: FrozenMap = field(default_factory=FrozenMap)
    """Namespaces whose labels contain all these label equalities belong to the tenant."""
    domains: tuple[str, ...] = ()
    """Domain suffixes the tenant owns, normalised; a domain covers itself and every name below."""
    fleets: tuple[str, ...] = ()
    """Names of the fleets the tenant's Ingresses may use."""
    targets: tuple[str, ...] = ()
    """Extra allowed targets (IPs, or names: each also covers the names below it), normalised."""

    @classmethod
    def of(
        cls,
        name: str,
        *,
        namespaces: Iterable[str] = (),
        namespace_selector: Mapping[str, str] | None = None,
        domains: Iterable[str] = (),
        fleets: Iterable[str] = (),
        targets: Iterable[str] = (),
    ) -> Tenant:
        """Build a tenant with normalised, sorted, de-duplicated fields.

        Raise ConfigError for an invalid or wildcard domain or target.
        """
        return cls(
            name=name,
            namespaces=tuple(sorted(set(namespaces))),
            namespace_selector=FrozenMap(namespace_selector or {}),
            domains=tuple(sorted({_config_domain(name, d) for d in domains})),
            fleets=tuple(sorted(set(fleets))),
            targets=tuple(sorted({_config_target(name, t) for t in targets})),
        )

    def has_namespace(self, namespace: Namespace) -> bool:
        """Does ``namespace`` belong to this tenant (by name, or by its labels)?"""
        if namespace.name in self.namespaces:
            return True
        if not self.namespace_selector:
            return False
        return all(namespace.labels.get(k) == v for k, v in self.namespace_selector.items())


@dataclass(frozen=True, slots=True)
class TenancyConfig:
    """All tenants, and the rule for namespaces that belong to none."""

    tenants: tuple[Tenant, ...] = ()
    """The tenants; names unique, domains overlapping only when one is strictly more specific."""
    unassigned: str = DENY
    """``"deny"`` (namespaces in no tenant publish nothing) or the name of a tenant to follow."""
    reserved_names: tuple[str, ...] = ()
    """Patterns of the ownership namespace (:func:`reconciler.dns.registry.reserved_name_patterns`):
    no tenant may publish a host matching one."""

    def tenant(self, name: str) -> Tenant | None:
        """The tenant called ``name``, or None."""
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        return None


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace as tenancy sees it: its name and labels."""

    name: str
    """The namespace's name."""
    labels: FrozenMap = field(default_factory=FrozenMap)
    """The namespace's labels (``kubernetes.io/metadata.name`` included, as the API sets it)."""

    @classmethod
    def of(cls, name: str, labels: Mapping[str, str] | None = None) -> Namespace:
        """Build a namespace value from a name and a label mapping."""
        return cls(name=name, labels=FrozenMap(labels or {}))


@dataclass(frozen=True, slots=True)
class Refusal:
    """One thing tenancy refused: a host of an Ingress, or the whole Ingress (``host == ""``)."""

    resource: str
    """The refused object, ``ingress/<namespace>/<name>`` (the endpoints' ``resource`` label)."""
    host: str
    """The refused host, normalised; empty when the whole Ingress is refused."""
    reason: RefusalReason
    """Machine-readable reason: the Event reason and the metric label."""
    message: str
    """What was refused and which rule refused it, for humans."""

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (the ``conflicts`` list of ``plan --output json``)."""
        return {
            "resource": self.resource,
            "host": self.host,
            "reason": str(self.reason),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What one Ingress may publish, and what was refused."""

    resource: str
    """The Ingress, ``ingress/<namespace>/<name>``."""
    tenant: str
    """The namespace's tenant, or ``""`` when it has none."""
    visibility: Visibility | None
    """The view the allowed endpoints go to (the fleet's); None when nothing is allowed."""
    allowed: tuple[Endpoint, ...]
    """Desired endpoints that passed every rule, unchanged."""
    refusals: tuple[Refusal, ...]
    """Everything refused, sorted."""


@dataclass(frozen=True, slots=True)
class DomainPrecedence:
    """Two tenants' nested domains: the inner (more specific) one wins for names inside it."""

    outer_tenant: str
    """Tenant of the wider domain."""
    outer_domain: str
    """The wider domain."""
    inner_tenant: str
    """Tenant of the more specific domain; it owns every name inside ``inner_domain``."""
    inner_domain: str
    """The more specific domain."""


# ---------------------------------------------------------------------------------------------
# Configuration


def _config_domain(tenant: str, domain: str) -> str:
    try:
        name = normalize_name(domain)
    except InvalidNameError as exc:
        raise ConfigError(f"tenants[{tenant}].domains: {exc}") from exc
    if "*" in name:
        raise ConfigError(
            f"tenants[{tenant}].domains: {domain!r} is a wildcard; list the domain itself "
            "(a domain already covers every name below it)"
        )
    return name


def _config_target(tenant: str, target: str) -> str:
    try:
        return normalize_address(target)
    except InvalidNameError as exc:
        raise ConfigError(f"tenants[{tenant}].targets: {exc}") from exc


def normalize_address(address: str) -> str:
    """Canonical text of an IP address or a host name (for comparing targets).

    Raise InvalidNameError when it is neither.
    """
    text = address.strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return normalize_name(text)


_TENANT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def validate_tenancy(config: TenancyConfig, fleets: Iterable[Fleet] | None = None) -> None:
    """Raise ConfigError when the tenancy configuration cannot be enforced unambiguously.

    Checks: tenant names are unique DNS labels; each tenant selects namespaces (by name or
    selector); no namespace is listed by two tenants; no domain is claimed by two tenants
    (nested domains are fine: the most specific wins, see :func:`domain_precedence`);
    ``unassigned`` is ``"deny"`` or a tenant's name; when ``fleets`` is given, every allowed
    fleet exists and class names are unique.
    """
    _check_tenant_names(config)
    _check_unique(config, "namespace", lambda t: t.namespaces, "a namespace belongs to one tenant")
    _check_unique(
        config,
        "domain",
        lambda t: t.domains,
        "overlapping domains must differ (the most specific wins), so give one of them a more "
        "specific domain",
    )
    if config.unassigned != DENY and config.tenant(config.unassigned) is None:
        raise ConfigError(
            f"tenancy.unassigned: {config.unassigned!r} must be 'deny' or the name of a tenant"
        )
    if fleets is not None:
        _check_fleets(config, tuple(fleets))


def _check_tenant_names(config: TenancyConfig) -> None:
    seen: set[str] = set()
    for tenant in config.tenants:
        if not _TENANT_NAME.fullmatch(tenant.name):
            raise ConfigError(
                f"tenants: name {tenant.name!r} must be a DNS label (lower case letters, digits, "
                "'-'; at most 63 characters)"
            )
        if tenant.name in seen:
            raise ConfigError(f"tenants: the name {tenant.name!r} is used twice; names are unique")
        seen.add(tenant.name)
        if not tenant.namespaces and not tenant.namespace_selector:
            raise ConfigError(
                f"tenants[{tenant.name}]: set namespaces or namespaceSelector "
                "(a tenant with neither has no namespace)"
            )


def _check_unique(
    config: TenancyConfig, what: str, values: Callable[[Tenant], Iterable[str]], fix: str
) -> None:
    holder: dict[str, str] = {}
    for tenant in config.tenants:
        for value in values(tenant):
            other = holder.setdefault(value, tenant.name)
            if other != tenant.name:
                raise ConfigError(
                    f"tenants: tenants {other!r} and {tenant.name!r} both claim {what} "
                    f"{value!r}; {fix}"
                )


def _check_fleets(config: TenancyConfig, fleets: Sequence[Fleet]) -> None:
    names = {f.name for f in fleets}
    classes: dict[str, str] = {}
    for fleet in fleets:
        other = classes.setdefault(fleet.class_name, fleet.name)
        if other != fleet.name:
            raise ConfigError(
                f"fleets: {other!r} and {fleet.name!r} share the class {fleet.class_name!r}"
            )
    for tenant in config.tenants:
        for fleet_name in tenant.fleets:
            if fleet_name not in names:
                raise ConfigError(
                    f"tenants[{tenant.name}].fleets: no fleet is called {fleet_name!r} "
                    f"(known: {', '.join(sorted(names)) or 'none'})"
                )


def domain_precedence(config: TenancyConfig) -> tuple[DomainPrecedence, ...]:
    """Every pair of nested domains of different tenants, to log at startup (inner wins)."""
    pairs: list[DomainPrecedence] = []
    for outer in config.tenants:
        for inner in config.tenants:
            if inner.name == outer.name:
                continue
            for outer_domain in outer.domains:
                for inner_domain in inner.domains:
                    if inner_domain != outer_domain and is_within(inner_domain, outer_domain):
                        pairs.append(
                            DomainPrecedence(outer.name, outer_domain, inner.name, inner_domain)
                        )
    return tuple(sorted(pairs, key=lambda p: (p.outer_domain, p.inner_domain)))


# ---------------------------------------------------------------------------------------------
# Rules


def tenant_of(config: TenancyConfig, namespace: Namespace) -> tuple[Tenant | None, str]:
    """The namespace's tenant, or None with the reason why it has none (for the refusal)."""
    matching = [t for t in config.tenants if t.has_namespace(namespace)]
    if len(matching) > 1:
        names = ", ".join(sorted(t.name for t in matching))
        return None, f"namespace {namespace.name!r} matches several tenants ({names})"
    if matching:
        return matching[0], ""
    if config.unassigned != DENY:
        fallback = config.tenant(config.unassigned)
        if fallback is not None:
            return fallback, ""
    return None, f"namespace {namespace.name!r} belongs to no tenant"


def owner_of(config: TenancyConfig, name: str) -> tuple[Tenant, str] | None:
    """The rightful owner of a normalised name and the domain that gives it: most specific wins."""
    best: tuple[Tenant, str] | None = None
    for tenant in config.tenants:
        for domain in tenant.domains:
            if is_within(name, domain) and (best is None or len(domain) > len(best[1])):
                best = (tenant, domain)
    return best


def _check_host(
    config: TenancyConfig, tenant: Tenant, host: str
) -> tuple[RefusalReason, str] | None:
    """Why ``tenant`` may not publish normalised ``host``, or None when it may."""
    if any(re.search(pattern, host) for pattern in config.reserved_names):
        return (
            RefusalReason.RESERVED_NAME,
            f"host {host!r} has the form of an ownership TXT name (a-<host>, cname-<host>, ...): "
            "a record there could take over another record's ownership; choose another host",
        )
    if host.startswith("*."):
        return _check_wildcard(config, tenant, host)
    if "*" in host:
        return (
            RefusalReason.HOSTNAME_NOT_ALLOWED,
            f"host {host!r} is not a valid host name (a wildcard is only allowed as first label)",
        )
    owner = owner_of(config, host)
    if owner is None:
        return (
            RefusalReason.HOSTNAME_NOT_ALLOWED,
            f"host {host!r} is not under any domain of tenant {tenant.name!r}",
        )
    if owner[0].name != tenant.name:
        return (
            RefusalReason.HOSTNAME_CONFLICT,
            f"host {host!r} belongs to tenant {owner[0].name!r} (domain {owner[1]!r})",
        )
    return None


def _check_wildcard(
    config: TenancyConfig, tenant: Tenant, host: str
) -> tuple[RefusalReason, str] | None:
    """Every way a wildcard fails is WildcardTooWide (the admission policy says the same)."""
    base = host[2:]
    if "*" in base:
        return (
            RefusalReason.WILDCARD_TOO_WIDE,
            f"wildcard {host!r} has more than one wildcard label",
        )
    # A wildcard answers for every name below its base: it must not cover anyone else's domain.
    for other in config.tenants:
        if other.name == tenant.name:
            continue
        for domain in other.domains:
            if domain != base and is_within(domain, base):
                return (
                    RefusalReason.WILDCARD_TOO_WIDE,
                    f"wildcard {host!r} covers domain {domain!r} of tenant {other.name!r}",
                )
    owner = owner_of(config, base)
    if owner is not None and owner[0].name == tenant.name:
        return None
    return (
        RefusalReason.WILDCARD_TOO_WIDE,
        f"wildcard {host!r} is wider than the domains of tenant {tenant.name!r} "
        f"({', '.join(tenant.domains) or 'none'})",
    )


def _is_allowed_target(
    config: TenancyConfig, tenant: Tenant, allowed_fleets: Sequence[Fleet], target: str
) -> bool:
    try:
        address = normalize_address(target)
    except InvalidNameError:
        return False
    if any(address in fleet.addresses for fleet in allowed_fleets):
        return True
    if any(address == t or is_within(address, t) for t in tenant.targets):
        return True
    owner = owner_of(config, address)
    return owner is not None and owner[0].name == tenant.name


def _choose_fleet(
    tenant: Tenant, fleets: Sequence[Fleet], ingress: Mapping[str, Any]
) -> Fleet | tuple[RefusalReason, str]:
    """The Ingress's fleet, or the reason and message of the refusal.

    The class is ``spec.ingressClassName``, else the legacy annotation (as the source reads it);
    when both are set they must agree, so the annotation can never reach a second fleet.
    """
    spec = ingress.get("spec") or {}
    class_name = spec.get("ingressClassName") or ""
    legacy = annotations_of(ingress).get(LEGACY_CLASS_ANNOTATION) or ""
    if legacy and class_name and legacy != class_name:
        return (
            RefusalReason.FLEET_NOT_ALLOWED,
            f"annotation {LEGACY_CLASS_ANNOTATION}={legacy!r} disagrees with "
            f"spec.ingressClassName={class_name!r}; remove the annotation",
        )
    class_name = class_name or legacy
    if not class_name:
        return (
            RefusalReason.FLEET_NOT_ALLOWED,
            "spec.ingressClassName is not set; name one of the tenant's fleets",
        )
    fleet = next((f for f in fleets if f.class_name == class_name), None)
    if fleet is None or fleet.name not in tenant.fleets:
        return (
            RefusalReason.FLEET_NOT_ALLOWED,
            f"class {class_name!r} is not a fleet tenant {tenant.name!r} may use "
            f"(allowed: {', '.join(tenant.fleets) or 'none'})",
        )
    return fleet


def decide(
    config: TenancyConfig,
    *,
    fleets: Sequence[Fleet],
    namespace: Namespace,
    ingress: Mapping[str, Any],
    endpoints: Iterable[Endpoint],
) -> Decision:
    """Which of one Ingress's desired endpoints its namespace may publish, and what is refused.

    ``ingress`` is the raw Ingress (metadata, spec); ``endpoints`` are its desired endpoints from
    the source, hostname and target annotations already applied. Allowed endpoints come back
    unchanged; an endpoint is refused for its host (HostnameNotAllowed, HostnameConflict,
    WildcardTooWide) or its targets (TargetNotAllowed); the whole Ingress is refused for its
    namespace (NamespaceNotInTenant) or its class (FleetNotAllowed).
    """
    resource = resource_of(ingress)
    desired = tuple(endpoints)
    tenant, why = tenant_of(config, namespace)
    if tenant is None:
        return _refuse_all(resource, "", RefusalReason.NAMESPACE_NOT_IN_TENANT, why)
    fleet = _choose_fleet(tenant, fleets, ingress)
    if not isinstance(fleet, Fleet):
        return _refuse_all(resource, tenant.name, *fleet)
    return _decide_hosts(
        config, tenant, fleets=fleets, fleet=fleet, resource=resource, desired=desired
    )


def decide_route(
    config: TenancyConfig,
    *,
    fleets: Sequence[Fleet],
    namespace: Namespace,
    resource: str,
    fleet: str,
    gateway: str,
    endpoints: Iterable[Endpoint],
) -> Decision:
    """:func:`decide` for a Gateway API Route attached to ``gateway`` (``namespace/name``), the
    Gateway of ``fleet``: the Route's namespace must be in a tenant that may use that fleet, and
    its hosts and targets pass the same checks as an Ingress's."""
    desired = tuple(endpoints)
    tenant, why = tenant_of(config, namespace)
    if tenant is None:
        return _refuse_all(resource, "", RefusalReason.NAMESPACE_NOT_IN_TENANT, why)
    chosen = next((f for f in fleets if f.name == fleet), None)
    if chosen is None or chosen.name not in tenant.fleets:
        return _refuse_all(
            resource,
            tenant.name,
            RefusalReason.FLEET_NOT_ALLOWED,
            f"Gateway {gateway} belongs to fleet {fleet!r}, which tenant {tenant.name!r} may not "
            f"use (allowed: {', '.join(tenant.fleets) or 'none'}); attach to one of its Gateways",
        )
    return _decide_hosts(
        config, tenant, fleets=fleets, fleet=chosen, resource=resource, desired=desired
    )


def _decide_hosts(
    config: TenancyConfig,
    tenant: Tenant,
    *,
    fleets: Sequence[Fleet],
    fleet: Fleet,
    resource: str,
    desired: Sequence[Endpoint],
) -> Decision:
    allowed_fleets = tuple(f for f in fleets if f.name in tenant.fleets)
    allowed: list[Endpoint] = []
    refusals: set[Refusal] = set()
    for endpoint in desired:
        ep_resource = endpoint.labels.get(Label.RESOURCE, resource)
        refused = _check_host(config, tenant, endpoint.name)
        if refused is not None:
            refusals.add(Refusal(ep_resource, endpoint.name, *refused))
            continue
        bad = [
            t for t in endpoint.targets if not _is_allowed_target(config, tenant, allowed_fleets, t)
        ]
        if bad:
            refusals.add(
                Refusal(
                    ep_resource,
                    endpoint.name,
                    RefusalReason.TARGET_NOT_ALLOWED,
                    f"target {', '.join(bad)} of {endpoint.name!r} is neither a load balancer "
                    f"of tenant {tenant.name!r}'s fleets, nor in its domains, nor an allowed "
                    "target",
                )
            )
            continue
        allowed.append(endpoint)
    return Decision(
        resource=resource,
        tenant=tenant.name,
        visibility=fleet.visibility if allowed else None,
        allowed=tuple(sorted(allowed, key=_endpoint_order)),
        refusals=tuple(sorted(refusals, key=_refusal_order)),
    )


def _refuse_all(resource: str, tenant: str, reason: RefusalReason, message: str) -> Decision:
    return Decision(
        resource=resource,
        tenant=tenant,
        visibility=None,
        allowed=(),
        refusals=(Refusal(resource, "", reason, message),),
    )


def _endpoint_order(
    endpoint: Endpoint,
) -> tuple[str, str, str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    return (*endpoint.key, endpoint.targets, tuple(endpoint.labels.items()))


def _refusal_order(refusal: Refusal) -> tuple[str, str, str, str]:
    return (refusal.resource, refusal.host, str(refusal.reason), refusal.message)


def _excluded(target: str, nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(target)
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in nets)


def guard_view(
    fleet: Fleet,
    endpoints: Sequence[Endpoint],
    *,
    other_view: Collection[str],
    excluded_nets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> tuple[list[Endpoint], list[Refusal]]:
    """The endpoints a fleet's view may receive; the rest refused (TargetNotInView).

    Refused: a target that is the address of a fleet of the other visibility, and, in a public
    view, a target in ``excluded_nets``.
    """
    public = fleet.visibility == Visibility.PUBLIC
    kept: list[Endpoint] = []
    refusals: list[Refusal] = []
    for endpoint in endpoints:
        bad = sorted(
            t
            for t in endpoint.targets
            if t.lower() in other_view or (public and _excluded(t, excluded_nets))
        )
        if not bad:
            kept.append(endpoint)
            continue
        refusals.append(
            Refusal(
                endpoint.labels.get(Label.RESOURCE, ""),
                endpoint.name,
                RefusalReason.TARGET_NOT_IN_VIEW,
                f"target {', '.join(bad)} may not enter the {fleet.visibility} view of fleet "
                f"{fleet.name!r}: it is a {'private' if public else 'public'} address "
                "(split horizon); set the target annotation or wait for the fleet's own load "
                "balancer",
            )
        )
    return kept, refusals
