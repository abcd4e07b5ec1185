"""Errors the service reports to callers, and their gRPC status codes: the one place
where exceptions (and request bytes that do not parse) become statuses."""

from __future__ import annotations

import logging

import grpc

log = logging.getLogger("server.errors")


class ServiceError(Exception):
    """An error meant for the caller; its message is sent as the status details."""

    code = grpc.StatusCode.INTERNAL


class InvalidInputError(ServiceError):
    """The request is wrong; the message says what and where (e.g. `records[3].bmi`)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class RetryLaterError(ServiceError):
    """The server is at capacity (memory or calls); the same call may succeed in a moment,
    here or on another server. Trailing metadata tells clients and the edge when to retry:
    `grpc-retry-pushback-ms` (gRPC's retry policy honours it) and `retry-after` (seconds,
    for an HTTP `Retry-After`)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    RETRY_AFTER_SECONDS = 1

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        seconds = self.RETRY_AFTER_SECONDS
        return (("grpc-retry-pushback-ms", str(seconds * 1000)), ("retry-after", str(seconds)))


class CallEndedError(ServiceError):
    """The caller went away (cancelled, or its deadline passed) while the handler was still
    reading its stream of requests: nothing went wrong here, so no traceback is logged."""

    code = grpc.StatusCode.CANCELLED


class ModelNotFoundError(ServiceError):
    """The call names a model, version or label this server does not serve; the message
    names those it does."""

    code = grpc.StatusCode.NOT_FOUND


class RefusedRequest:
    """What request bytes that are refused before or by the parse become (see
    `server.rpc`): bytes that are not a valid message, over a method's size or
    count limit, or over the server's capacity. grpc would answer INTERNAL and log a
    traceback for an exception raised there; the call is answered with `error`'s status
    instead, and logged and counted like any other."""

    __slots__ = ("error",)

    def __init__(self, error: ServiceError) -> None:
        self.error = error


def malformed(message_name: str, problem: object) -> RefusedRequest:
    return RefusedRequest(
        InvalidInputError(f"the request is not a valid {message_name} message: {problem}")
    )


def refuse_malformed(request: object) -> None:
    """Raise the caller's error if `request` is what refused bytes parsed to."""
    if type(request) is RefusedRequest:
        raise request.error


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a caller sees for an exception raised by a handler:
    a `ServiceError`'s own code and message; for anything else INTERNAL "internal error"
    (the exception is logged with its traceback, never sent). A `BaseException` that is
    not an `Exception` (GeneratorExit: the caller went away mid-stream) is CANCELLED."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc)
    if not isinstance(exc, Exception):
        return grpc.StatusCode.CANCELLED, ""
    log.error("unhandled error in handler", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error"
