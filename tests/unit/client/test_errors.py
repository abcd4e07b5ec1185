"""Failed calls become client exceptions that keep the status code and the server's message."""

from __future__ import annotations

import pickle

import grpc
import pytest

from diabetes_client import (
    DeadlineExceededError,
    InvalidInputError,
    MessageTooLargeError,
    ModelNotFoundError,
    PermissionDeniedError,
    PredictionError,
    RateLimitedError,
    UnauthenticatedError,
    UnavailableError,
)
from diabetes_client.errors import error_from_rpc


class FailedCall(grpc.RpcError):  # type: ignore[misc]
    """What grpc raises for a failed call: an RpcError that is also a grpc.Call."""

    def __init__(self, code: grpc.StatusCode, details: str | None) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidInputError),
        (grpc.StatusCode.UNAVAILABLE, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceededError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, RateLimitedError),
        (grpc.StatusCode.UNAUTHENTICATED, UnauthenticatedError),
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDeniedError),
        (grpc.StatusCode.INTERNAL, PredictionError),
        (grpc.StatusCode.NOT_FOUND, ModelNotFoundError),
        (grpc.StatusCode.ABORTED, PredictionError),
    ],
)
def test_status_codes_map_to_exceptions(code, kind):
    error = error_from_rpc(FailedCall(code, "the server says"))
    assert type(error) is kind
    assert (error.code, error.message) == (code, "the server says")
    assert str(error) == f"{code.name}: the server says"


RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
TOO_LARGE = MessageTooLargeError


@pytest.mark.parametrize(
    ("code", "details", "kind"),
    [
        # gRPC's own size checks, on the server and on the client.
        (RESOURCE_EXHAUSTED, "Received message larger than max (17600010 vs. 16777216)", TOO_LARGE),
        (RESOURCE_EXHAUSTED, "SERVER: Received message larger than max (5 vs. 4)", TOO_LARGE),
        (RESOURCE_EXHAUSTED, "Sent message larger than max (70000000 vs. 67108864)", TOO_LARGE),
        # Envoy's body limit, as its JSON face words it.
        (RESOURCE_EXHAUSTED, "request body too large: Payload Too Large", TOO_LARGE),
        # Envoy's local rate limiter: as RESOURCE_EXHAUSTED, or HTTP 429 mapped to UNAVAILABLE.
        (RESOURCE_EXHAUSTED, "local_rate_limited", RateLimitedError),
        (RESOURCE_EXHAUSTED, "rate limited: local_rate_limited", RateLimitedError),
        (UNAVAILABLE, "local_rate_limited", RateLimitedError),
        # A concurrency limit (grpcio's maximum_concurrent_rpcs) is load too, not size.
        (RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!", RateLimitedError),
        (RESOURCE_EXHAUSTED, "", RateLimitedError),
        # A server that is down is not rate limited.
        (UNAVAILABLE, "failed to connect to all addresses", UnavailableError),
    ],
)  # fmt: skip
def test_size_limits_and_rate_limits_are_told_apart(code, details, kind):
    error = error_from_rpc(FailedCall(code, details))
    assert type(error) is kind
    assert (error.code, error.message) == (code, details)


@pytest.mark.parametrize(
    ("details", "message"),
    [
        ('{"code":16,"details":[],"message":"Jwt is missing"}', "Jwt is missing"),
        ('{"code": 8, "message": "rate limited"}', "rate limited"),
        ("{not json", "{not json"),
        ('{"code": 16}', '{"code": 16}'),
        ('["Jwt is missing"]', '["Jwt is missing"]'),
    ],
)  # fmt: skip
def test_envoys_json_error_bodies_are_unwrapped(details, message):
    """Envoy's local replies reach gRPC callers with its JSON error body as the message."""
    assert error_from_rpc(FailedCall(UNAVAILABLE, details)).message == message


def test_a_rate_limit_inside_a_json_body_is_still_a_rate_limit():
    details = '{"code":8,"details":[],"message":"rate limited: local_rate_limited"}'
    error = error_from_rpc(FailedCall(RESOURCE_EXHAUSTED, details))
    assert type(error) is RateLimitedError
    assert str(error) == "RESOURCE_EXHAUSTED: rate limited: local_rate_limited"


def test_the_call_offset_is_kept_and_shown():
    error = error_from_rpc(FailedCall(grpc.StatusCode.INVALID_ARGUMENT, "columns.bmi[3]"), 2_000)
    assert error.record_offset == 2_000
    assert str(error) == "INVALID_ARGUMENT: columns.bmi[3] (in the call starting at record 2000)"


def test_no_details_is_an_empty_message():
    assert error_from_rpc(FailedCall(grpc.StatusCode.UNKNOWN, None)).message == ""


def test_errors_survive_pickling():
    error = InvalidInputError(grpc.StatusCode.INVALID_ARGUMENT, "record.bmi is missing", 5)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidInputError
    assert (copy.code, copy.message, copy.record_offset, str(copy)) == (
        error.code, error.message, 5, str(error),
    )  # fmt: skip
