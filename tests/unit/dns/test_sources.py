"""The Ingress and manifest sources: every rule of the source, as tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.dns.ingress_source import (
    Rejection,
    SourceResult,
    endpoints_from_ingress,
    endpoints_from_ingresses,
    parse_ttl,
)
from reconciler.dns.manifest_source import ingresses_from_text, read_ingresses
from reconciler.model.endpoint import Endpoint
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import ingress_class_of

RES = "ingress/web/shop"


def ingress(
    *,
    hosts: tuple[str, ...] = ("www.example.test",),
    tls: tuple[str, ...] = (),
    ips: tuple[str, ...] = ("192.0.2.10",),
    hostnames: tuple[str, ...] = (),
    annotations: dict[str, str] | None = None,
    class_name: str | None = None,
    name: str = "shop",
    namespace: str = "web",
    deleting: bool = False,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict[str, Any] = {"rules": [{"host": h} for h in hosts]}
    if tls:
        spec["tls"] = [{"hosts": list(tls), "secretName": "cert"}]
    if class_name:
        spec["ingressClassName"] = class_name
    lb = [{"ip": ip} for ip in ips] + [{"hostname": h} for h in hostnames]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta,
        "spec": spec,
        "status": {"loadBalancer": {"ingress": lb}},
    }


def summary(endpoints: tuple[Endpoint, ...]) -> set[tuple[str, str, tuple[str, ...], int | None]]:
    return {(e.name, e.record_type, e.targets, e.ttl) for e in endpoints}


# --- hosts and targets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({}, {("www.example.test", "A", ("192.0.2.10",), None)}, id="rule-host-ipv4"),
        pytest.param(
            {"ips": ("2001:db8::1",)},
            {("www.example.test", "AAAA", ("2001:db8::1",), None)},
            id="ipv6-aaaa",
        ),
        pytest.param(
            {"ips": (), "hostnames": ("LB-1.Elb.Amazonaws.com.",)},
            {("www.example.test", "CNAME", ("lb-1.elb.amazonaws.com",), None)},
            id="hostname-cname-normalised",
        ),
        pytest.param(
            {"ips": ("192.0.2.10", "2001:db8::1", "192.0.2.9")},
            {
                ("www.example.test", "A", ("192.0.2.10", "192.0.2.9"), None),
                ("www.example.test", "AAAA", ("2001:db8::1",), None),
            },
            id="dual-stack",
        ),
        pytest.param(
            {"hosts": ("a.example.test", ""), "tls": ("b.example.test", "A.example.test")},
            {
                ("a.example.test", "A", ("192.0.2.10",), None),
                ("b.example.test", "A", ("192.0.2.10",), None),
            },
            id="rules-and-tls-hosts-deduplicated",
        ),
        pytest.param(
            {"hosts": ("Bücher.Example.Test.",)},
            {("xn--bcher-kva.example.test", "A", ("192.0.2.10",), None)},
            id="idn-punycode",
        ),
        pytest.param(
            {"hosts": ("*.apps.example.test",)},
            {("*.apps.example.test", "A", ("192.0.2.10",), None)},
            id="wildcard",
        ),
        pytest.param({"hosts": ()}, set(), id="no-hosts"),
    ],
)
def test_hosts_and_targets(
    kwargs: dict[str, Any], expected: set[tuple[str, str, tuple[str, ...], int | None]]
) -> None:
    result = endpoints_from_ingress(ingress(**kwargs))
    assert summary(result.endpoints) == expected
    assert result.rejections == ()
    assert all(e.labels == {"resource": RES} for e in result.endpoints)


def test_default_ttl_applies_when_no_annotation() -> None:
    result = endpoints_from_ingress(ingress(), default_ttl=300)
    assert [e.ttl for e in result.endpoints] == [300]


# --- annotations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["external-dns.kubernetes.io/", "external-dns.alpha.kubernetes.io/"]
)
def test_annotations_under_both_prefixes(prefix: str) -> None:
    item = ingress(
        annotations={
            prefix + "hostname": "extra.example.test., other.example.test",
            prefix + "ttl": "10m",
            prefix + "target": "198.51.100.7",
        }
    )
    result = endpoints_from_ingress(item, default_ttl=300)
    assert summary(result.endpoints) == {
        (host, "A", ("198.51.100.7",), 600)
        for host in ("www.example.test", "extra.example.test", "other.example.test")
    }
    assert result.rejections == ()


def test_stable_prefix_wins_over_alpha() -> None:
    item = ingress(
        annotations={
            "external-dns.kubernetes.io/ttl": "60",
            "external-dns.alpha.kubernetes.io/ttl": "120",
        }
    )
    assert [e.ttl for e in endpoints_from_ingress(item).endpoints] == [60]


def test_target_annotation_replaces_status_and_may_be_a_hostname() -> None:
    item = ingress(annotations={"external-dns.alpha.kubernetes.io/target": "edge.example.net."})
    assert summary(endpoints_from_ingress(item).endpoints) == {
        ("www.example.test", "CNAME", ("edge.example.net",), None)
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1", 1), ("300", 300), ("10m", 600), ("1h30m", 5400), ("1.5s", 1), ("2147483647", 2**31 - 1)],
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["0", "-5", "2147483648", "abc", "10x", "", "1e3", "5 m"])
def test_bad_ttl_falls_back_to_default_and_is_reported(text: str) -> None:
    with pytest.raises(ValueError, match=r"out of range|neither"):
        parse_ttl(text)
    result = endpoints_from_ingress(
        ingress(annotations={"external-dns.alpha.kubernetes.io/ttl": text}), default_ttl=300
    )
    assert [e.ttl for e in result.endpoints] == [300]
    assert len(result.rejections) == 1
    assert result.rejections[0].resource == RES
    assert "ttl annotation ignored" in result.rejections[0].reason


# --- ingress class ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "selected"),
    [
        (ingress(class_name="public"), True),
        (ingress(class_name="private"), False),
        (ingress(annotations={"kubernetes.io/ingress.class": "public"}), True),
        (ingress(annotations={"kubernetes.io/ingress.class": "nginx"}), False),
        (
            ingress(class_name="private", annotations={"kubernetes.io/ingress.class": "public"}),
            False,
        ),
        (ingress(), False),
    ],
    ids=["spec", "spec-other", "legacy", "legacy-other", "spec-beats-legacy", "no-class"],
)
def test_ingress_class_filter(item: dict[str, Any], selected: bool) -> None:
    result = endpoints_from_ingress(item, ingress_class_names=("public",))
    assert bool(result.endpoints) is selected
    # An empty filter selects every Ingress.
    assert endpoints_from_ingress(item).endpoints


def test_ingress_class_of() -> None:
    assert ingress_class_of(ingress(class_name="public")) == "public"
    assert ingress_class_of(ingress()) is None


# --- claims, deletion ---------------------------------------------------------------------------


def test_live_ingress_without_address_claims_its_hosts() -> None:
    result = endpoints_from_ingress(ingress(ips=()), claim_types=("A", "CNAME"))
    assert summary(result.endpoints) == {
        ("www.example.test", "A", (), None),
        ("www.example.test", "CNAME", (), None),
    }
    assert all(e.labels["resource"] == RES for e in result.endpoints)


def test_ingress_being_deleted_yields_nothing() -> None:
    assert endpoints_from_ingress(ingress(deleting=True)) == SourceResult()


# --- bad data: skipped with a reason, never raising, never disturbing others --------------------

INJECTIONS = [
    'www.example.test"',
    "www.example.test,heritage=external-dns",
    "a=b.example.test",
    'evil.example.test"\nheritage=external-dns,external-dns/owner=me',
    "white space.example.test",
    "under_score.example.test",
    "-lead.example.test",
    "trail-.example.test",
    "a" * 64 + ".example.test",
    ".".join(["abcdefghi"] * 26),  # 259 bytes
    "double..dot.example.test",
    "*.*.example.test",
    "mid.*.example.test",
    "www.example.123",
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_bad_host_is_rejected_and_others_kept(bad: str) -> None:
    result = endpoints_from_ingress(ingress(hosts=("good.example.test", bad)))
    assert summary(result.endpoints) == {("good.example.test", "A", ("192.0.2.10",), None)}
    assert len(result.rejections) == 1
    rejection = result.rejections[0]
    assert rejection.resource == RES
    assert rejection.host == bad
    assert "invalid host name" in rejection.reason


@pytest.mark.parametrize(
    "annotation", ['ok.example.test,bad"name.example.test', "ok.example.test,x=y.example.test"]
)
def test_injection_through_hostname_annotation(annotation: str) -> None:
    item = ingress(hosts=(), annotations={"external-dns.kubernetes.io/hostname": annotation})
    result = endpoints_from_ingress(item)
    assert [e.name for e in result.endpoints] == ["ok.example.test"]
    assert len(result.rejections) == 1


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        ('shop",heritage=external-dns', "web"),
        ("shop", "web,owner=x"),
        ("Shop", "web"),
        ("shop", "we=b"),
        ("", "web"),
        ("s" * 254, "web"),
    ],
)
def test_injection_through_resource_label(name: str, namespace: str) -> None:
    result = endpoints_from_ingress(ingress(name=name, namespace=namespace))
    assert result.endpoints == ()
    assert len(result.rejections) == 1
    assert result.rejections[0].host == ""


@pytest.mark.parametrize(
    ("ips", "hostnames", "kept", "rejected"),
    [
        (("192.0.2.300",), (), set(), "192.0.2.300"),
        (("192.0.2.1", "not an ip"), (), {("A", ("192.0.2.1",))}, "not an ip"),
        (("192.0.2.1",), ("lb.example.net",), {("A", ("192.0.2.1",))}, "lb.example.net"),
        ((), ("a.example.net", "b.example.net"), {("CNAME", ("a.example.net",))}, "b.example.net"),
    ],
    ids=["bad-ip", "one-bad-one-good", "cname-beside-address", "two-cnames"],
)
def test_bad_targets(
    ips: tuple[str, ...], hostnames: tuple[str, ...], kept: set[Any], rejected: str
) -> None:
    result = endpoints_from_ingress(ingress(ips=ips, hostnames=hostnames))
    with_targets = {(e.record_type, e.targets) for e in result.endpoints if e.targets}
    assert with_targets == kept
    assert [r.host for r in result.rejections] == [rejected]
    if not kept:
        # No usable address: the host is still claimed, so existing records are kept.
        assert result.endpoints
        assert all(not e.targets for e in result.endpoints)


@pytest.mark.parametrize(
    "garbage",
    [
        {"metadata": "x"},
        {"metadata": {"name": "a", "namespace": "b"}, "spec": {"rules": "nope"}},
        {"metadata": {"name": "a", "namespace": "b"}, "spec": {"rules": [{"host": 5}]}},
        {
            "metadata": {"name": "a", "namespace": "b", "annotations": {"x": 1}},
            "spec": {"rules": [{"host": "h.example.test"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": 7}, "junk"]}},
        },
        {"metadata": {"name": "a", "namespace": "b"}, "spec": {"tls": [{"hosts": None}]}},
    ],
)
def test_malformed_objects_never_raise(garbage: dict[str, Any]) -> None:
    endpoints_from_ingress(garbage)


def test_many_ingresses_one_bad_does_not_disturb_the_others() -> None:
    items = [
        ingress(name="b", hosts=("b.example.test",)),
        ingress(name='x"y', hosts=("x.example.test",)),
        ingress(name="a", hosts=("a.example.test", "bad_host.example.test")),
    ]
    result = endpoints_from_ingresses(items)
    assert [e.name for e in result.endpoints] == ["a.example.test", "b.example.test"]
    assert [r.resource for r in result.rejections] == ['ingress/web/x"y', "ingress/web/a"]
    assert isinstance(result.rejections[0], Rejection)
    # Order-independent output.
    assert endpoints_from_ingresses(reversed(items)).endpoints == result.endpoints


def test_two_ingresses_claiming_one_host_both_returned() -> None:
    items = [ingress(name="a"), ingress(name="b", ips=("192.0.2.20",))]
    result = endpoints_from_ingresses(items)
    assert [e.labels["resource"] for e in result.endpoints] == ["ingress/web/a", "ingress/web/b"]


# --- manifests ----------------------------------------------------------------------------------

MULTI = """
apiVersion: v1
kind: Service
metadata: {name: svc}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: one, namespace: web}
spec: {rules: [{host: one.example.test}]}
---
apiVersion: v1
kind: List
items:
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: two, namespace: web}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: cm}
---
"""


def test_manifest_multi_document_and_list() -> None:
    names = [i["metadata"]["name"] for i in ingresses_from_text(MULTI)]
    assert names == ["one", "two"]


def test_manifest_directory_sorted_and_filtered(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(MULTI)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c.yml").write_text(MULTI.replace("one", "three"))
    (tmp_path / "a.json").write_text(
        '{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "zero"}}'
    )
    (tmp_path / "notes.txt").write_text("kind: Ingress")
    names = [i["metadata"]["name"] for i in read_ingresses(tmp_path)]
    assert names == ["zero", "one", "two", "three", "two"]


def test_manifest_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Ingress\nmetadata: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml"):
        read_ingresses(bad)
    with pytest.raises(ConfigError, match="neither a file nor a directory"):
        read_ingresses(tmp_path / "missing")


def test_samples_produce_endpoints_and_one_rejection() -> None:
    samples = Path(__file__).resolve().parents[3] / "samples" / "manifests"
    result = endpoints_from_ingresses(read_ingresses(samples), default_ttl=300)
    assert result.endpoints
    assert len(result.rejections) == 1


# --- properties ---------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
_HOST = st.sampled_from(
    ["a.example.test", "B.example.test.", "*.w.example.test", 'x"y', "a,b", "", "é.test", "1.2.3.4"]
)
_TARGET = st.sampled_from(["192.0.2.1", "2001:db8::1", "lb.example.net", "999.1.1.1", "x y", ""])


@st.composite
def _ingresses(draw: st.DrawFn) -> dict[str, Any]:
    item = ingress(
        hosts=tuple(draw(st.lists(_HOST, max_size=3))),
        tls=tuple(draw(st.lists(_HOST, max_size=2))),
        ips=tuple(draw(st.lists(_TARGET, max_size=3))),
        name=draw(st.sampled_from(["a", "b", "B", 'c"d'])),
    )
    # Anything at all may sit in any field of an object read from a file.
    for section in draw(st.lists(st.sampled_from(["metadata", "spec", "status"]), max_size=1)):
        item[section] = draw(_JSON)
    return item


@given(st.lists(_ingresses() | _JSON, max_size=5))
def test_source_never_raises_and_ignores_input_order(items: list[Any]) -> None:
    result = endpoints_from_ingresses(items)
    assert endpoints_from_ingresses(list(reversed(items))).endpoints == result.endpoints
    for endpoint in result.endpoints:
        assert endpoint.labels["resource"].startswith("ingress/")
        assert not any(c in endpoint.name for c in '",= ')
        assert not any(c in endpoint.labels["resource"] for c in '",= ')
