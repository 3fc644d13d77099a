"""Ingress status rules: written whole, skipped when equal, last one kept while the fleet has no
address, only fleet classes touched; on the FakeCluster double."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytest

from reconciler.fleets import ingress_status
from reconciler.fleets.ingress_status import desired_status, ingress_address, publish_ingress_status
from reconciler.fleets.spec import FleetSpec
from reconciler.kube.fake import FakeCluster
from reconciler.model.cluster import JsonObject
from reconciler.model.errors import KubernetesError
from reconciler.model.k8s_json import IngressDict

PUBLIC = FleetSpec.of(
    name="public", ingress_class_name="public", visibility="public", namespace="ingress-public"
)
PRIVATE = FleetSpec.of(
    name="private", ingress_class_name="internal", visibility="private", namespace="ingress-private"
)
SPECS = (PUBLIC, PRIVATE)
LB_PUBLIC = ({"hostname": "pub-1.elb.us-east-1.amazonaws.com"},)
LB_PRIVATE = ({"hostname": "internal-priv-1.elb.us-east-1.amazonaws.com"},)
FLEET_BY_CLASS = {"public": "public", "internal": "private"}


def ingress(
    name: str,
    class_name: str | None,
    status: Sequence[Mapping[str, Any]] | None = None,
    *,
    annotation_class: str | None = None,
) -> IngressDict:
    obj: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "app"},
        "spec": {"rules": [{"host": f"{name}.example.test"}]},
    }
    if class_name is not None:
        obj["spec"]["ingressClassName"] = class_name
    if annotation_class is not None:
        obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": annotation_class}
    if status is not None:
        obj["status"] = {"loadBalancer": {"ingress": [dict(s) for s in status]}}
    return cast(IngressDict, obj)


def test_exported_surface() -> None:
    assert set(ingress_status.__all__) == {
        "StatusError",
        "StatusReport",
        "desired_status",
        "ingress_address",
        "publish_ingress_status",
    }


@pytest.mark.parametrize(
    ("ing", "addresses", "expected"),
    [
        # a fleet Ingress without status gets its fleet's address
        (ingress("a", "public"), {"public": LB_PUBLIC}, LB_PUBLIC),
        # the other fleet's class gets the other fleet's address
        (ingress("a", "internal"), {"private": LB_PRIVATE}, LB_PRIVATE),
        # already equal: no write
        (ingress("a", "public", LB_PUBLIC), {"public": LB_PUBLIC}, None),
        # a different address is replaced whole (not merged)
        (
            ingress("a", "public", [{"ip": "192.0.2.1"}, *LB_PUBLIC]),
            {"public": LB_PUBLIC},
            LB_PUBLIC,
        ),
        # the fleet has no address yet: the last published one is kept
        (ingress("a", "public", [{"ip": "192.0.2.1"}]), {"public": ()}, None),
        (ingress("a", "public", [{"ip": "192.0.2.1"}]), {}, None),
        # not a fleet class, no class: untouched
        (ingress("a", "alb", [{"ip": "192.0.2.1"}]), {"public": LB_PUBLIC}, None),
        (ingress("a", None), {"public": LB_PUBLIC}, None),
        # the legacy annotation names the class as well
        (ingress("a", None, annotation_class="public"), {"public": LB_PUBLIC}, LB_PUBLIC),
        # order counts: the list is written as the Service has it
        (
            ingress("a", "public", [{"ip": "192.0.2.2"}, {"ip": "192.0.2.1"}]),
            {"public": ({"ip": "192.0.2.1"}, {"ip": "192.0.2.2"})},
            ({"ip": "192.0.2.1"}, {"ip": "192.0.2.2"}),
        ),
    ],
)
def test_desired_status(
    ing: IngressDict,
    addresses: Mapping[str, Sequence[Mapping[str, Any]]],
    expected: tuple[dict[str, Any], ...] | None,
) -> None:
    assert desired_status(ing, fleet_by_class=FLEET_BY_CLASS, addresses=addresses) == expected


def test_service_only_fields_are_dropped_so_the_status_settles() -> None:
    service_lb = ({"ip": "192.0.2.1", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]},)
    assert ingress_address(service_lb) == (
        {"ip": "192.0.2.1", "ports": [{"port": 80, "protocol": "TCP"}]},
    )
    written = ingress("a", "public", ingress_address(service_lb))
    assert (
        desired_status(written, fleet_by_class=FLEET_BY_CLASS, addresses={"public": service_lb})
        is None
    )
    assert ingress_address([{"ipMode": "VIP"}, {"hostname": ""}]) == ()


def test_publish_writes_only_what_differs_and_reports() -> None:
    cluster = FakeCluster(
        [
            ingress("fresh", "public"),
            ingress("done", "public", LB_PUBLIC),
            ingress("stale", "internal", [{"ip": "198.51.100.7"}]),
            ingress("waiting", "public"),
            ingress("other", "alb", [{"ip": "203.0.113.9"}]),
        ]
    )
    report = publish_ingress_status(
        specs=SPECS,
        state=cluster,
        writer=cluster,
        addresses={"public": LB_PUBLIC, "private": LB_PRIVATE},
    )
    assert sorted(r.name for r in report.written) == ["fresh", "stale", "waiting"]
    assert report.unchanged == 1
    assert report.ok
    assert sorted((p[2], p[3]) for p in cluster.status_patches) == [
        ("fresh", list(LB_PUBLIC)),
        ("stale", list(LB_PRIVATE)),
        ("waiting", list(LB_PUBLIC)),
    ]
    other = cluster.get("Ingress", "other", "app")
    assert other is not None
    assert other["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.9"}]
    # a second pass over the written state writes nothing
    cluster.status_patches.clear()
    again = publish_ingress_status(
        specs=SPECS,
        state=cluster,
        writer=cluster,
        addresses={"public": LB_PUBLIC, "private": LB_PRIVATE},
    )
    assert again.written == ()
    assert again.unchanged == 4
    assert cluster.status_patches == []


def test_empty_fleet_address_keeps_the_last_published_one() -> None:
    cluster = FakeCluster([ingress("a", "public", LB_PUBLIC), ingress("b", "public")])
    report = publish_ingress_status(
        specs=SPECS, state=cluster, writer=cluster, addresses={"public": ()}
    )
    assert report.written == ()
    assert sorted(r.name for r in report.kept) == ["a", "b"]
    assert cluster.status_patches == []
    kept = cluster.get("Ingress", "a", "app")
    assert kept is not None
    assert kept["status"]["loadBalancer"]["ingress"] == list(LB_PUBLIC)


def test_a_failed_write_is_reported_and_the_rest_goes_on() -> None:
    class Flaky(FakeCluster):
        def patch_ingress_status(
            self, namespace: str, name: str, load_balancer: Sequence[Mapping[str, Any]]
        ) -> JsonObject:
            if name == "a":
                raise KubernetesError("PATCH: 409 Conflict", status=409)
            return super().patch_ingress_status(namespace, name, load_balancer)

    cluster = Flaky([ingress("a", "public"), ingress("b", "public")])
    report = publish_ingress_status(
        specs=SPECS, state=cluster, writer=cluster, addresses={"public": LB_PUBLIC}
    )
    assert [r.name for r in report.written] == ["b"]
    assert [(e.ref.name, e.transient) for e in report.errors] == [("a", False)]
    assert not report.ok
