"""The errors a client call raises: a failed RPC becomes a `PredictionError` that keeps the
gRPC status code and the server's own message."""

from __future__ import annotations

import json
import re

import grpc


class PredictionError(Exception):
    """A call to the service failed. `code` is the gRPC status, `message` the server's words.

    When a large input was split into several calls, `record_offset` is the index in the
    caller's input of the first record of the call that failed (record indices in the
    server's message count from there)."""

    code: grpc.StatusCode
    message: str
    record_offset: int

    def __init__(self, code: grpc.StatusCode, message: str, record_offset: int = 0) -> None:
        self.code = code
        self.message = message
        self.record_offset = record_offset
        where = f" (in the call starting at record {record_offset})" if record_offset else ""
        super().__init__(f"{code.name}: {message}{where}")

    def __reduce__(self) -> tuple[type[PredictionError], tuple[grpc.StatusCode, str, int]]:
        # Rebuilt from its fields, so it survives pickling (e.g. out of a process pool).
        return type(self), (self.code, self.message, self.record_offset)


class InvalidInputError(PredictionError):
    """The server refused the input (INVALID_ARGUMENT); the message names the field."""


class ModelNotFoundError(PredictionError):
    """The call names a model, version or label the server does not serve (NOT_FOUND); the
    message names those it does (`info().models` lists them)."""


class UnavailableError(PredictionError):
    """The server could not be reached, even after the configured retries (UNAVAILABLE)."""


class DeadlineExceededError(PredictionError):
    """The call did not finish within its deadline (DEADLINE_EXCEEDED)."""


class MessageTooLargeError(PredictionError):
    """A message was over a size limit (RESOURCE_EXHAUSTED, with a message that says so,
    e.g. "Received message larger than max (...)"): send fewer records per call."""


class RateLimitedError(PredictionError):
    """The service or its edge refused the call for load, not for its size: a rate limit
    (Envoy's local rate limiter: RESOURCE_EXHAUSTED, or UNAVAILABLE where HTTP 429 is
    mapped to it) or a concurrency limit. Wait and retry; the input itself is fine."""


class UnauthenticatedError(PredictionError):
    """The edge wants a valid bearer token (UNAUTHENTICATED): pass `token=` (the command
    line: --token or DIABETES_TOKEN)."""


class PermissionDeniedError(PredictionError):
    """The token is valid but not for this service (PERMISSION_DENIED), e.g. another
    audience."""


_BY_CODE: dict[grpc.StatusCode, type[PredictionError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.NOT_FOUND: ModelNotFoundError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: RateLimitedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}
# RESOURCE_EXHAUSTED means "too large" only when the message says so: gRPC's own size
# checks ("Received/Sent message larger than max (N vs. M)") and Envoy's body limit
# ("Payload Too Large"); everything else under that code is a limit on load.
_SIZE_MESSAGE = re.compile(r"larger than max|too large", re.IGNORECASE)
# Envoy's local rate limiter answers "local_rate_limited"; with HTTP 429 mapped to
# UNAVAILABLE (its default for gRPC), that is the only sign the call was rate limited.
_RATE_LIMIT_MESSAGE = re.compile(r"rate[ _-]?limit", re.IGNORECASE)


def error_class(code: grpc.StatusCode, details: str) -> type[PredictionError]:
    """The exception class for a status code and the status message."""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and _SIZE_MESSAGE.search(details):
        return MessageTooLargeError
    if code == grpc.StatusCode.UNAVAILABLE and _RATE_LIMIT_MESSAGE.search(details):
        return RateLimitedError
    return _BY_CODE.get(code, PredictionError)


def status_message(details: str) -> str:
    """The words of a status message. Envoy's own replies (a missing token, a rate limit, a
    body limit) can reach gRPC callers with its JSON error body as the message,
    `{"code":16,"details":[],"message":"Jwt is missing"}`: the words are its `message`."""
    if not details.startswith("{"):
        return details
    try:
        body = json.loads(details)
    except ValueError:
        return details
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else details


def error_from_rpc(error: grpc.RpcError, record_offset: int = 0) -> PredictionError:
    """The client exception for a failed call (sync or asyncio)."""
    code: grpc.StatusCode = error.code()
    details = status_message(error.details() or "")
    return error_class(code, details)(code, details, record_offset)
