"""One reading of an Ingress (reconciler.model.ingress): class, annotations, resource, namespace."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import ingress as ingress_module
from reconciler.model.ingress import (
    LEGACY_CLASS_ANNOTATION,
    annotations_of,
    external_dns_annotation,
    ingress_class_of,
    namespace_of,
    resource_of,
)


def ingress(**parts: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", **parts}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (ingress(spec={"ingressClassName": "public"}), "public"),
        (ingress(metadata={"annotations": {LEGACY_CLASS_ANNOTATION: "private"}}), "private"),
        (
            ingress(
                spec={"ingressClassName": "public"},
                metadata={"annotations": {LEGACY_CLASS_ANNOTATION: "private"}},
            ),
            "public",
        ),
        (ingress(spec={"ingressClassName": ""}), None),
        (ingress(spec="not an object"), None),
        (ingress(metadata={"annotations": {LEGACY_CLASS_ANNOTATION: 5}}), None),
        (ingress(), None),
    ],
)
def test_class(obj: dict[str, Any], expected: str | None) -> None:
    assert ingress_class_of(obj) == expected


@pytest.mark.parametrize(
    ("metadata", "resource", "namespace"),
    [
        ({"name": "web", "namespace": "shop"}, "ingress/shop/web", "shop"),
        ({"name": "web"}, "ingress/default/web", "default"),
        ({"namespace": "shop"}, "ingress/?/?", "shop"),
        ({"name": 5, "namespace": "shop"}, "ingress/?/?", "shop"),
        ("garbage", "ingress/?/?", "default"),
    ],
)
def test_resource_and_namespace(metadata: Any, resource: str, namespace: str) -> None:
    obj = ingress(metadata=metadata)
    assert resource_of(obj) == resource
    assert namespace_of(obj) == namespace


def test_external_dns_annotations_under_either_prefix_the_current_one_first() -> None:
    both = {
        "external-dns.kubernetes.io/hostname": "a.example.test",
        "external-dns.alpha.kubernetes.io/hostname": "b.example.test",
        "external-dns.alpha.kubernetes.io/ttl": "60",
        "other": 5,
    }
    annotations = annotations_of(ingress(metadata={"annotations": both}))
    assert "other" not in annotations
    assert external_dns_annotation(annotations, "hostname") == "a.example.test"
    assert external_dns_annotation(annotations, "ttl") == "60"
    alpha_only = ("external-dns.alpha.kubernetes.io/",)
    assert external_dns_annotation(annotations, "hostname", alpha_only) == "b.example.test"
    current_only = ("external-dns.kubernetes.io/",)
    assert external_dns_annotation(annotations, "ttl", current_only) is None


def test_public_surface() -> None:
    assert sorted(ingress_module.__all__) == [
        "ANNOTATION_PREFIXES",
        "LEGACY_CLASS_ANNOTATION",
        "SSL_PASSTHROUGH_ANNOTATION",
        "Visibility",
        "annotations_of",
        "asks_ssl_passthrough",
        "external_dns_annotation",
        "ingress_class_of",
        "namespace_of",
        "resource_of",
    ]
