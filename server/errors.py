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


class ModelNotFoundError(ServiceError):
    """The call names a model, version or label this server does not serve; the message
    names those it does."""

    code = grpc.StatusCode.NOT_FOUND


class MalformedRequest:
    """What request bytes that are not a valid protobuf message parse to (see
    `server.rpc`). grpc would answer INTERNAL and log a traceback; the call
    is answered INVALID_ARGUMENT instead, and logged and counted like any other."""

    __slots__ = ("error",)

    def __init__(self, error: str) -> None:
        self.error = error


def malformed(message_name: str, problem: object) -> MalformedRequest:
    return MalformedRequest(f"the request is not a valid {message_name} message: {problem}")


def refuse_malformed(request: object) -> None:
    """Raise the caller's error if `request` is what undecodable bytes parsed to."""
    if type(request) is MalformedRequest:
        raise InvalidInputError(request.error)


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
