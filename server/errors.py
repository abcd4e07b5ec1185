"""Errors the service reports to callers, and their gRPC status codes: the one place
where exceptions become statuses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

log = logging.getLogger("server.errors")


class ServiceError(Exception):
    """An error meant for the caller; its message is sent as the status details."""

    code = grpc.StatusCode.INTERNAL


class InvalidInputError(ServiceError):
    """The request is wrong; the message says what and where (e.g. `records[3].bmi`)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a caller sees for an exception raised by a handler."""
    if isinstance(exc, ServiceError):
        return exc.code, str(exc)
    log.error("unhandled error in handler", exc_info=exc)
    return grpc.StatusCode.INTERNAL, "internal error"


Handler = TypeVar("Handler", bound=Callable[..., Any])


def unary_errors(handler: Handler) -> Handler:
    """Turn exceptions from a unary handler into statuses on its context."""

    @functools.wraps(handler)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(self, request, context)
        except Exception as exc:
            code, message = status_of(exc)
            context.abort(code, message)

    return wrapper  # type: ignore[return-value]


def stream_errors(handler: Handler) -> Handler:
    """Turn exceptions from a server-streaming handler into statuses on its context."""

    @functools.wraps(handler)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from handler(self, request, context)
        except Exception as exc:
            code, message = status_of(exc)
            context.abort(code, message)

    return wrapper  # type: ignore[return-value]
