"""How the AWS providers read botocore's exceptions (providers/aws_errors.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from providers.aws_errors import describe_error, error_code, is_transient


def client_error(code: str, status: int, message: str = "no") -> ClientError:
    # only the parts the providers read; botocore's stubs ask for every metadata key
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ChangeResourceRecordSets")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (client_error("Throttling", 400), True),
        (client_error("PriorRequestNotComplete", 400), True),
        (client_error("InternalFailure", 500), True),
        (client_error("Whatever", 503), True),
        (client_error("InvalidChangeBatch", 400), False),
        (client_error("AccessDenied", 403), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (NoCredentialsError(), False),
    ],
)
def test_transient_or_not(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_description_is_code_and_message_only() -> None:
    exc = client_error("InvalidInput", 400, "bad name")
    assert error_code(exc) == "InvalidInput"
    assert describe_error(exc) == "InvalidInput: bad name"
    assert describe_error(NoCredentialsError()).startswith("NoCredentialsError: ")
