"""Settings: the file, the environment on top, and one clear error per bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from reconciler.errors import ConfigError
from reconciler.settings import Rfc2136Settings, Route53Settings, Settings, load_settings

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
    for text in (repr(settings), str(settings), str(settings.dump_public())):
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
        ("defaultTTL", 0, "defaultTTL: Input should be greater than or equal to 1"),
        ("defaultTTL", 2**31, "defaultTTL: Input should be less than or equal to 2147483647"),
        ("interval", -1, "interval: Input should be greater than 0"),
        ("domainFilter", ["bad..name"], "domainFilter.include: 'bad..name': empty label"),
        ("fleets", [], "fleets: unknown key"),
        ("tenants", {}, "tenants: unknown key"),
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
        ({"INGRESS_RECONCILER_COLOUR": "blue"}, "colour: unknown key"),
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
    sample = Path(__file__).resolve().parents[2] / "samples" / "config.yaml"
    settings = load_settings(sample, {"INGRESS_RECONCILER_PROVIDERS__0__PORT": "5300"})
    assert settings.owner_id == "sample-cluster"
    assert settings.ingress_class_names == ("public", "private")
