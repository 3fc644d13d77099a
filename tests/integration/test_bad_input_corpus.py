"""Bad input through the CLI against the real BIND9: a table of hostile configs, environments,
manifests and provider settings.

Every case runs ``plan`` or ``once`` in process (``cli.main``) and checks: the exit code (2 for bad
configuration, 1 for a runtime fault, 0 when the bad part is refused and the rest goes on), that
the message names what to fix, that no Python traceback is printed, and that the zone afterwards
holds the foreign and pre-existing records unchanged (AXFR before and after) plus, when the pass
ran, the good neighbour's record. Human-readable output never carries a control character.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import yaml

from e2e.servers.bind import BindServer, ZoneRecord
from e2e.servers.moto import MotoServer
from reconciler.app import cli
from tests.fixtures.moto import aws_client_kwargs

if TYPE_CHECKING:
    from mypy_boto3_route53.type_defs import ResourceRecordSetTypeDef

pytestmark = pytest.mark.integration

FOREIGN = ZoneRecord("foreign.example.test", "A", 300, ("198.51.100.7",))
FOREIGN_TXT = ZoneRecord("note.example.test", "TXT", 300, ('"v=spf1 -all"',))
GOOD_HOST = "good.example.test"


def base_config(bind: BindServer) -> dict[str, Any]:
    return {
        "ownerId": "corpus",
        "providers": [
            {
                "name": "bind",
                "type": "rfc2136",
                "host": "127.0.0.1",
                "port": bind.port,
                "zones": ["example.test"],
                "tsig": {"keyName": bind.key_name, "secretFile": str(bind.secret_file)},
            }
        ],
    }


def ingress(name: str, host: str, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "web"},
        "spec": {"rules": [{"host": host}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}},
    }
    for key, value in extra.items():
        if key == "annotations":
            obj["metadata"]["annotations"] = value
        else:
            obj[key] = value
    return obj


GOOD = ingress("good", GOOD_HOST)


@dataclass(frozen=True)
class Case:
    """One hostile input: what it changes, and what the CLI must answer."""

    id: str
    code: int
    words: tuple[str, ...]
    """Each must appear in stdout + stderr (the key, file or object to fix)."""
    config: Callable[[dict[str, Any], Path], None] | None = None
    config_text: bytes | None = None
    """Raw bytes of the config file (replaces the generated one)."""
    env: dict[str, str] = field(default_factory=dict)
    manifests: tuple[dict[str, Any], ...] = ()
    manifest_text: bytes | None = None
    command: tuple[str, ...] = ("once",)
    good_published: bool | None = None
    """Is the good neighbour written? None: expected when the exit code is 0."""
    bad_published: bool = False
    """The bad Ingress's own host is valid and published (only an annotation was refused)."""


def setter(*path: str | int, value: Any) -> Callable[[dict[str, Any], Path], None]:
    def change(config: dict[str, Any], _: Path) -> None:
        node: Any = config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def dropper(*path: str | int) -> Callable[[dict[str, Any], Path], None]:
    def change(config: dict[str, Any], _: Path) -> None:
        node: Any = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def secret_file(content: bytes) -> Callable[[dict[str, Any], Path], None]:
    def change(config: dict[str, Any], tmp: Path) -> None:
        path = tmp / "bad.secret"
        path.write_bytes(content)
        config["providers"][0]["tsig"]["secretFile"] = str(path)

    return change


def both_affixes(config: dict[str, Any], _: Path) -> None:
    config["txtPrefix"] = "p-"
    config["txtSuffix"] = "-s"


def fleet_with(**options: Any) -> Callable[[dict[str, Any], Path], None]:
    """A public fleet writing to the BIND provider (public view), with ``options`` (camelCase
    keys) added."""
    fleet = {
        "name": "f",
        "ingressClassName": "f",
        "visibility": "public",
        "namespace": "f",
        "dnsProviders": ["bind"],
        **options,
    }

    def change(config: dict[str, Any], _: Path) -> None:
        config["providers"][0]["view"] = "public"
        config["fleets"] = [fleet]

    return change


P0 = ("providers", 0)
CONFIG_CASES = [
    Case("config-not-utf8", 2, ("not UTF-8",), config_text=b"ownerId: caf\xe9\n"),
    Case("config-invalid-yaml", 2, ("not valid YAML",), config_text=b"ownerId: [unclosed\n"),
    Case("config-top-level-list", 2, ("mapping",), config_text=b"- ownerId\n"),
    Case("config-nested-brackets", 2, ("nested too deeply",), config_text=b"x: " + b"[" * 5000),
    Case("config-nested-maps", 2, ("nested too deeply",), config_text=b"x: " + b"{a: " * 5000),
    Case("config-binary-owner", 2, ("ownerId", "binary"), config_text=b"ownerId: !!binary aGk=\n"),
    Case("config-set-value", 2, ("ownerId",), config_text=b"ownerId: !!set {a: null}\n"),
    Case("config-python-tag", 2, ("not valid YAML",), config_text=b"x: !!python/name:os.system\n"),
    Case("config-empty-file", 2, ("ownerId",), config_text=b""),
    Case("owner-date", 2, ("providers",), config_text=b"ownerId: 2024-01-01\n"),
    Case("owner-missing", 2, ("ownerId", "required"), config=dropper("ownerId")),
    Case("owner-comma", 2, ("ownerId",), config=setter("ownerId", value="a,b")),
    Case("owner-quote", 2, ("ownerId",), config=setter("ownerId", value='a"b')),
    Case("owner-space", 2, ("ownerId",), config=setter("ownerId", value="a b")),
    Case("owner-too-long", 2, ("ownerId",), config=setter("ownerId", value="o" * 64)),
    Case("owner-newline", 2, ("ownerId",), config=setter("ownerId", value="owner\n")),
    Case("owner-number", 2, ("ownerId",), config=setter("ownerId", value=12)),
    Case("policy-unknown", 2, ("policy",), config=setter("policy", value="delete-all")),
    Case("ttl-negative", 2, ("defaultTTL",), config=setter("defaultTTL", value=-1)),
    Case("ttl-text", 2, ("defaultTTL",), config=setter("defaultTTL", value="abc")),
    Case("ttl-huge", 2, ("defaultTTL",), config=setter("defaultTTL", value=2**31)),
    Case(
        "types-unknown",
        2,
        ("managedRecordTypes",),
        config=setter("managedRecordTypes", value=["BOGUS"]),
    ),
    Case("types-empty", 2, ("managedRecordTypes",), config=setter("managedRecordTypes", value=[])),
    Case("unknown-key", 2, ("ownerID", "unknown key"), config=setter("ownerID", value="x")),
    Case("prefix-and-suffix", 2, ("txt", "prefix", "suffix"), config=both_affixes),
    Case("prefix-bad-chars", 2, ("txtPrefix",), config=setter("txtPrefix", value="a b")),
    Case("prefix-newline", 2, ("txtPrefix",), config=setter("txtPrefix", value="p-\n")),
    Case(
        "annotation-prefix-unknown",
        2,
        ("annotationPrefixes",),
        config=setter("annotationPrefixes", value=["example.com/"]),
    ),
    Case(
        "annotation-prefix-empty",
        2,
        ("annotationPrefixes",),
        config=setter("annotationPrefixes", value=[]),
    ),
    Case(
        "excluded-net-bad",
        2,
        ("publicExcludedTargetNets",),
        config=setter("publicExcludedTargetNets", value=["10.0.0.0/33"]),
    ),
    Case("interval-zero", 2, ("interval",), config=setter("interval", value=0)),
    Case("debounce-huge", 2, ("debounce",), config=setter("debounce", value=1000)),
    Case("providers-empty", 2, ("providers",), config=setter("providers", value=[])),
    Case("providers-not-list", 2, ("providers",), config=setter("providers", value="bind")),
    Case("provider-type-missing", 2, ("type",), config=dropper(*P0, "type")),
    Case("provider-type-unknown", 2, ("type",), config=setter(*P0, "type", value="powerdns")),
    Case("provider-name-bad", 2, ("providers[0].name",), config=setter(*P0, "name", value="B A D")),
    Case("provider-zones-missing", 2, ("zones",), config=dropper(*P0, "zones")),
    Case("provider-zone-bad", 2, ("zones",), config=setter(*P0, "zones", value=["exa mple.test"])),
    Case(
        "provider-zone-long-label",
        2,
        ("zones",),
        config=setter(*P0, "zones", value=["x" * 64 + ".test"]),
    ),
    Case("provider-port-negative", 2, ("port",), config=setter(*P0, "port", value=-1)),
    Case("provider-port-huge", 2, ("port",), config=setter(*P0, "port", value=70000)),
    Case("provider-port-text", 2, ("port",), config=setter(*P0, "port", value="dns")),
    Case("provider-timeout-zero", 2, ("timeout",), config=setter(*P0, "timeout", value=0)),
    Case("tsig-algorithm", 2, ("algorithm",), config=setter(*P0, "tsig", "algorithm", value="md5")),
    Case("tsig-key-missing", 2, ("keyName",), config=dropper(*P0, "tsig", "keyName")),
    Case(
        "tsig-secret-file-missing",
        2,
        ("secret",),
        config=setter(*P0, "tsig", "secretFile", value="/nonexistent/secret"),
    ),
    Case(
        "tsig-secret-not-utf8", 2, ("secretFile", "not text"), config=secret_file(b"\xff\xfe\x00")
    ),
    Case("tsig-secret-not-base64", 2, ("base64",), config=secret_file(b"not base64 at all!")),
    Case("tsig-secret-empty", 2, ("secretFile", "empty"), config=secret_file(b"")),
    Case(
        "tsig-secret-two-lines",
        2,
        ("secret",),
        config=secret_file(b'key "k" {\n secret "YQ==";\n secret "Yg==";\n};\n'),
    ),
    Case(
        "tsig-wrong-secret",
        1,
        ("TSIG",),
        config=secret_file(b"d3Jvbmctc2VjcmV0LXZhbHVl"),
        good_published=False,
    ),
    Case("host-localhost", 0, (), config=setter(*P0, "host", value="localhost")),
    Case(
        "host-unresolvable",
        1,
        ("cannot resolve", "no-such-host.invalid"),
        config=setter(*P0, "host", value="no-such-host.invalid"),
        good_published=False,
    ),
    Case(
        "host-nothing-listens",
        1,
        ("bind",),
        config=setter(*P0, "port", value=1),
        good_published=False,
    ),
    Case(
        "domain-filter-bad",
        2,
        ("domainFilter",),
        config=setter("domainFilter", value={"include": ["bad domain"]}),
    ),
    Case(
        "fleet-visibility-bad",
        2,
        ("visibility",),
        config=setter(
            "fleets",
            value=[
                {
                    "name": "f",
                    "ingressClassName": "f",
                    "visibility": "secret",
                    "dnsProviders": ["bind"],
                }
            ],
        ),
    ),
    Case(
        "fleet-provider-unknown",
        2,
        ("dnsProviders",),
        config=setter(
            "fleets",
            value=[
                {
                    "name": "f",
                    "ingressClassName": "f",
                    "visibility": "public",
                    "namespace": "f",
                    "dnsProviders": ["x"],
                }
            ],
        ),
    ),
    Case(
        "fleet-profile-unknown",
        2,
        ("fleets[f].profile", "unknown controller profile 'haproxy'", "traefik"),
        config=fleet_with(profile="haproxy"),
    ),
    Case(
        "fleet-error-pages-without-default-backend",
        2,
        ("customHttpErrors", "set fleets[f].defaultBackend too"),
        config=fleet_with(controller={"customHttpErrors": [503]}),
    ),
    Case(
        "fleet-daemonset-autoscaled",
        2,
        ("fleets[f].autoscaling", "DaemonSet"),
        config=fleet_with(kind="DaemonSet", autoscaling={"minReplicas": 1, "maxReplicas": 3}),
    ),
    Case(
        "fleet-budget-both",
        2,
        ("podDisruptionBudget", "not both"),
        config=fleet_with(podDisruptionBudget={"minAvailable": 1, "maxUnavailable": 1}),
    ),
    Case(
        "fleet-body-size-bad",
        2,
        ("proxyBodySize", "'lots'"),
        config=fleet_with(controller={"proxyBodySize": "lots"}),
    ),
    Case(
        "fleet-default-backend-bad",
        2,
        ("defaultBackend", "<namespace>/<service>"),
        config=fleet_with(defaultBackend="fallback"),
    ),
    Case(
        "fleet-option-unknown",
        2,
        ("fleets", "sslPasthrough"),
        config=fleet_with(tls={"sslPasthrough": True}),
    ),
    Case(
        "tenant-fleet-unknown",
        2,
        ("fleet",),
        config=setter(
            "tenants",
            value=[
                {
                    "name": "t",
                    "namespaces": ["web"],
                    "domains": ["example.test"],
                    "fleets": ["nope"],
                }
            ],
        ),
    ),
    Case("zones-option-with-once", 2, ("--zones",), command=("once", "--zones", "empty")),
    Case("zones-file-missing", 2, ("--zones",), command=("plan", "--zones", "/nonexistent")),
    Case(
        "save-zones-unwritable",
        2,
        ("--save-zones",),
        command=("plan", "--save-zones", "/nonexistent/dir/snap.json"),
        good_published=False,
    ),
    Case("unknown-command", 2, ("invalid choice",), command=("destroy",)),
    Case("unknown-option", 2, ("unrecognized",), command=("once", "--force")),
]

ENV_CASES = [
    Case(
        "env-ttl-text",
        2,
        ("INGRESS_RECONCILER_DEFAULT_TTL",),
        env={"INGRESS_RECONCILER_DEFAULT_TTL": "abc"},
    ),
    Case(
        "env-ttl-no-underscore",
        2,
        ("INGRESS_RECONCILER_DEFAULTTTL",),
        env={"INGRESS_RECONCILER_DEFAULTTTL": "abc"},
    ),
    Case(
        "env-index-missing",
        2,
        ("INGRESS_RECONCILER_PROVIDERS__5__PORT",),
        env={"INGRESS_RECONCILER_PROVIDERS__5__PORT": "53"},
    ),
    Case(
        "env-empty-segment",
        2,
        ("INGRESS_RECONCILER_PROVIDERS____PORT",),
        env={"INGRESS_RECONCILER_PROVIDERS____PORT": "53"},
    ),
    Case("env-policy", 2, ("INGRESS_RECONCILER_POLICY",), env={"INGRESS_RECONCILER_POLICY": "x"}),
    Case(
        "env-owner-empty",
        2,
        ("INGRESS_RECONCILER_OWNER_ID",),
        env={"INGRESS_RECONCILER_OWNER_ID": ""},
    ),
    Case(
        "env-port-text",
        2,
        ("INGRESS_RECONCILER_PROVIDERS__0__PORT",),
        env={"INGRESS_RECONCILER_PROVIDERS__0__PORT": "dns"},
    ),
    Case(
        "env-bad-json",
        2,
        ("INGRESS_RECONCILER_MANAGED_RECORD_TYPES",),
        env={"INGRESS_RECONCILER_MANAGED_RECORD_TYPES": "[A,"},
    ),
    Case(
        "env-unknown",
        2,
        ("INGRESS_RECONCILER_NO_SUCH_KEY",),
        env={"INGRESS_RECONCILER_NO_SUCH_KEY": "1"},
    ),
    Case(
        "env-nested-not-object",
        2,
        ("INGRESS_RECONCILER_OWNER_ID__X",),
        env={"INGRESS_RECONCILER_OWNER_ID__X": "1"},
    ),
]


def bad_ingress(ident: str, **changes: Any) -> dict[str, Any]:
    obj = ingress(ident, f"{ident}.example.test")
    for key, value in changes.items():
        if key == "host":
            obj["spec"]["rules"] = [{"host": value}]
        elif key == "annotations":
            obj["metadata"]["annotations"] = value
        elif key in ("name", "namespace"):
            obj["metadata"][key] = value
        else:
            obj[key] = value
    return obj


HOSTNAME = "external-dns.alpha.kubernetes.io/hostname"
TARGET = "external-dns.alpha.kubernetes.io/target"
TTL = "external-dns.alpha.kubernetes.io/ttl"
ESC = "\x1b[2J\x1b[31m"

MANIFEST_CASES = [
    Case(
        "manifest-not-utf8", 2, ("--manifests", "UTF-8"), manifest_text=b"kind: Ingress\nx: \xff\n"
    ),
    Case("manifest-invalid-yaml", 2, ("--manifests", "YAML"), manifest_text=b"kind: [\n"),
    Case("manifest-nested", 2, ("nested too deeply",), manifest_text=b"kind: " + b"[" * 5000),
    Case("manifest-binary", 2, ("binary",), manifest_text=b"kind: Ingress\nspec: !!binary aGk=\n"),
    *(
        Case(f"host-{label}", 0, (words,), manifests=(bad_ingress("bad", host=host),))
        for label, host, words in [
            ("underscore", "bad_host.example.test", "bad_host"),
            ("label-64", "x" * 64 + ".example.test", "63"),
            ("name-254", ".".join(["x" * 62] * 4) + ".example.test", "253"),
            ("empty-label", "a..example.test", "empty label"),
            ("inner-wildcard", "a.*.example.test", "'*'"),
            ("space", "a b.example.test", "a b"),
            ("ansi", f"{ESC}evil.example.test", "evil"),
            ("newline", "evil\n.example.test", "evil"),
            ("nul", "evil\x00.example.test", "evil"),
            ("leading-dash", "-a.example.test", "-a"),
            ("trailing-dash", "a-.example.test", "a-"),
            ("reserved-a", "a-good.example.test", "ownership"),
            ("reserved-cname", "cname-x.example.test", "ownership"),
            ("first-label-62", "h" * 62 + ".example.test", "first label"),
            ("outside-zones", "x.elsewhere.test", "zone"),
            ("punct", "a!b.example.test", "a!b"),
        ]
    ),
    *(
        Case(
            f"annotation-{label}",
            0,
            (words,),
            manifests=(bad_ingress("bad", annotations=ann),),
            bad_published=True,
        )
        for label, ann, words in [
            ("ttl-text", {TTL: "soon"}, "ttl"),
            ("ttl-negative", {TTL: "-5"}, "ttl"),
            ("ttl-huge", {TTL: "99999999999"}, "ttl"),
            ("target-bad", {TARGET: "not a target!"}, "target"),
            ("target-ansi", {TARGET: f"{ESC}x"}, "target"),
            ("hostname-junk", {HOSTNAME: ",,,bad_name,"}, "bad_name"),
            ("hostname-ansi", {HOSTNAME: f"{ESC}x.example.test"}, "x.example.test"),
            ("hostname-reserved", {HOSTNAME: "aaaa-good.example.test"}, "ownership"),
            ("hostname-long", {HOSTNAME: "y" * 300}, "63 bytes"),
            ("target-long-cname", {TARGET: "t" * 64 + ".example.net"}, "63"),
        ]
    ),
    *(
        Case(f"object-{label}", code, (words,), manifests=(obj,))
        for label, obj, code, words in [
            ("name-newline", bad_ingress("bad", name="bad\n"), 0, "name"),
            ("namespace-newline", bad_ingress("bad", namespace="web\n"), 0, "namespace"),
            ("name-ansi", bad_ingress("bad", name=f"{ESC}bad"), 0, "name"),
            ("name-missing", bad_ingress("bad", name=""), 0, "name"),
            ("name-not-text", bad_ingress("bad", name=12), 0, "name"),
            ("spec-not-object", bad_ingress("bad", spec="rules"), 0, ""),
            ("rules-not-list", bad_ingress("bad", spec={"rules": "x"}), 0, ""),
            (
                "status-garbage",
                bad_ingress("bad", status={"loadBalancer": {"ingress": "x"}}),
                0,
                "",
            ),
            (
                "status-bad-ip",
                bad_ingress("bad", status={"loadBalancer": {"ingress": [{"ip": "999.1.1.1"}]}}),
                0,
                "999.1.1.1",
            ),
            ("metadata-not-object", {**bad_ingress("bad"), "metadata": "x"}, 0, ""),
            ("annotations-not-strings", bad_ingress("ok", annotations={TTL: 5}), 0, ""),
            (
                "deleting",
                {
                    **bad_ingress("bad"),
                    "metadata": {
                        "name": "bad",
                        "namespace": "web",
                        "deletionTimestamp": "2026-01-01T00:00:00Z",
                    },
                },
                0,
                "",
            ),
            (
                "list-of-ingresses",
                {
                    "apiVersion": "v1",
                    "kind": "List",
                    "items": [bad_ingress("bad", host="bad_x.example.test")],
                },
                0,
                "bad_x",
            ),
        ]
    ),
]


def _records(bind: BindServer) -> dict[tuple[str, str], ZoneRecord]:
    return {(r.name, r.rdtype): r for r in bind.transfer("example.test") if r.rdtype != "SOA"}


@pytest.mark.parametrize("case", [*CONFIG_CASES, *ENV_CASES, *MANIFEST_CASES], ids=lambda c: c.id)
def test_bad_input(case: Case, bind: BindServer, tmp_path: Path) -> None:
    bind.update("example.test", add=[FOREIGN, FOREIGN_TXT])
    config_path = tmp_path / "config.yaml"
    if case.config_text is not None:
        config_path.write_bytes(case.config_text)
    else:
        config = base_config(bind)
        if case.config is not None:
            case.config(config, tmp_path)
        config_path.write_text(yaml.safe_dump(config))
    manifests = tmp_path / "m"
    manifests.mkdir()
    if case.manifest_text is not None:
        (manifests / "bad.yaml").write_bytes(case.manifest_text)
    (manifests / "good.yaml").write_text(yaml.safe_dump_all([GOOD, *case.manifests]))
    before = _records(bind)

    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(config_path), "--manifests", str(manifests), *case.command]
    code = cli.main(argv, env=case.env, stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()

    assert code == case.code, text
    assert "Traceback" not in text
    for word in case.words:
        assert word.lower() in text.lower(), (word, text)
    assert "\x1b" not in out.getvalue(), "the table printed a raw escape character"
    after = _records(bind)
    assert after[(FOREIGN.name, "A")] == FOREIGN
    assert after[(FOREIGN_TXT.name, "TXT")] == FOREIGN_TXT
    assert all(after.get(key) == value for key, value in before.items())
    published = (GOOD_HOST, "A") in after
    expected = case.good_published if case.good_published is not None else case.code == 0
    if "plan" in case.command:
        expected = False
    assert published == expected, text
    # the good neighbour is published by no one but its Ingress: no bad record came with it
    ours = {name for name, rtype in after if rtype == "A"} - {FOREIGN.name, f"ns.{bind.zones[0]}"}
    allowed = {GOOD_HOST, "ok.example.test"}
    if case.bad_published:
        allowed.add("bad.example.test")
    assert ours <= allowed, ours


def test_the_corpus_has_at_least_100_cases() -> None:
    assert len(CONFIG_CASES) + len(ENV_CASES) + len(MANIFEST_CASES) >= 100


def test_json_output_keeps_hostile_names_as_data(bind: BindServer, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(base_config(bind)))
    manifests = tmp_path / "m"
    manifests.mkdir()
    hostile = bad_ingress("bad", host=f"{ESC}evil.example.test")
    (manifests / "m.yaml").write_text(yaml.safe_dump_all([GOOD, hostile]))
    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(config), "--manifests", str(manifests), "--output", "json", "plan"]
    assert cli.main(argv, env={}, stdout=out, stderr=err) == 0
    assert "\x1b" not in out.getvalue()  # JSON escapes it as \\u001b
    doc = json.loads(out.getvalue())
    assert any(ESC in (c["name"] or "") for c in doc["conflicts"])


SESSION_TOKEN = "FQoGZXIvYXdzSESSIONTOKENcorpus0123456789"
SECRET_KEY = "wJalrXUtnFEMIcorpusSECRETKEY0123456789"


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error"])
def test_no_credential_in_any_output_at_any_log_level(
    level: str, bind: BindServer, moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACORPUSEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    route53 = boto3.client("route53", **aws_client_kwargs(moto))
    route53.create_hosted_zone(Name="example.org", CallerReference=f"corpus-{level}")
    config = base_config(bind)
    config["providers"].append(
        {"name": "aws", "type": "route53", "zoneType": "public", "endpointUrl": moto.endpoint_url}
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "m.yaml").write_text(yaml.safe_dump_all([GOOD, ingress("web", "www.example.org")]))
    tsig_secret = bind.secret_file.read_text().strip()
    for command in ("plan", "once"):
        out, err = io.StringIO(), io.StringIO()
        argv = ["--config", str(path), "--manifests", str(manifests), "--log-level", level, command]
        code = cli.main(argv, env={}, stdout=out, stderr=err)
        text = out.getvalue() + err.getvalue()
        assert code == 0, text
        for secret in (SESSION_TOKEN, SECRET_KEY, tsig_secret):
            assert secret not in text, (level, command)
    names = {
        r["Name"]
        for r in route53.list_resource_record_sets(
            HostedZoneId=route53.list_hosted_zones()["HostedZones"][0]["Id"]
        )["ResourceRecordSets"]
    }
    assert "www.example.org." in names


P1 = ("providers", 1)
ROUTE53_CASES = [
    Case("r53-zone-type", 2, ("zoneType",), config=setter(*P1, "zoneType", value="everything")),
    Case(
        "r53-endpoint-not-url",
        2,
        ("endpointUrl",),
        config=setter(*P1, "endpointUrl", value="not a url"),
    ),
    Case("r53-region-bad", 2, ("region",), config=setter(*P1, "region", value="../etc")),
    Case(
        "r53-evaluate-health",
        2,
        ("evaluateTargetHealth",),
        config=setter(*P1, "evaluateTargetHealth", value="maybe"),
    ),
    Case(
        "r53-zone-id-unknown",
        1,
        ("zoneIds", "Z404NOTFOUND"),
        config=setter(*P1, "zoneIds", value=["Z404NOTFOUND"]),
    ),
    Case(
        "r53-nothing-listens",
        1,
        ("aws",),
        config=setter(*P1, "endpointUrl", value="http://127.0.0.1:1"),
    ),
    Case("r53-duplicate-name", 2, ("bind",), config=setter(*P1, "name", value="bind")),
    Case(
        "r53-domain-filter-bad",
        2,
        ("domainFilter",),
        config=setter(*P1, "domainFilter", value=["bad domain"]),
    ),
]


@pytest.mark.parametrize("case", ROUTE53_CASES, ids=lambda c: c.id)
def test_bad_route53_input(
    case: Case, bind: BindServer, moto: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACORPUSEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    route53 = boto3.client("route53", **aws_client_kwargs(moto))
    zone = route53.create_hosted_zone(Name="example.org", CallerReference=case.id)["HostedZone"]
    foreign: ResourceRecordSetTypeDef = {
        "Name": "foreign.example.org.",
        "Type": "A",
        "TTL": 300,
        "ResourceRecords": [{"Value": "198.51.100.9"}],
    }
    route53.change_resource_record_sets(
        HostedZoneId=zone["Id"],
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": foreign}]},
    )
    config = base_config(bind)
    config["providers"].append(
        {"name": "aws", "type": "route53", "zoneType": "public", "endpointUrl": moto.endpoint_url}
    )
    assert case.config is not None
    case.config(config, tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    manifests = tmp_path / "m"
    manifests.mkdir()
    (manifests / "m.yaml").write_text(yaml.safe_dump_all([GOOD, ingress("web", "www.example.org")]))
    out, err = io.StringIO(), io.StringIO()
    argv = ["--config", str(path), "--manifests", str(manifests), "--output", "table", "once"]
    code = cli.main(argv, env={}, stdout=out, stderr=err)
    text = out.getvalue() + err.getvalue()
    assert code == case.code, text
    assert "Traceback" not in text
    assert SECRET_KEY not in text
    for word in case.words:
        assert word.lower() in text.lower(), (word, text)
    listed = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert foreign in listed
    # Without fleets every provider may hold every name: while the aws provider's zones are
    # unknown, BIND is held too (a name must not land in a parent zone by mistake).
    assert ((GOOD_HOST, "A") in _records(bind)) == (case.code == 0)


def test_the_route53_cases_bring_the_corpus_over_100() -> None:
    total = len(CONFIG_CASES) + len(ENV_CASES) + len(MANIFEST_CASES) + len(ROUTE53_CASES)
    assert total >= 100
