"""The Route source: which hosts a Route is served at on which Gateway, by external-dns's rules
(parentRefs and their Accepted status, listener protocol, port, section, hostname intersection,
allowedRoutes by namespace and kind, ListenerSets followed to their Gateway), and the endpoints
built from them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.dns.route_source import GatewayIndex, route_endpoints, route_hosts
from reconciler.model.gateway import labels_match, route_resource

GROUP = "gateway.networking.k8s.io"


def listener(
    name: str,
    protocol: str = "HTTP",
    port: int = 80,
    hostname: str | None = None,
    allowed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {"name": name, "protocol": protocol, "port": port}
    if hostname is not None:
        item["hostname"] = hostname
    if allowed is not None:
        item["allowedRoutes"] = allowed
    return item


def gateway(
    *,
    name: str = "gw",
    namespace: str = "infra",
    listeners: list[dict[str, Any]] | None = None,
    addresses: tuple[str, ...] = ("203.0.113.5",),
    annotations: dict[str, str] | None = None,
    allowed_listeners: dict[str, Any] | None = None,
    cls: str = "public",
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "gatewayClassName": cls,
        "listeners": listeners
        if listeners is not None
        else [listener("http", allowed={"namespaces": {"from": "All"}})],
    }
    if allowed_listeners is not None:
        spec["allowedListeners"] = allowed_listeners
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": spec,
        "status": {"addresses": [{"type": "IPAddress", "value": a} for a in addresses]},
    }


def route(
    *,
    name: str = "web",
    namespace: str = "apps",
    hostnames: list[str] | None = None,
    parents: list[dict[str, Any]] | None = None,
    accepted: bool | list[bool] = True,
    kind: str = "HTTPRoute",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    refs = parents if parents is not None else [{"name": "gw", "namespace": "infra"}]
    flags = accepted if isinstance(accepted, list) else [accepted] * len(refs)
    spec: dict[str, Any] = {"parentRefs": refs}
    if hostnames is not None:
        spec["hostnames"] = hostnames
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": spec,
        "status": {
            "parents": [
                {
                    "parentRef": ref,
                    "controllerName": "traefik.io/gateway-controller",
                    "conditions": [{"type": "Accepted", "status": "True" if ok else "False"}],
                }
                for ref, ok in zip(refs, flags, strict=True)
            ]
        },
    }


def hosts_on(index: GatewayIndex, obj: dict[str, Any]) -> dict[tuple[str, str], tuple[str, ...]]:
    return {a.gateway: a.hosts for a in index.attachments(obj)}


def test_an_accepted_route_is_served_at_its_hosts_with_the_gateways_addresses() -> None:
    index = GatewayIndex([gateway()])
    (attachment,) = index.attachments(route(hostnames=["Web.Example.Test"]))
    assert attachment.gateway == ("infra", "gw")
    assert attachment.hosts == ("web.example.test",)
    assert attachment.targets == ("203.0.113.5",)
    assert not attachment.overridden


def test_a_parent_counts_only_when_listed_in_parent_refs_and_accepted() -> None:
    index = GatewayIndex([gateway()])
    assert index.attachments(route(hostnames=["a.example.test"], accepted=False)) == ()
    stray = route(hostnames=["a.example.test"])
    stray["spec"]["parentRefs"] = [{"name": "other", "namespace": "infra"}]
    assert index.attachments(stray) == ()  # the status names a parent the spec does not
    assert GatewayIndex([]).attachments(route(hostnames=["a.example.test"])) == ()


@pytest.mark.parametrize(
    ("listener_host", "route_hosts_", "expected"),
    [
        ("*.example.test", ["a.example.test"], ("a.example.test",)),
        ("a.example.test", ["*.example.test"], ("a.example.test",)),
        ("*.example.test", None, ("*.example.test",)),  # no hostnames: the listener's
        ("a.example.test", ["b.example.test"], ()),
        ("*.example.test", ["example.test"], ()),  # a wildcard needs a label in front
        (None, ["a.example.test", "b.example.test"], ("a.example.test", "b.example.test")),
        (None, None, ()),  # neither names a host
    ],
)
def test_hosts_are_the_intersection_of_listener_and_route(
    listener_host: str | None, route_hosts_: list[str] | None, expected: tuple[str, ...]
) -> None:
    gw = gateway(
        listeners=[
            listener("http", hostname=listener_host, allowed={"namespaces": {"from": "All"}})
        ]
    )
    assert hosts_on(GatewayIndex([gw]), route(hostnames=route_hosts_)).get(("infra", "gw"), ()) == (
        expected
    )


def test_allowed_routes_same_namespace_by_default_selector_and_kinds() -> None:
    same = gateway(listeners=[listener("http")])  # no allowedRoutes: Same
    assert GatewayIndex([same]).attachments(route(hostnames=["a.example.test"])) == ()
    local = route(namespace="infra", hostnames=["a.example.test"])
    assert hosts_on(GatewayIndex([same]), local) == {("infra", "gw"): ("a.example.test",)}

    selected = gateway(
        listeners=[
            listener(
                "http",
                allowed={
                    "namespaces": {
                        "from": "Selector",
                        "selector": {
                            "matchExpressions": [
                                {"key": "team", "operator": "In", "values": ["shop"]}
                            ]
                        },
                    }
                },
            )
        ]
    )
    labelled = GatewayIndex([selected], namespace_labels={"apps": {"team": "shop"}})
    unlabelled = GatewayIndex([selected], namespace_labels={"apps": {"team": "db"}})
    assert labelled.attachments(route(hostnames=["a.example.test"]))
    assert not unlabelled.attachments(route(hostnames=["a.example.test"]))

    grpc_only = gateway(
        listeners=[
            listener(
                "http",
                allowed={"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]},
            )
        ]
    )
    assert not GatewayIndex([grpc_only]).attachments(route(hostnames=["a.example.test"]))
    assert GatewayIndex([grpc_only]).attachments(
        route(hostnames=["a.example.test"], kind="GRPCRoute")
    )


def test_protocol_section_and_port_choose_the_listeners() -> None:
    everyone = {"namespaces": {"from": "All"}}
    gw = gateway(
        listeners=[
            listener("http", "HTTP", 80, "a.example.test", everyone),
            listener("https", "HTTPS", 443, "b.example.test", everyone),
            listener("tls", "TLS", 443, "c.example.test", everyone),
        ]
    )
    index = GatewayIndex([gw])
    both = hosts_on(index, route())[("infra", "gw")]
    assert both == ("a.example.test", "b.example.test")  # HTTPS counts as HTTP
    by_section = route(parents=[{"name": "gw", "namespace": "infra", "sectionName": "https"}])
    assert hosts_on(index, by_section)[("infra", "gw")] == ("b.example.test",)
    by_port = route(parents=[{"name": "gw", "namespace": "infra", "port": 80}])
    assert hosts_on(index, by_port)[("infra", "gw")] == ("a.example.test",)
    tls = route(kind="TLSRoute")
    assert hosts_on(index, tls)[("infra", "gw")] == ("c.example.test",)
    # a TCP Route has no hostnames: only its hostname annotation names one
    tcp = route(
        kind="TCPRoute",
        annotations={"external-dns.alpha.kubernetes.io/hostname": "c.example.test"},
    )
    assert hosts_on(index, tcp)[("infra", "gw")] == ("c.example.test",)


def test_listener_sets_are_followed_to_their_gateway_when_allowed_and_accepted() -> None:
    gw = gateway(
        listeners=[],
        allowed_listeners={"namespaces": {"from": "All"}},
        annotations={"external-dns.alpha.kubernetes.io/target": "lb.example.net"},
    )
    listener_set: dict[str, Any] = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "ListenerSet",
        "metadata": {"name": "extra", "namespace": "apps"},
        "spec": {
            "parentRef": {"name": "gw", "namespace": "infra"},
            "listeners": [{"name": "shop", "protocol": "HTTP", "port": 80}],
        },
        "status": {
            "conditions": [{"type": "Accepted", "status": "True"}],
            "listeners": [{"name": "shop", "conditions": [{"type": "Accepted", "status": "True"}]}],
        },
    }
    via_set = route(
        hostnames=["shop.example.test"],
        parents=[{"kind": "ListenerSet", "name": "extra"}],
    )
    (attachment,) = GatewayIndex([gw], [listener_set]).attachments(via_set)
    assert attachment.gateway == ("infra", "gw")
    assert attachment.targets == ("lb.example.net",)  # the Gateway's target annotation
    assert attachment.overridden
    closed = {**gw, "spec": {**gw["spec"], "allowedListeners": {"namespaces": {"from": "Same"}}}}
    assert GatewayIndex([closed], [listener_set]).attachments(via_set) == ()
    refused = {**listener_set, "status": {"conditions": [{"type": "Accepted", "status": "False"}]}}
    assert GatewayIndex([gw], [refused]).attachments(via_set) == ()


def test_gateway_class_filter_and_index_equality() -> None:
    index = GatewayIndex([gateway(cls="other")], gateway_classes=("public",))
    assert len(index) == 0
    assert GatewayIndex([gateway()]) == GatewayIndex([gateway()])
    assert GatewayIndex([gateway()]) != GatewayIndex([gateway(addresses=("203.0.113.9",))])


def test_hostname_source_annotation() -> None:
    annotated = {
        "external-dns.alpha.kubernetes.io/hostname": "extra.example.test",
        "external-dns.alpha.kubernetes.io/gateway-hostname-source": "annotation-only",
    }
    obj = route(hostnames=["a.example.test"], annotations=annotated)
    assert route_hosts(obj) == ["extra.example.test"]
    annotated["external-dns.alpha.kubernetes.io/gateway-hostname-source"] = "defined-hosts-only"
    assert route_hosts(route(hostnames=["a.example.test"], annotations=annotated)) == [
        "a.example.test"
    ]
    del annotated["external-dns.alpha.kubernetes.io/gateway-hostname-source"]
    assert route_hosts(route(hostnames=["a.example.test"], annotations=annotated)) == [
        "a.example.test",
        "extra.example.test",
    ]


def test_endpoints_carry_the_route_resource_and_bad_input_is_rejected_not_raised() -> None:
    obj = route(hostnames=["a.example.test"], annotations={"external-dns.kubernetes.io/ttl": "5m"})
    assert route_resource(obj) == "httproute/apps/web"
    result = route_endpoints(obj, ["a.example.test", "-bad-.example.test"], ["203.0.113.5", "x_y"])
    (endpoint,) = result.endpoints
    assert (endpoint.name, endpoint.record_type, endpoint.targets, endpoint.ttl) == (
        "a.example.test",
        "A",
        ("203.0.113.5",),
        300,
    )
    assert endpoint.labels["resource"] == "httproute/apps/web"
    assert {r.host for r in result.rejections} == {"-bad-.example.test", "x_y"}
    claims = route_endpoints(obj, ["a.example.test"], [])
    assert [e.targets for e in claims.endpoints] == [()]  # no address yet: a claim
    nameless = {**obj, "metadata": {"namespace": "apps"}}
    assert route_endpoints(nameless, ["a.example.test"], ["203.0.113.5"]).endpoints == ()


def test_malformed_objects_read_as_absent() -> None:
    garbage: dict[str, Any] = {
        "kind": "HTTPRoute",
        "metadata": {"name": "x", "namespace": "apps"},
        "spec": {"parentRefs": "nope", "hostnames": [1, None]},
        "status": {"parents": [{"parentRef": None}, "x"]},
    }
    index = GatewayIndex([{"metadata": None, "spec": {"listeners": [None, {"name": 3}]}}])
    assert index.attachments(garbage) == ()
    assert labels_match({"matchExpressions": [{"key": "a", "operator": "Near"}]}, {}) is None
    assert labels_match({"matchLabels": {"a": "1"}}, {"a": "1"}) is True


# --- hostile input: nothing raises, whatever the shapes -----------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _shaped(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """``base`` with some of its values (at any depth below the object, which the API always
    serves as a mapping) replaced by random JSON."""

    def walk(node: Any) -> Any:
        if data.draw(st.integers(0, 5)) == 0:
            return data.draw(_json)
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return {k: walk(v) for k, v in base.items()}


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_malformed_routes_gateways_and_listener_sets_never_raise(data: st.DataObject) -> None:
    obj = _shaped(route(hostnames=["a.example.test"]), data)
    gw = _shaped(gateway(listeners=[listener("http", hostname="*.example.test")]), data)
    ls = _shaped(
        {
            "kind": "ListenerSet",
            "metadata": {"name": "x", "namespace": "apps"},
            "spec": {"parentRef": {"name": "gw", "namespace": "infra"}, "listeners": [{}]},
            "status": {"conditions": [{"type": "Accepted", "status": "True"}]},
        },
        data,
    )
    index = GatewayIndex([gw], [ls], namespace_labels={"apps": {"a": "b"}})
    for attachment in index.attachments(obj):
        route_endpoints(obj, attachment.hosts, attachment.targets)
