"""Settings: the file, the environment on top, and one clear error per bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from reconciler.app.settings import Rfc2136Settings, Route53Settings, Settings, load_settings
from reconciler.model.errors import ConfigError

SECRET = "c2VjcmV0LXZhbHVlLW5ldmVyLXByaW50ZWQ="


def base() -> dict[str, Any]:
    return {
        "ownerId": "cluster-a",
        "providers": [
            {
                "name": "bind",
                "type": "rfc2136",
                "host": "127.0.0.1",
                "port": 5353,
                "zones": ["Example.Test."],
                "tsig": {"keyName": "ddns-key", "secretFile": "/run/secrets/tsig"},
            },
            {"name": "aws", "type": "route53", "zoneType": "public", "endpointUrl": "http://x"},
        ],
    }


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_full_file_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, base()), {})
    assert settings.owner_id == "cluster-a"
    assert settings.policy == "sync"
    assert settings.default_ttl == 300
    assert settings.managed_record_types == ("A", "AAAA", "CNAME")
    assert settings.interval == 60.0
    bind, aws = settings.providers
    assert isinstance(bind, Rfc2136Settings)
    assert bind.zones == ("example.test",)
    assert bind.tsig is not None
    assert bind.tsig.algorithm == "hmac-sha256"
    assert isinstance(aws, Route53Settings)
    assert aws.zone_type == "public"
    assert aws.region == "us-east-1"
    assert aws.evaluate_target_health is True


def test_environment_overrides_file_and_nests(tmp_path: Path) -> None:
    env = {
        "INGRESS_RECONCILER_OWNER_ID": "cluster-b",
        "INGRESS_RECONCILER_POLICY": "upsert-only",
        "INGRESS_RECONCILER_DEFAULT_TTL": "60",
        "INGRESS_RECONCILER_MANAGED_RECORD_TYPES": "a,cname",
        "INGRESS_RECONCILER_DOMAIN_FILTER__EXCLUDE": '["internal.example.test"]',
        "INGRESS_RECONCILER_PROVIDERS__0__PORT": "53",
        "INGRESS_RECONCILER_PROVIDERS__0__TSIG__SECRET_FILE": "/elsewhere",
        "INGRESS_RECONCILER_PROVIDERS__1__REGION": "eu-west-1",
        "UNRELATED": "ignored",
    }
    settings = load_settings(write(tmp_path, base()), env)
    assert settings.owner_id == "cluster-b"
    assert settings.policy == "upsert-only"
    assert settings.default_ttl == 60
    assert settings.managed_record_types == ("A", "CNAME")
    assert settings.domain_filter.exclude == ("internal.example.test",)
    bind, aws = settings.providers
    assert isinstance(bind, Rfc2136Settings)
    assert bind.port == 53
    assert bind.tsig is not None
    assert bind.tsig.secret_file == Path("/elsewhere")
    assert isinstance(aws, Route53Settings)
    assert aws.region == "eu-west-1"


def test_environment_alone_is_enough() -> None:
    settings = load_settings(None, {"INGRESS_RECONCILER_OWNER_ID": "x"})
    assert settings.providers == ()


def test_domain_filter_list_or_object(tmp_path: Path) -> None:
    listed = load_settings(write(tmp_path, {**base(), "domainFilter": ["A.test."]}), {})
    assert listed.domain_filter.include == ("a.test",)
    obj = {**base(), "domainFilter": {"include": ["a.test"], "exclude": ["b.a.test"]}}
    both = load_settings(write(tmp_path, obj), {})
    assert both.domain_filter.exclude == ("b.a.test",)


def test_secret_never_printed(tmp_path: Path) -> None:
    data = base()
    data["providers"][0]["tsig"] = {"keyName": "k", "secret": SECRET}
    settings = load_settings(write(tmp_path, data), {})
    bind = settings.providers[0]
    assert isinstance(bind, Rfc2136Settings)
    assert bind.tsig is not None
    assert bind.tsig.read_secret().get_secret_value() == SECRET
    for text in (repr(settings), str(settings), str(settings.model_dump(mode="json"))):
        assert SECRET not in text


def test_secret_file_read_and_errors(tmp_path: Path) -> None:
    secret_file = tmp_path / "tsig"
    secret_file.write_text(SECRET + "\n")
    data = base()
    data["providers"][0]["tsig"]["secretFile"] = str(secret_file)
    bind = load_settings(write(tmp_path, data), {}).providers[0]
    assert isinstance(bind, Rfc2136Settings)
    assert bind.tsig is not None
    assert bind.tsig.read_secret() == SecretStr(SECRET)
    secret_file.unlink()
    with pytest.raises(ConfigError, match=r"tsig\.secretFile: cannot read"):
        bind.tsig.read_secret()


def _set(data: dict[str, Any], path: str, value: object) -> None:
    node: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("ownerId", _DELETE, "ownerId: required key is missing"),
        ("ownerId", "default", "ownerId: 'default' is refused with policy sync"),
        ("ownerId", 'a"b', "ownerId: use 1-63 letters"),
        ("ownerId", "a,b=c", "ownerId: use 1-63 letters"),
        ("policy", "delete-all", "policy: Input should be 'sync', 'upsert-only' or 'create-only'"),
        ("txtPrefix", 'x"', "txtPrefix: use letters"),
        ("txtWildcardReplacement", "a,b", "txtWildcardReplacement: use letters"),
        ("managedRecordTypes", ["A", "TXT"], "managedRecordTypes: 'TXT' is not a record type"),
        ("managedRecordTypes", [], "managedRecordTypes: list at least one record type"),
        ("defaultTTL", -1, "defaultTTL: Input should be greater than or equal to 0"),
        ("defaultTTL", 2**31, "defaultTTL: Input should be less than or equal to 2147483647"),
        ("interval", -1, "interval: Input should be greater than 0"),
        ("domainFilter", ["bad..name"], "domainFilter.include: 'bad..name': empty label"),
        ("fleets", {}, "fleets: Input should be a valid"),
        ("colour", "blue", "colour: unknown key"),
        ("ownerID", "x", "ownerID: unknown key"),
        ("providers.0.type", "powerdns", "providers[0]: type must be one of rfc2136, route53"),
        ("providers.0.type", _DELETE, "providers[0]: each provider needs a type"),
        ("providers.0.port", 70000, "providers[0].port: Input should be less than or equal to"),
        ("providers.0.zones", [], "providers[0].zones: Tuple should have at least 1 item"),
        ("providers.0.host", _DELETE, "providers[0].host: required key is missing"),
        ("providers.0.name", "Bad Name", "providers[0].name: use lower-case letters"),
        ("providers.0.tsig.keyName", _DELETE, "providers[0].tsig.keyName: required key"),
        ("providers.0.tsig.algorithm", "md5", "providers[0].tsig.algorithm: Input should be"),
        ("providers.0.tsig.secret", "x", "providers[0].tsig: set exactly one of secretFile"),
        ("providers.0.tsig.secretFile", _DELETE, "providers[0].tsig: set exactly one"),
        ("providers.0.tsig.extra", 1, "providers[0].tsig.extra: unknown key"),
        ("providers.1.zoneType", "both", "providers[1].zoneType: Input should be 'public'"),
        ("providers.1.name", "bind", "providers: names must be unique (bind repeated)"),
    ],
)
def test_each_bad_key_is_named(tmp_path: Path, path: str, value: object, message: str) -> None:
    data = base()
    _set(data, path, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, data), {})
    assert message in str(caught.value)
    assert str(caught.value).startswith("invalid configuration: ")


def test_default_owner_allowed_when_policy_cannot_delete(tmp_path: Path) -> None:
    data = {**base(), "ownerId": "default", "policy": "upsert-only"}
    assert load_settings(write(tmp_path, data), {}).owner_id == "default"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ownerId: [unclosed", "is not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, {})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", {})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INGRESS_RECONCILER_PROVIDERS__5__PORT": "1"}, "index 5 does not exist"),
        ({"INGRESS_RECONCILER_OWNER_ID__X": "1"}, "is not inside an object"),
        ({"INGRESS_RECONCILER_": "1"}, "malformed variable name"),
        (
            {"INGRESS_RECONCILER_COLOUR": "blue"},
            "colour \\(set by the environment variable INGRESS_RECONCILER_COLOUR\\): unknown key",
        ),
    ],
)
def test_bad_environment(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, base()), env)


def test_model_is_frozen(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, base()), {})
    with pytest.raises(ValueError, match="frozen"):
        settings.owner_id = "other"
    assert isinstance(settings, Settings)


def test_sample_config_loads() -> None:
    sample = Path(__file__).resolve().parents[3] / "samples" / "config.yaml"
    settings = load_settings(sample, {"INGRESS_RECONCILER_PROVIDERS__0__PORT": "5300"})
    assert settings.owner_id == "sample-cluster"
    assert settings.ingress_class_names == ("public", "private")


def fleet_config() -> dict[str, Any]:
    """The shared plan's example: a public and a private fleet, split-horizon providers, tenants."""
    return {
        "ownerId": "cluster-a",
        "debounce": 0.25,
        "clusterName": "cluster-a",
        "aws": {"region": "eu-west-1", "endpointUrl": "http://127.0.0.1:5000"},
        "providers": [
            {"name": "route53-public", "type": "route53", "zoneType": "public"},
            {
                "name": "bind-private",
                "type": "rfc2136",
                "view": "private",
                "host": "127.0.0.1",
                "zones": ["internal.example.test"],
            },
        ],
        "fleets": [
            {
                "name": "public",
                "ingressClassName": "public",
                "visibility": "public",
                "namespace": "ingress-public",
                "dnsProviders": ["route53-public"],
            },
            {
                "name": "private",
                "ingressClassName": "private",
                "visibility": "private",
                "default": True,
                "namespace": "ingress-private",
                "replicas": 1,
                "loadBalancer": {"mode": "elbv2", "targetType": "instance"},
                "dnsProviders": ["bind-private"],
            },
        ],
        "tenants": [
            {
                "name": "team-a",
                "namespaces": ["a"],
                "domains": ["a.example.test"],
                "fleets": ["public", "private"],
            },
            {
                "name": "team-b",
                "namespaceSelector": {"team": "b"},
                "domains": ["b.example.test"],
                "fleets": ["private"],
                "targets": ["10.1.2.3"],
            },
        ],
        "tenancy": {"unassigned": "team-b"},
        "leaderElection": {"leaseNamespace": "ops", "leaseDuration": 30, "renewDeadline": 20},
        "health": {"host": "127.0.0.1", "port": 9090, "toleratedIntervals": 5},
    }


def test_fleet_config_keys_and_defaults(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, fleet_config()), {})
    assert settings.debounce == 0.25
    assert settings.cluster_name == "cluster-a"
    assert (settings.aws.region, settings.aws.endpoint_url) == (
        "eu-west-1",
        "http://127.0.0.1:5000",
    )
    public, private = settings.fleets
    assert public.profile == "traefik"
    assert public.image is None
    assert public.replicas == 2
    assert public.default is False
    assert private.default is True
    assert [(p.name, p.port, p.target_port) for p in public.ports] == [
        ("http", 80, "http"),
        ("https", 443, "https"),
    ]
    assert public.load_balancer.mode == "service-annotations"
    assert public.load_balancer.target_type == "ip"
    assert private.load_balancer.mode == "elbv2"
    assert private.load_balancer.target_type == "instance"
    r53, bind = settings.providers
    assert r53.view is None
    assert r53.effective_view == "public"
    assert bind.effective_view == "private"
    assert settings.leader_election.enabled is True
    assert settings.leader_election.lease_name == "ingress-reconciler"
    assert settings.leader_election.lease_namespace == "ops"
    assert settings.leader_election.retry_period == 2.0
    assert (settings.health.host, settings.health.port) == ("127.0.0.1", 9090)
    assert settings.health.tolerated_intervals == 5


def test_fleet_config_defaults_without_keys(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, base()), {})
    assert settings.fleets == ()
    assert settings.tenants == ()
    assert settings.tenancy.unassigned == "deny"
    assert settings.debounce == 0.02
    assert settings.health.host == "0.0.0.0"
    assert settings.health.port == 8080
    assert settings.health.tolerated_intervals == 3
    le = settings.leader_election
    assert (le.enabled, le.lease_duration, le.renew_deadline, le.retry_period) == (
        True,
        15.0,
        10.0,
        2.0,
    )
    assert le.lease_namespace is None
    assert settings.aws.region == "us-east-1"
    assert settings.aws.endpoint_url is None


def test_fleet_config_maps_to_core_values(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, fleet_config()), {})
    tenancy = settings.tenancy_config()
    assert tenancy.unassigned == "team-b"
    team_a, team_b = tenancy.tenants
    assert team_a.namespaces == ("a",)
    assert team_a.fleets == ("private", "public")
    assert dict(team_b.namespace_selector) == {"team": "b"}
    assert team_b.targets == ("10.1.2.3",)
    fleets = settings.tenancy_fleets({"private": ["10.0.0.9"]})
    assert [(f.name, f.class_name, str(f.visibility), f.addresses) for f in fleets] == [
        ("public", "public", "public", ()),
        ("private", "private", "private", ("10.0.0.9",)),
    ]
    election = settings.election_config("pod-1")
    assert election.identity == "pod-1"
    assert election.lease_duration.total_seconds() == 30
    assert election.renew_deadline.total_seconds() == 20
    assert election.retry_period.total_seconds() == 2


def test_fleet_config_environment_reaches_nested_keys(tmp_path: Path) -> None:
    env = {
        "INGRESS_RECONCILER_FLEETS__0__REPLICAS": "5",
        "INGRESS_RECONCILER_LEADER_ELECTION__ENABLED": "false",
        "INGRESS_RECONCILER_HEALTH__PORT": "0",
        "INGRESS_RECONCILER_CLUSTER_NAME": "other",
    }
    settings = load_settings(write(tmp_path, fleet_config()), env)
    assert settings.fleets[0].replicas == 5
    assert settings.leader_election.enabled is False
    assert settings.health.port == 0
    assert settings.cluster_name == "other"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("fleets.0.dnsProviders", ["nope"], "fleets[0].dnsProviders: no provider named 'nope'"),
        ("fleets.0.dnsProviders", ["bind-private"], "serves the private view, but fleet 'public'"),
        ("fleets.1.ingressClassName", "public", "fleets[1].ingressClassName: class 'public'"),
        ("fleets.1.name", "public", "fleets[1].name: fleet 'public' is defined twice"),
        ("fleets.0.visibility", "secret", "fleets[0].visibility: Input should be 'public'"),
        ("fleets.0.name", "Public", "fleets[0].name: use a DNS label"),
        ("fleets.1.loadBalancer.mode", "alb", "fleets[1].loadBalancer.mode: Input should be"),
        (
            "fleets.0.ports",
            [{"name": "http", "port": 0, "targetPort": 80}],
            "fleets[0].ports[0].port: Input should be greater",
        ),
        ("fleets.0.namespace", _DELETE, "fleets[0].namespace: required key is missing"),
        ("clusterName", "", "fleets[1].loadBalancer.mode: elbv2 needs clusterName"),
        ("providers.0.zoneType", "any", "providers[route53-public].view: required once fleets"),
        ("providers.1.view", "public", "provider 'bind-private' serves the public view"),
        ("providers.1.view", "dmz", "providers[1].view: Input should be 'public'"),
        ("tenants.0.fleets", ["gold"], "tenants[0].fleets: no fleet named 'gold'"),
        ("tenants.0.fleets", [], "tenants[0].fleets: list the fleets the tenant may use"),
        ("tenants.1.domains", ["a.example.test"], "tenants: "),
        ("tenants.1.namespaces", ["a"], "tenants: "),
        ("tenancy.unassigned", "team-z", "tenancy.unassigned: 'team-z' must be 'deny'"),
        ("fleets", [], "tenants: tenants need fleets"),
        ("leaderElection.renewDeadline", 40, "leaderElection: retryPeriod < renewDeadline"),
        ("health.port", 70000, "health.port: Input should be less than or equal"),
        ("health.toleratedIntervals", 0, "health.toleratedIntervals: Input should be greater"),
        ("debounce", -1, "debounce: Input should be greater than or equal to 0"),
        ("aws.colour", "x", "aws.colour: unknown key"),
        ("fleets.0.gateway", {"colour": "x"}, "fleets[0].gateway.colour: unknown key"),
        ("fleets.0.gateway", {"name": "Not_A_Name"}, "fleets[public].gateway: name 'Not_A_Name'"),
        ("gatewayClassNames", "public", "gatewayClassNames: Input should be a valid"),
    ],
)
def test_fleet_config_bad_keys_are_named(
    tmp_path: Path, path: str, value: object, message: str
) -> None:
    data = fleet_config()
    _set(data, path, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, data), {})
    assert message in str(caught.value)


def test_a_fleet_gateway_needs_a_profile_that_serves_gateway_api(tmp_path: Path) -> None:
    data = fleet_config()
    data["fleets"][0]["gateway"] = {}
    settings = load_settings(write(tmp_path, data), {})
    (spec, _) = settings.fleet_specs()
    assert spec.gateway is not None
    assert (spec.gateway.name, spec.gateway.class_name) == (spec.name, spec.ingress_class_name)
    data["fleets"][0]["profile"] = "ingress-nginx"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, data), {})
    assert "gateway: profile ingress-nginx does not serve Gateway API" in str(caught.value)


def test_single_tenant_fleets_need_no_tenants(tmp_path: Path) -> None:
    data = fleet_config()
    del data["tenants"]
    del data["tenancy"]
    settings = load_settings(write(tmp_path, data), {})
    assert settings.tenancy_config().tenants == ()
    assert len(settings.fleets) == 2
