"""Fleet options: controller-wide settings and workload shape, validated with messages that name
the key to fix, and checked against what a profile can do."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from reconciler.app.wiring import warn_retired_profiles
from reconciler.fleets.converge import find_class_problems
from reconciler.fleets.objects import desired_fleet_objects
from reconciler.fleets.options import (
    Autoscaling,
    ControllerOptions,
    Feature,
    WorkloadShape,
    check_supported,
    parse_size,
)
from reconciler.fleets.spec import FleetSpec, Reason
from reconciler.model.errors import ConfigError
from reconciler.model.ingress import SSL_PASSTHROUGH_ANNOTATION
from reconciler.model.k8s_json import IngressDict

KEY = "fleets[public]"


@pytest.mark.parametrize(
    ("value", "size"),
    [(0, 0), (1048576, 1048576), ("512k", 524288), ("8m", 8388608), ("1G", 1073741824)],
)
def test_sizes_in_nginx_units(value: str | int, size: int) -> None:
    assert parse_size(value, "k") == size


@pytest.mark.parametrize("value", ["8 MB", "-1", "1.5m", "m", -3])
def test_bad_sizes_say_what_a_size_looks_like(value: str | int) -> None:
    with pytest.raises(ConfigError, match=r"k: .*must be"):
        parse_size(value, "k")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"default_certificate": "Bad/Name"}, r"fleets\[public\]\.tls\.defaultCertificate"),
        ({"default_backend": "fallback"}, r"fleets\[public\]\.defaultBackend: .*<namespace>/"),
        ({"default_backend": "a/b/c"}, r"\.defaultBackend"),
        (
            {"custom_http_errors": (404,)},
            r"customHttpErrors: error pages come from the default backend; "
            r"set fleets\[public\]\.defaultBackend too",
        ),
        (
            {"custom_http_errors": (200,), "default_backend": "a/b"},
            r"customHttpErrors: 200 is not an HTTP error status",
        ),
        ({"proxy_read_timeout": 0}, r"controller\.proxyReadTimeout: 0 must be 1 second or more"),
        ({"proxy_body_size": "lots"}, r"controller\.proxyBodySize: 'lots'"),
    ],
)
def test_bad_controller_options_name_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ControllerOptions.of(key=KEY, **options)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ({"kind": "StatefulSet"}, r"\.kind: 'StatefulSet' must be 'Deployment' or 'DaemonSet'"),
        (
            {"kind": "DaemonSet", "autoscaling": Autoscaling(1, 3)},
            r"\.autoscaling: a DaemonSet runs one pod per node and cannot be autoscaled",
        ),
        ({"autoscaling": Autoscaling(4, 2)}, r"minReplicas \(4\) <= maxReplicas \(2\)"),
        ({"autoscaling": Autoscaling(0, 2)}, r"need 1 <= minReplicas"),
        ({"autoscaling": Autoscaling(1, 2, 150)}, r"targetCpuUtilization: 150"),
        ({"min_available": 1, "max_unavailable": 1}, r"minAvailable or maxUnavailable, not both"),
        ({"min_available": "lots"}, r"minAvailable: 'lots' must be a count or a percentage"),
        ({"max_unavailable": -1}, r"maxUnavailable: -1 must be 0 or more"),
    ],
)
def test_bad_workload_shapes_name_the_key(shape: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WorkloadShape.of(key=KEY, **shape)


def test_an_option_the_profile_cannot_do_fails_naming_it_and_the_profile() -> None:
    options = ControllerOptions.of(key=KEY, ssl_passthrough=True, default_backend="a/b")
    assert options.features() == {Feature.SSL_PASSTHROUGH, Feature.DEFAULT_BACKEND}
    check_supported(options, frozenset(Feature), key=KEY, profile="traefik")
    with pytest.raises(
        ConfigError,
        match=r"fleets\[public\]: the haproxy profile cannot do tls\.sslPassthrough; "
        r"remove the option or choose another profile",
    ):
        check_supported(options, frozenset({Feature.DEFAULT_BACKEND}), key=KEY, profile="haproxy")


def _objects(**workload: Any) -> dict[str, dict[str, Any]]:
    spec = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="ingress-public",
        workload=WorkloadShape.of(key=KEY, **workload),
    )
    return {o["kind"]: o for o in desired_fleet_objects(spec, owner_id="cluster-a")}


def test_a_daemonset_fleet_has_no_replicas_and_no_deployment() -> None:
    objs = _objects(kind="DaemonSet", requests={"cpu": "200m"}, limits={"memory": "256Mi"})
    assert "Deployment" not in objs
    daemons = objs["DaemonSet"]
    assert "replicas" not in daemons["spec"]
    container = daemons["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "200m"}, "limits": {"memory": "256Mi"}}
    assert objs["Service"]["spec"]["selector"] == daemons["spec"]["selector"]["matchLabels"]


def test_budget_and_autoscaler_target_the_fleets_pods_and_replicas_are_left_to_the_autoscaler() -> (
    None
):
    objs = _objects(max_unavailable="25%", autoscaling=Autoscaling(2, 6, 70))
    deployment = objs["Deployment"]
    assert "replicas" not in deployment["spec"]  # two writers of replicas would fight
    budget = objs["PodDisruptionBudget"]["spec"]
    assert budget == {
        "selector": deployment["spec"]["selector"],
        "maxUnavailable": "25%",
    }
    hpa = objs["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_without_options_the_profile_defaults_stand() -> None:
    objs = _objects()
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"}}
    assert objs["Deployment"]["spec"]["replicas"] == 2
    assert "PodDisruptionBudget" not in objs
    assert "HorizontalPodAutoscaler" not in objs


def test_a_fleet_on_the_retired_profile_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    nginx = FleetSpec.of(
        name="old",
        ingress_class_name="old",
        visibility="public",
        namespace="ingress-old",
        profile="ingress-nginx",
    )
    current = FleetSpec.of(
        name="new", ingress_class_name="new", visibility="public", namespace="ingress-new"
    )
    with caplog.at_level(logging.WARNING, logger="reconciler.app.wiring"):
        lines = warn_retired_profiles([nginx, current])
    assert len(lines) == 1
    assert lines[0].startswith("fleet old runs the ingress-nginx profile: ingress-nginx was")
    assert [r.getMessage() for r in caplog.records] == lines
    assert caplog.records[0].levelno == logging.WARNING


def test_passthrough_asked_of_a_fleet_that_keeps_it_off_is_a_finding() -> None:
    closed = FleetSpec.of(
        name="private", ingress_class_name="private", visibility="private", namespace="p"
    )
    open_fleet = FleetSpec.of(
        name="public",
        ingress_class_name="public",
        visibility="public",
        namespace="q",
        options=ControllerOptions.of(key=KEY, ssl_passthrough=True),
    )

    def ingress(name: str, cls: str, value: str) -> IngressDict:
        return {
            "metadata": {
                "name": name,
                "namespace": "web",
                "annotations": {SSL_PASSTHROUGH_ANNOTATION: value},
            },
            "spec": {"ingressClassName": cls},
        }

    findings = find_class_problems(
        [closed, open_fleet],
        ingress_classes=[],
        ingresses=[
            ingress("asks", "private", "true"),
            ingress("asks-go-style", "private", "T"),
            ingress("declines", "private", "false"),
            ingress("allowed", "public", "true"),
        ],
    )
    assert [(f.ref.name, f.reason) for f in findings] == [
        ("asks", Reason.SSL_PASSTHROUGH_NOT_ENABLED),
        ("asks-go-style", Reason.SSL_PASSTHROUGH_NOT_ENABLED),
    ]
    assert "fleet private (class private) does not enable tls.sslPassthrough" in findings[0].message
