"""The one typed configuration model, from a YAML file and ``INGRESS_RECONCILER_*`` variables.

Keys are camelCase in the file (``ownerId``, ``txtPrefix``, ``providers[].tsig.secretFile``).
The environment overrides the file: ``INGRESS_RECONCILER_OWNER_ID`` sets ``ownerId``, ``__``
nests, and a number addresses a list element, so ``INGRESS_RECONCILER_PROVIDERS__0__PORT=5353``
changes the port of the first provider. A value that parses as a JSON list or object
(``'["a","b"]'``) is taken as such; a comma-separated string works for the simple lists.

:func:`load_settings` assembles the file and an *injected* environment mapping itself (never
``os.environ`` behind the caller's back), validates once, and turns every validation failure into
one :class:`~reconciler.model.errors.ConfigError` that names each bad key and what to do. Unknown
keys are
errors that name the key. Secrets are :class:`pydantic.SecretStr` or a ``secretFile`` path; neither
is ever printed.

Fleet and tenancy keys: ``fleets`` (IngressClass + controller + load balancer per fleet),
``tenants`` and ``tenancy``, ``clusterName``, ``aws`` (elbv2 mode clients), ``debounce``,
``leaderElection``, ``health``, and ``view`` on every provider (``public``/``private``; a Route53
entry defaults to its ``zoneType`` when that is public or private). Cross-key rules: a fleet's
``dnsProviders`` exist and have the fleet's view; no two fleets share a class; tenants need fleets,
and theirs exist; the tenancy rules of :func:`reconciler.dns.tenancy.validate_tenancy` hold. The
helpers :meth:`Settings.fleet_specs`, :meth:`Settings.tenancy_config`,
:meth:`Settings.tenancy_fleets` and :meth:`Settings.election_config` map the file onto the core's
values."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from reconciler.dns.plan import DEFAULT_MANAGED_TYPES
from reconciler.dns.tenancy import (
    DEFAULT_PUBLIC_EXCLUDED_NETS,
    DENY,
    Fleet,
    TenancyConfig,
    Tenant,
    validate_tenancy,
)
from reconciler.dns.txt_format import AffixNameMapper, reserved_name_patterns
from reconciler.fleets.options import Autoscaling, ControllerOptions, WorkloadShape
from reconciler.fleets.profiles import DEFAULT_PROFILE
from reconciler.fleets.spec import FleetGateway, FleetPort, FleetSpec
from reconciler.model.endpoint import InvalidNameError, RecordType, normalize_name
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import ANNOTATION_PREFIXES
from reconciler.model.yaml_text import load_yaml_text, read_text_file
from reconciler.runtime.leader import ElectionConfig

__all__ = [
    "ENV_PREFIX",
    "AwsSettings",
    "DomainFilterSettings",
    "FleetPortSettings",
    "FleetSettings",
    "HealthSettings",
    "LeaderElectionSettings",
    "LoadBalancerSettings",
    "ProviderSettings",
    "Rfc2136Settings",
    "Route53Settings",
    "Settings",
    "TenancySettings",
    "TenantSettings",
    "TsigSettings",
    "load_settings",
]

ENV_PREFIX = "INGRESS_RECONCILER_"
"""Prefix of the environment variables that override the file."""

_ENV_DELIMITER = "__"
_MAX_TTL = 2**31 - 1
_TSIG_ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1")
# Owner ids are written inside TXT values: nothing that could end or split a key=value pair.
_OWNER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
# Provider names appear in logs, metrics and the plan output.
_PROVIDER_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Fleet names become object names and label values: DNS labels.
_DNS_LABEL = _PROVIDER_NAME
# IngressClass names are DNS subdomains.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

View = Literal["public", "private"]


class _Model(BaseModel):
    """Common configuration: camelCase keys, unknown keys rejected, values immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def _zone_names(values: list[str]) -> tuple[str, ...]:
    """Normalised, de-duplicated zone/domain names, in the given order."""
    result: list[str] = []
    for value in values:
        try:
            name = normalize_name(value)
        except InvalidNameError as exc:
            raise ValueError(str(exc)) from exc
        if name not in result:
            result.append(name)
    return tuple(result)


class DomainFilterSettings(_Model):
    """Which names are managed: below one of ``include`` (all when empty) and none of ``exclude``.

    In the file, ``domainFilter`` is either a list (the include list) or ``{include, exclude}``.
    """

    include: tuple[str, ...] = ()
    """Domains whose names (and sub-names) are managed; empty means every name."""
    exclude: tuple[str, ...] = ()
    """Domains never touched, even when below an included one."""

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if isinstance(value, list | tuple):
            return _zone_names([str(v) for v in value])
        return value


class TsigSettings(_Model):
    """TSIG key for RFC2136 updates and zone transfers; the secret is a file or a SecretStr."""

    key_name: str
    """Key name as the server knows it, e.g. ``ddns-key``."""
    algorithm: Literal["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1"] = "hmac-sha256"
    """HMAC algorithm; ``hmac-sha1`` is accepted with a warning by the provider."""
    secret_file: Path | None = None
    """File holding the base64 secret (a mounted Kubernetes Secret)."""
    secret: SecretStr | None = None
    """The base64 secret itself (prefer ``secretFile``); never printed."""

    @model_validator(mode="after")
    def _one_secret(self) -> TsigSettings:
        if (self.secret_file is None) == (self.secret is None):
            raise ValueError("set exactly one of secretFile or secret")
        return self

    def read_secret(self) -> SecretStr:
        """The secret, read from ``secretFile`` when set; ConfigError when it cannot be read."""
        if self.secret is not None:
            return self.secret
        assert self.secret_file is not None  # guaranteed by the validator
        try:
            text = self.secret_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"tsig.secretFile: cannot read {str(self.secret_file)!r} ({exc.strerror}); "
                "point it at a readable file holding the base64 TSIG secret"
            ) from exc
        except UnicodeDecodeError:
            raise ConfigError(
                f"tsig.secretFile: {str(self.secret_file)!r} is not text; it must hold the "
                "base64 TSIG secret"
            ) from None
        if not text:
            raise ConfigError(f"tsig.secretFile: {str(self.secret_file)!r} is empty")
        return SecretStr(text)


def _aws_region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", value):
        raise ValueError(f"{value!r} is not an AWS region name such as us-east-1")
    return value


def _endpoint_url(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


AwsRegion = Annotated[str, AfterValidator(_aws_region)]
"""An AWS region name such as ``us-east-1``."""
EndpointUrl = Annotated[str | None, AfterValidator(_endpoint_url)]
"""An API endpoint override: an http:// or https:// URL (moto, LocalStack), or None."""


class _ProviderBase(_Model):
    name: str
    """Unique name of this provider (logs, metrics, plan output)."""
    view: View | None = None
    """The DNS view its zones serve: ``public`` or ``private`` (split horizon).

    Fleets write only to providers of their own visibility; required once ``fleets`` are set
    (a Route53 entry defaults to its ``zoneType`` when that is public or private)."""

    @property
    def effective_view(self) -> View | None:
        """The configured view, or the one implied by the provider's type (Route53 zoneType)."""
        return self.view

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _PROVIDER_NAME.fullmatch(value):
            raise ValueError("use lower-case letters, digits and '-' (at most 63)")
        return value


class Rfc2136Settings(_ProviderBase):
    """An RFC2136 server (BIND, Knot, PowerDNS…): dynamic updates and AXFR, TSIG-signed."""

    type: Literal["rfc2136"]
    """Discriminator."""
    host: str
    """Server address (name or IP)."""
    port: int = Field(default=53, ge=1, le=65535)
    """Server port."""
    zones: tuple[str, ...] = Field(min_length=1)
    """Zones written through this server (at least one)."""
    tsig: TsigSettings | None = None
    """TSIG key; without it updates are unsigned (most servers refuse them)."""
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds to wait for one DNS exchange."""

    @field_validator("zones", mode="before")
    @classmethod
    def _normalise_zones(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return _zone_names([str(v) for v in value])
        return value


class Route53Settings(_ProviderBase):
    """AWS Route53 (or an emulator at ``endpointUrl``)."""

    type: Literal["route53"]
    """Discriminator."""
    zone_type: Literal["public", "private", "any"] = "any"
    """Which hosted zones to use."""
    zone_ids: tuple[str, ...] = ()
    """Restrict to these hosted zone ids (all of the zone type when empty)."""
    domain_filter: tuple[str, ...] = ()
    """Restrict to hosted zones for these domains."""
    endpoint_url: EndpointUrl = None
    """API endpoint override (moto, LocalStack)."""
    region: AwsRegion = "us-east-1"
    """AWS region of the API clients."""
    evaluate_target_health: bool = True
    """EvaluateTargetHealth of the ALIAS records written."""

    @property
    def effective_view(self) -> View | None:
        """``view``, else the zone type when that is public or private."""
        if self.view is not None:
            return self.view
        if self.zone_type == "public":
            return "public"
        if self.zone_type == "private":
            return "private"
        return None

    @field_validator("domain_filter", mode="before")
    @classmethod
    def _normalise_domains(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return _zone_names([str(v) for v in value])
        return value


ProviderSettings = Annotated[Rfc2136Settings | Route53Settings, Field(discriminator="type")]
"""One entry of ``providers``, told apart by its ``type``."""


class AwsSettings(_Model):
    """The ELBv2/EC2 clients of elbv2 mode (Route53 providers keep their own settings)."""

    region: AwsRegion = "us-east-1"
    """AWS region of the ELBv2 and EC2 clients."""
    endpoint_url: EndpointUrl = None
    """API endpoint override (moto, LocalStack)."""


class FleetPortSettings(_Model):
    """One port of a fleet's Service."""

    name: str
    """Port name (a DNS label), e.g. ``http``."""
    port: int = Field(ge=1, le=65535)
    """Port the load balancer listens on."""
    target_port: int | str
    """Container port (number or name) the traffic goes to."""


def _default_ports() -> tuple[FleetPortSettings, ...]:
    return (
        FleetPortSettings(name="http", port=80, target_port="http"),
        FleetPortSettings(name="https", port=443, target_port="https"),
    )


class LoadBalancerSettings(_Model):
    """How a fleet gets its cloud load balancer."""

    mode: Literal["service-annotations", "elbv2"] = "service-annotations"
    """``service-annotations``: a cloud controller provisions it; ``elbv2``: this reconciler."""
    target_type: Literal["ip", "instance"] = "ip"
    """NLB target type."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """Extra annotations on the fleet Service."""


class FleetTlsSettings(_Model):
    """TLS the fleet's controller serves besides the Ingresses' own ``spec.tls``."""

    default_certificate: str | None = None
    """Secret (kubernetes.io/tls, in the fleet's namespace) for names no Ingress covers."""
    ssl_passthrough: bool = False
    """Honour ``nginx.ingress.kubernetes.io/ssl-passthrough``: TLS reaches the backend as is."""


class FleetControllerSettings(_Model):
    """Controller-wide settings of a fleet."""

    proxy_connect_timeout: int | None = None
    """Seconds to connect to a backend."""
    proxy_read_timeout: int | None = None
    """Seconds between two reads from a backend."""
    proxy_send_timeout: int | None = None
    """Seconds between two writes to a backend."""
    proxy_body_size: int | str | None = None
    """Largest request body: bytes, or a size such as ``8m`` (0: no limit)."""
    allow_snippet_annotations: bool = False
    """Accept ``*-snippet`` annotations (raw controller configuration from any namespace)."""
    custom_http_errors: tuple[int, ...] = ()
    """Backend statuses answered by the default backend instead (needs ``defaultBackend``)."""


class FleetGatewaySettings(_Model):
    """The fleet's Gateway (Gateway API), served by its controller beside its IngressClass."""

    name: str | None = None
    """The Gateway's name in the fleet's namespace (default: the fleet's name)."""
    gateway_class_name: str | None = None
    """Its GatewayClass (default: the fleet's ``ingressClassName``)."""


class ResourcesSettings(_Model):
    """Container resources of a fleet's controller."""

    requests: dict[str, str] = Field(default_factory=dict)
    """Requests (``cpu``, ``memory``); the profile's defaults when empty."""
    limits: dict[str, str] = Field(default_factory=dict)
    """Limits; none when empty."""


class PodDisruptionBudgetSettings(_Model):
    """A PodDisruptionBudget for the fleet's controller pods (one of the two)."""

    min_available: int | str | None = None
    """Pods that must stay up (a count or a percentage)."""
    max_unavailable: int | str | None = None
    """Pods that may be down (a count or a percentage)."""


class AutoscalingSettings(_Model):
    """A HorizontalPodAutoscaler on CPU (Deployment fleets only)."""

    min_replicas: int
    """Fewest replicas."""
    max_replicas: int
    """Most replicas."""
    target_cpu_utilization: int = 80
    """Average CPU utilization (percent of the requests) to aim at."""


class FleetSettings(_Model):
    """One ingress-controller fleet: an IngressClass, its controller and its load balancer."""

    name: str
    """Fleet name (a DNS label): object names and the ``ingress-reconciler.io/fleet`` label."""
    ingress_class_name: str
    """The IngressClass users name in ``spec.ingressClassName``."""
    visibility: View
    """``public``: internet-facing LB, public DNS views; ``private``: internal LB, private views."""
    default: bool = False
    """Mark the IngressClass as the cluster default."""
    profile: str = DEFAULT_PROFILE
    """Controller profile (image, args, RBAC): ``traefik`` or ``ingress-nginx`` (retired)."""
    image: str | None = None
    """Override of the profile's image."""
    namespace: str
    """Namespace of the fleet's workload and Service."""
    replicas: int = Field(default=2, ge=0)
    """Controller replicas."""
    ports: tuple[FleetPortSettings, ...] = Field(default_factory=_default_ports)
    """Ports of the fleet's Service."""
    load_balancer: LoadBalancerSettings = LoadBalancerSettings()
    """How the load balancer is provisioned."""
    dns_providers: tuple[str, ...] = ()
    """Names of the providers this fleet's hosts are written to (their view = the visibility)."""
    kind: Literal["Deployment", "DaemonSet"] = "Deployment"
    """How the controller pods run."""
    resources: ResourcesSettings = ResourcesSettings()
    """Container resources."""
    pod_disruption_budget: PodDisruptionBudgetSettings | None = None
    """A PodDisruptionBudget for the controller pods."""
    autoscaling: AutoscalingSettings | None = None
    """A HorizontalPodAutoscaler (replaces ``replicas``)."""
    tls: FleetTlsSettings = FleetTlsSettings()
    """Default certificate and SSL passthrough."""
    default_backend: str | None = None
    """``namespace/name`` of the Service answering requests no rule matches."""
    controller: FleetControllerSettings = FleetControllerSettings()
    """Controller-wide settings (timeouts, body size, snippets, error pages)."""
    gateway: FleetGatewaySettings | None = None
    """A Gateway (and its GatewayClass) for Gateway API Routes, on the same controller and load
    balancer; none when unset."""

    def fleet_gateway(self) -> FleetGateway | None:
        """The fleet's Gateway with its defaults resolved (None without ``gateway``)."""
        if self.gateway is None:
            return None
        return FleetGateway(
            name=self.gateway.name or self.name,
            class_name=self.gateway.gateway_class_name or self.ingress_class_name,
        )

    @field_validator("name", "namespace")
    @classmethod
    def _check_label(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value):
            raise ValueError("use a DNS label: lower-case letters, digits and '-' (at most 63)")
        return value

    @field_validator("ingress_class_name")
    @classmethod
    def _check_class(cls, value: str) -> str:
        if not _DNS_SUBDOMAIN.fullmatch(value):
            raise ValueError("use a DNS subdomain name: lower-case letters, digits, '-' and '.'")
        return value


class TenantSettings(_Model):
    """A tenant: its namespaces, the domains it owns and the fleets it may use."""

    name: str
    """Tenant name (a DNS label)."""
    namespaces: tuple[str, ...] = ()
    """Namespaces that belong to the tenant by name."""
    namespace_selector: dict[str, str] = Field(default_factory=dict)
    """Namespaces whose labels contain all these pairs belong to the tenant."""
    domains: tuple[str, ...] = ()
    """Domains the tenant owns (each with every name below it)."""
    fleets: tuple[str, ...] = ()
    """Fleets (by name) its Ingresses may use."""
    targets: tuple[str, ...] = ()
    """Extra targets its records may point at."""


class TenancySettings(_Model):
    """What happens to namespaces that belong to no tenant."""

    unassigned: str = DENY
    """``deny`` (publish nothing) or the name of a tenant whose rules they follow."""


class LeaderElectionSettings(_Model):
    """Leader election on a Lease: only the leader writes."""

    enabled: bool = True
    """Elect a leader (off: this process always writes)."""
    lease_name: str = "ingress-reconciler"
    """Name of the Lease."""
    lease_namespace: str | None = None
    """Namespace of the Lease (default: ``$POD_NAMESPACE``)."""
    lease_duration: float = Field(default=15.0, gt=0)
    """Seconds a standby waits after the last renewal it saw."""
    renew_deadline: float = Field(default=10.0, gt=0)
    """Seconds the leader keeps writing after its last successful renewal."""
    retry_period: float = Field(default=2.0, gt=0)
    """Seconds between election attempts and renewals."""

    @model_validator(mode="after")
    def _check_timing(self) -> LeaderElectionSettings:
        if not self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("retryPeriod < renewDeadline < leaseDuration must hold")
        return self


class HealthSettings(_Model):
    """The probe and metrics server."""

    host: str = "0.0.0.0"  # noqa: S104 - probes come from the kubelet, not localhost
    """Address to listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port to listen on (0: any free port)."""
    tolerated_intervals: int = Field(default=3, ge=1)
    """``/healthz`` fails once no pass converged for this many intervals."""


class Settings(BaseSettings):
    """The whole configuration of one reconciler.

    Its only source is the values :func:`load_settings` passes in (see
    :meth:`settings_customise_sources`): pydantic-settings' environment source nests variables into
    mappings only, and its result replaces the file's value of a key whole, so
    ``INGRESS_RECONCILER_PROVIDERS__0__PORT`` could not change the port of one provider of the
    file's list (the chart's overrides do exactly that).
    :func:`load_settings` applies each ``INGRESS_RECONCILER_*`` variable to the file's data by
    path, list indices included, and names the variable in any error about its value.
    """

    model_config = SettingsConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        case_sensitive=True,  # keys are exact in the file; the environment is mapped explicitly
    )

    owner_id: str
    """Owner id written into every TXT ownership record (external-dns's ``--txt-owner-id``)."""
    policy: Literal["sync", "upsert-only", "create-only"] = "sync"
    """``sync`` also deletes; ``upsert-only`` never deletes; ``create-only`` only creates."""
    txt_prefix: str = ""
    """Prefix of TXT ownership names (may hold ``%{record_type}``)."""
    txt_suffix: str = ""
    """Suffix of TXT ownership names' first label (may hold ``%{record_type}``)."""
    txt_wildcard_replacement: str = ""
    """What replaces ``*`` in the TXT name of a wildcard record (external-dns's option)."""
    domain_filter: DomainFilterSettings = DomainFilterSettings()
    """Which names are managed at all."""
    managed_record_types: tuple[str, ...] = tuple(sorted(DEFAULT_MANAGED_TYPES))
    """Record types this reconciler creates, updates and deletes."""
    default_ttl: int = Field(default=300, alias="defaultTTL", ge=0, le=_MAX_TTL)
    """TTL of records created for an Ingress that sets none (a ``ttl`` annotation); an existing
    record's TTL is changed only by an annotation (0 is what external-dns's RFC2136 writes)."""
    annotation_prefixes: tuple[str, ...] = ANNOTATION_PREFIXES
    """external-dns annotation prefixes read for ``hostname``, ``target`` and ``ttl`` (both by
    default; one of them to match an external-dns deployment's ``--annotation-prefix``)."""
    public_excluded_target_nets: tuple[str, ...] = DEFAULT_PUBLIC_EXCLUDED_NETS
    """Address ranges no target of a public fleet may lie in (empty: no range guard)."""
    ingress_class_names: tuple[str, ...] = ()
    """Only Ingresses of these classes are published (every Ingress when empty)."""
    gateway_routes: bool = True
    """Publish the hosts of Gateway API Routes (those the cluster serves at v1)."""
    gateway_class_names: tuple[str, ...] = ()
    """Without fleets: only Routes on Gateways of these classes (every Gateway when empty)."""
    interval: float = Field(default=60.0, gt=0)
    """Seconds between two passes of ``run``."""
    resync_period: float = Field(default=3600.0, gt=0)
    """Seconds a Route53 provider trusts its listed zones (RFC2136 zones follow their serial)."""
    providers: tuple[ProviderSettings, ...] = ()
    """DNS providers; a record goes to the one whose zone is the longest suffix of its name."""
    debounce: float = Field(default=0.02, ge=0, le=60)
    """The coalescing window: seconds after the last watch event before an early pass runs
    (events within it make one pass; that pass reconciles only the Ingresses that changed)."""
    cluster_name: str = ""
    """elbv2 mode: subnet discovery (``kubernetes.io/cluster/<name>``) and LB ownership tags."""
    aws: AwsSettings = AwsSettings()
    """ELBv2/EC2 clients of elbv2 mode."""
    fleets: tuple[FleetSettings, ...] = ()
    """Ingress-controller fleets; empty: DNS only, for the ``ingressClassNames`` Ingresses."""
    tenants: tuple[TenantSettings, ...] = ()
    """Tenants; empty: single-tenant mode (no enforcement)."""
    tenancy: TenancySettings = TenancySettings()
    """Rule for namespaces in no tenant."""
    leader_election: LeaderElectionSettings = LeaderElectionSettings()
    """Leader election of ``run``."""
    health: HealthSettings = HealthSettings()
    """Probe and metrics server of ``run``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the values passed in: :func:`load_settings` merges the file and the environment
        (list items by index), which the library's own environment source cannot do."""
        return (init_settings,)

    @field_validator("owner_id")
    @classmethod
    def _check_owner(cls, value: str) -> str:
        if not _OWNER_ID.fullmatch(value):
            raise ValueError(
                "use 1-63 letters, digits, '.', '_' or '-' (it is written inside TXT values, "
                "so no quotes, commas, '=' or spaces)"
            )
        return value

    @field_validator("annotation_prefixes")
    @classmethod
    def _check_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"name at least one of {', '.join(ANNOTATION_PREFIXES)}")
        unknown = [p for p in value if p not in ANNOTATION_PREFIXES]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not an external-dns annotation prefix; "
                f"use {' or '.join(ANNOTATION_PREFIXES)}"
            )
        return value

    @field_validator("public_excluded_target_nets")
    @classmethod
    def _check_nets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(
                    f"{net!r} is not an address range; write one such as 10.0.0.0/8 or fc00::/7"
                ) from None
        return value

    @field_validator("txt_prefix", "txt_suffix", "txt_wildcard_replacement")
    @classmethod
    def _check_affix(cls, value: str) -> str:
        probe = value.replace("%{record_type}", "a")
        if probe and not re.fullmatch(r"[A-Za-z0-9._-]+", probe):
            raise ValueError("use letters, digits, '.', '_', '-' and %{record_type} only")
        return value

    @field_validator("managed_record_types", mode="before")
    @classmethod
    def _check_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            return value
        known = {t.value for t in RecordType} - {RecordType.TXT.value, RecordType.SOA.value}
        result: list[str] = []
        for item in value:
            rtype = str(item).strip().upper()
            if rtype not in known:
                raise ValueError(
                    f"{item!r} is not a record type this reconciler can manage "
                    f"(one of {', '.join(sorted(known))})"
                )
            if rtype not in result:
                result.append(rtype)
        if not result:
            raise ValueError("list at least one record type")
        return tuple(result)

    @field_validator("domain_filter", mode="before")
    @classmethod
    def _domain_filter_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple | str):
            return {"include": value}
        return value

    @model_validator(mode="after")
    def _check_whole(self) -> Settings:
        if self.owner_id == "default" and self.policy == "sync":
            raise ValueError(
                "ownerId: 'default' is refused with policy sync: choose an owner id unique to this "
                "cluster, or another reconciler using 'default' would delete your records"
            )
        names = [p.name for p in self.providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"providers: names must be unique ({', '.join(duplicates)} repeated)")
        self._check_fleets()
        self._check_tenants()
        try:
            self.fleet_specs()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self

    def _check_fleets(self) -> None:
        providers = {p.name: p for p in self.providers}
        seen_names: set[str] = set()
        classes: dict[str, str] = {}
        for index, fleet in enumerate(self.fleets):
            where = f"fleets[{index}]"
            if fleet.name in seen_names:
                raise ValueError(f"{where}.name: fleet {fleet.name!r} is defined twice")
            seen_names.add(fleet.name)
            other = classes.get(fleet.ingress_class_name)
            if other is not None:
                raise ValueError(
                    f"{where}.ingressClassName: class {fleet.ingress_class_name!r} is already "
                    f"fleet {other!r}'s; two fleets may not share a class"
                )
            classes[fleet.ingress_class_name] = fleet.name
            if fleet.load_balancer.mode == "elbv2" and not self.cluster_name:
                raise ValueError(
                    f"{where}.loadBalancer.mode: elbv2 needs clusterName (subnet discovery and "
                    "ownership tags)"
                )
            for name in fleet.dns_providers:
                provider = providers.get(name)
                if provider is None:
                    raise ValueError(
                        f"{where}.dnsProviders: no provider named {name!r} "
                        f"(known: {', '.join(sorted(providers)) or 'none'})"
                    )
                view = provider.effective_view
                if view is None:
                    raise ValueError(
                        f"providers[{name}].view: required once fleets use it (public or private)"
                    )
                if view != fleet.visibility:
                    raise ValueError(
                        f"{where}.dnsProviders: provider {name!r} serves the {view} view, but "
                        f"fleet {fleet.name!r} is {fleet.visibility} (split horizon: a fleet "
                        "writes only to providers of its own visibility)"
                    )

    def _check_tenants(self) -> None:
        if not self.tenants:
            return
        if not self.fleets:
            raise ValueError("tenants: tenants need fleets; configure fleets first")
        fleet_names = {f.name for f in self.fleets}
        for index, tenant in enumerate(self.tenants):
            if not tenant.fleets:
                raise ValueError(f"tenants[{index}].fleets: list the fleets the tenant may use")
            unknown = sorted(set(tenant.fleets) - fleet_names)
            if unknown:
                raise ValueError(
                    f"tenants[{index}].fleets: no fleet named {', '.join(map(repr, unknown))} "
                    f"(known: {', '.join(sorted(fleet_names))})"
                )
        try:
            validate_tenancy(self.tenancy_config(), self.tenancy_fleets())
        except ConfigError as exc:
            message = str(exc)
            raise ValueError(
                message if message.startswith(("tenants", "tenancy")) else f"tenants: {message}"
            ) from None

    def fleet_specs(self) -> tuple[FleetSpec, ...]:
        """The fleets as :class:`reconciler.fleets.spec.FleetSpec` values (ConfigError when
        invalid)."""
        return tuple(
            FleetSpec.of(
                name=f.name,
                ingress_class_name=f.ingress_class_name,
                visibility=f.visibility,
                namespace=f.namespace,
                is_default=f.default,
                profile=f.profile,
                image=f.image,
                replicas=f.replicas,
                ports=tuple(FleetPort(p.name, p.port, p.target_port) for p in f.ports),
                lb_mode=f.load_balancer.mode,
                target_type=f.load_balancer.target_type,
                extra_annotations=f.load_balancer.annotations,
                dns_providers=f.dns_providers,
                gateway=f.fleet_gateway(),
                options=ControllerOptions.of(
                    key=f"fleets[{f.name}]",
                    default_certificate=f.tls.default_certificate,
                    ssl_passthrough=f.tls.ssl_passthrough,
                    default_backend=f.default_backend,
                    custom_http_errors=f.controller.custom_http_errors,
                    proxy_connect_timeout=f.controller.proxy_connect_timeout,
                    proxy_read_timeout=f.controller.proxy_read_timeout,
                    proxy_send_timeout=f.controller.proxy_send_timeout,
                    proxy_body_size=f.controller.proxy_body_size,
                    allow_snippet_annotations=f.controller.allow_snippet_annotations,
                ),
                workload=WorkloadShape.of(
                    key=f"fleets[{f.name}]",
                    kind=f.kind,
                    requests=f.resources.requests,
                    limits=f.resources.limits,
                    min_available=(
                        f.pod_disruption_budget.min_available if f.pod_disruption_budget else None
                    ),
                    max_unavailable=(
                        f.pod_disruption_budget.max_unavailable if f.pod_disruption_budget else None
                    ),
                    autoscaling=(
                        Autoscaling(
                            f.autoscaling.min_replicas,
                            f.autoscaling.max_replicas,
                            f.autoscaling.target_cpu_utilization,
                        )
                        if f.autoscaling
                        else None
                    ),
                ),
            )
            for f in self.fleets
        )

    def tenancy_config(self) -> TenancyConfig:
        """The tenants and the unassigned rule as :mod:`reconciler.dns.tenancy` values."""
        return TenancyConfig(
            tenants=tuple(
                Tenant.of(
                    t.name,
                    namespaces=t.namespaces,
                    namespace_selector=t.namespace_selector,
                    domains=t.domains,
                    fleets=t.fleets,
                    targets=t.targets,
                )
                for t in self.tenants
            ),
            unassigned=self.tenancy.unassigned,
            reserved_names=self.reserved_names(),
        )

    def reserved_names(self) -> tuple[str, ...]:
        """Patterns of the ownership namespace for the configured TXT affixes and types."""
        mapper = AffixNameMapper.of(self.txt_prefix, self.txt_suffix, self.txt_wildcard_replacement)
        return reserved_name_patterns(mapper, self.managed_record_types)

    def tenancy_fleets(
        self, addresses: Mapping[str, Iterable[str]] | None = None
    ) -> tuple[Fleet, ...]:
        """The fleets as tenancy sees them; ``addresses``: fleet name → its LB's addresses."""
        known = addresses or {}
        fleets: list[Fleet] = []
        for f in self.fleets:
            gateway = f.fleet_gateway()
            fleets.append(
                Fleet.of(
                    f.name,
                    f.ingress_class_name,
                    f.visibility,
                    known.get(f.name, ()),
                    namespace=f.namespace,
                    gateway=gateway.name if gateway else "",
                    gateway_class=gateway.class_name if gateway else "",
                )
            )
        return tuple(fleets)

    def election_config(self, identity: str) -> ElectionConfig:
        """Leader-election timing for the candidate ``identity``."""
        le = self.leader_election
        return ElectionConfig(
            identity=identity,
            lease_duration=timedelta(seconds=le.lease_duration),
            renew_deadline=timedelta(seconds=le.renew_deadline),
            retry_period=timedelta(seconds=le.retry_period),
        )


def _env_key(segment: str) -> str | int:
    """One ``__``-separated segment of an environment variable name as a key of the file."""
    if segment.isdigit():
        return int(segment)
    special = {"default_ttl": "defaultTTL"}
    lowered = segment.lower()
    return special.get(lowered, to_camel(lowered))


def _env_value(raw: str) -> Any:
    """JSON lists and objects are structure; everything else is the string itself."""
    text = raw.strip()
    if text.startswith(("[", "{")):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def _set_path(data: dict[str, Any], path: list[str | int], value: Any, env_name: str) -> None:
    """Set ``value`` at ``path`` inside nested dicts/lists, creating dicts as needed."""
    node: Any = data
    for index, key in enumerate(path):
        last = index == len(path) - 1
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                raise ConfigError(
                    f"{env_name}: index {key} does not exist in the configuration file's list"
                )
            if last:
                node[key] = value
            else:
                node = node[key]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{env_name}: {key!r} is not inside an object")
        if last:
            node[key] = value
        else:
            child = node.get(key)
            if child is None:
                child = {}
                node[key] = child
            node = child


def _environment_paths(env: Mapping[str, str]) -> dict[tuple[str | int, ...], str]:
    """The key path each ``INGRESS_RECONCILER_*`` variable sets (``PROVIDERS__0__PORT`` ->
    ``("providers", 0, "port")``), in name order; ConfigError for a malformed name."""
    paths: dict[tuple[str | int, ...], str] = {}
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :]
        segments = rest.split(_ENV_DELIMITER)
        if not rest or any(not s for s in segments):
            raise ConfigError(f"{name}: malformed variable name (empty key between '__')")
        paths[tuple(_env_key(s) for s in segments)] = name
    return paths


def _from_environment(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A deep copy of ``data`` with every ``INGRESS_RECONCILER_*`` variable applied on top."""
    merged: dict[str, Any] = copy.deepcopy(data)
    for path, name in _environment_paths(env).items():
        _set_path(merged, list(path), _env_value(env[name]), name)
    return merged


def _read_file(path: Path) -> dict[str, Any]:
    text = read_text_file(path, option="--config")
    data = load_yaml_text(text, what=f"--config: {str(path)!r}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {str(path)!r} must hold a mapping of keys at the top level")
    return data


def _location(loc: tuple[str | int, ...]) -> str:
    """``('providers', 0, 'rfc2136', 'tsig', 'keyName')`` → ``providers[0].tsig.keyName``."""
    text = ""
    previous: str | int | None = None
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif isinstance(previous, int) and part in ("rfc2136", "route53"):
            pass  # the discriminator tag pydantic inserts; the user never wrote it
        else:
            text += ("." if text else "") + part
        previous = part
    return text or "(top level)"


def _explain(error: ValidationError, from_env: Mapping[tuple[str | int, ...], str] = {}) -> str:
    lines: list[str] = []
    for item in error.errors(include_url=False, include_input=False):
        where = _location(tuple(item["loc"]))
        loc = tuple(
            part
            for index, part in enumerate(item["loc"])
            if not (
                index and isinstance(item["loc"][index - 1], int) and part in ("rfc2136", "route53")
            )
        )
        variable = next((name for path, name in from_env.items() if loc[: len(path)] == path), None)
        if variable is not None:
            where = f"{where} (set by the environment variable {variable})"
        kind = item["type"]
        message = str(item["msg"])
        if kind == "extra_forbidden":
            message = "unknown key (not supported by this version; check its spelling)"
        elif kind == "missing":
            message = "required key is missing"
        elif kind == "union_tag_invalid":
            message = "type must be one of rfc2136, route53"
        elif kind == "union_tag_not_found":
            message = "each provider needs a type: rfc2136 or route53"
        message = message.removeprefix("Value error, ")
        lines.append(f"{where}: {message}" if item["loc"] else message)
    return "invalid configuration: " + "; ".join(lines)


def load_settings(path: Path | str | None, env: Mapping[str, str]) -> Settings:
    """Read ``path`` (YAML, optional), apply ``env``'s ``INGRESS_RECONCILER_*`` variables, validate.

    Raise :class:`ConfigError` naming every bad key and what to fix.
    """
    data = _read_file(Path(path)) if path is not None else {}
    merged = _from_environment(data, env)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, _environment_paths(env))) from None
