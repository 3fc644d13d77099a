"""Route53 change batches rendered by ``providers.route53_xml``: the very bytes botocore sends.

Every body is compared with botocore's own rest-xml serialiser for the same parameters, over
record sets with every member Route53's model has (routing policies, aliases, CIDR and
geoproximity routing), members in any order, and text that needs escaping. Through a client,
the request that would go on the wire (URL, body, headers) is captured at ``before-send`` and
compared with the request of a client without the renderer. No network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import botocore.serialize
import pytest
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from providers import route53_xml
from providers.route53 import client_config

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_route53 import Route53Client

ZONE_ID = "Z0123456789ABCDEFGHIJ"


def make_client(config: Config) -> Route53Client:
    return boto3.client(
        "route53",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE",
        aws_secret_access_key="example",
        config=config,
    )


@pytest.fixture(scope="module")
def operation() -> OperationModel:
    client = make_client(client_config())
    return client.meta.service_model.operation_model(route53_xml.OPERATION)


def botocore_body(operation: OperationModel, params: dict[str, Any]) -> bytes:
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=False)
    request = serializer.serialize_to_request({"HostedZoneId": ZONE_ID, **params}, operation)
    body = request["body"]
    assert isinstance(body, bytes)
    return body


# -- bodies -------------------------------------------------------------------------------------

# text with what XML escapes, quotes, non-ASCII and the empty string
texts = st.text(alphabet=st.sampled_from("az09.-_*&<>\"'\\ \t\né字"), max_size=12)


def shuffled(members: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts of any subset of ``members`` (at least one), their keys in any order."""
    return st.lists(
        st.sampled_from(sorted(members)), min_size=1, max_size=len(members), unique=True
    ).flatmap(lambda keys: st.fixed_dictionaries({k: members[k] for k in keys}))


record_sets = shuffled(
    {
        "Name": texts,
        "Type": st.sampled_from(["A", "AAAA", "CNAME", "TXT", "MX"]),
        "SetIdentifier": texts,
        "Weight": st.integers(min_value=0, max_value=255),
        "Region": texts,
        "GeoLocation": shuffled(
            {"ContinentCode": texts, "CountryCode": texts, "SubdivisionCode": texts}
        ),
        "Failover": st.sampled_from(["PRIMARY", "SECONDARY"]),
        "MultiValueAnswer": st.booleans(),
        "TTL": st.integers(min_value=0, max_value=2**31 - 1),
        "ResourceRecords": st.lists(st.fixed_dictionaries({"Value": texts}), max_size=3),
        "AliasTarget": shuffled(
            {"HostedZoneId": texts, "DNSName": texts, "EvaluateTargetHealth": st.booleans()}
        ),
        "HealthCheckId": texts,
        "CidrRoutingConfig": shuffled({"CollectionId": texts, "LocationName": texts}),
        "GeoProximityLocation": shuffled(
            {
                "AWSRegion": texts,
                "LocalZoneGroup": texts,
                "Bias": st.integers(min_value=-99, max_value=99),
            }
        ),
    }
)

change_batches = st.fixed_dictionaries(
    {
        "Changes": st.lists(
            st.fixed_dictionaries(
                {
                    "Action": st.sampled_from(["CREATE", "DELETE", "UPSERT"]),
                    "ResourceRecordSet": record_sets,
                }
            ),
            max_size=4,
        )
    },
    optional={"Comment": texts},
)


@settings(max_examples=300, deadline=None)
@given(batch=change_batches)
def test_a_body_is_the_bytes_botocore_writes(operation: OperationModel, batch: Any) -> None:
    params = {"ChangeBatch": batch}
    assert route53_xml.request_body(operation, params) == botocore_body(operation, params)


def test_a_batch_of_plain_records(operation: OperationModel) -> None:
    batch = {
        "Changes": [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": "a-www.example.test",
                    "Type": "TXT",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": '"heritage=external-dns,a&b<c>"'}],
                },
            }
        ]
    }
    body = route53_xml.request_body(operation, {"ChangeBatch": batch})
    assert body == botocore_body(operation, {"ChangeBatch": batch})
    assert body is not None
    assert body.startswith(
        b'<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
    )
    assert b'<Value>"heritage=external-dns,a&amp;b&lt;c&gt;"</Value>' in body


@pytest.mark.parametrize(
    "batch",
    [
        # botocore stops writing a structure at a None member: left to botocore
        {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "x", "TTL": None}}]},
        # a member the model does not have
        {"Changes": [{"Action": "CREATE", "Unknown": "x"}]},
        # text UTF-8 cannot encode (botocore writes it as a character reference)
        {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "\udcff"}}]},
        # a list given as text
        {"Changes": "CREATE"},
    ],
    ids=["none-member", "unknown-member", "lone-surrogate", "list-as-text"],
)
def test_what_it_does_not_render_is_left_to_botocore(
    operation: OperationModel, batch: dict[str, Any]
) -> None:
    assert route53_xml.request_body(operation, {"ChangeBatch": batch}) is None


# -- through a client ---------------------------------------------------------------------------


class _CapturedError(Exception):
    """Raised at before-send: the request went no further."""


def capture(client: Route53Client, call: Callable[[], Any]) -> dict[str, Any]:
    """The request ``call`` would send: method, URL, body and the headers that are not per-send."""
    seen: dict[str, Any] = {}

    def before_send(request: Any, **_: Any) -> None:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("Authorization", "X-Amz-Date", "amz-sdk-invocation-id", "User-Agent")
        }
        seen.update(method=request.method, url=request.url, body=request.body, headers=headers)
        raise _CapturedError

    client.meta.events.register("before-send.route-53.ChangeResourceRecordSets", before_send)
    with pytest.raises(_CapturedError):
        call()
    return seen


@pytest.fixture
def clients() -> tuple[Route53Client, Route53Client]:
    config = client_config()
    rendered, plain = make_client(config), make_client(config)
    assert route53_xml.install(rendered, config)
    assert route53_xml.install(rendered, config)  # idempotent
    return rendered, plain


@pytest.mark.parametrize(
    "batch",
    [
        {
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "www.example.test",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}, {"Value": "192.0.2.2"}],
                    },
                },
                {
                    "Action": "DELETE",
                    "ResourceRecordSet": {
                        "Name": "alias.example.test",
                        "Type": "A",
                        "SetIdentifier": "eu",
                        "Weight": 10,
                        "AliasTarget": {
                            "HostedZoneId": "Z215JYRZR1TBD5",
                            "DNSName": "web-1.elb.us-east-1.amazonaws.com",
                            "EvaluateTargetHealth": False,
                        },
                    },
                },
            ]
        },
        # not rendered here (a None member): botocore serialises the call as without the renderer
        {"Changes": [{"Action": "CREATE", "ResourceRecordSet": {"Name": "x", "TTL": None}}]},
    ],
    ids=["rendered", "left-to-botocore"],
)
def test_the_request_sent_is_the_request_botocore_sends(
    clients: tuple[Route53Client, Route53Client], batch: Any
) -> None:
    rendered, plain = clients

    def send(client: Route53Client) -> Callable[[], Any]:
        return lambda: client.change_resource_record_sets(
            HostedZoneId=f"/hostedzone/{ZONE_ID}", ChangeBatch=batch
        )

    sent, expected = capture(rendered, send(rendered)), capture(plain, send(plain))
    assert sent == expected
    assert sent["url"].endswith(f"/2013-04-01/hostedzone/{ZONE_ID}/rrset/")
    assert sent["body"]
    # the caller's parameters are the caller's: nothing taken out of its dict
    assert batch["Changes"]


def test_a_validating_client_keeps_botocores_serialiser() -> None:
    config = Config(retries={"total_max_attempts": 1})
    client = make_client(config)
    assert not route53_xml.install(client, config)
    with pytest.raises(Exception, match="ChangeBatch"):
        client.change_resource_record_sets(HostedZoneId=ZONE_ID)  # type: ignore[call-arg]
