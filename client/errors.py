"""The errors a client call raises: a failed RPC becomes a `PredictionError` that keeps the
gRPC status code and the server's own message."""

from __future__ import annotations

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


class UnavailableError(PredictionError):
    """The server could not be reached, even after the configured retries (UNAVAILABLE)."""


class DeadlineExceededError(PredictionError):
    """The call did not finish within its deadline (DEADLINE_EXCEEDED)."""


class MessageTooLargeError(PredictionError):
    """A message was over a size limit (RESOURCE_EXHAUSTED): send fewer records per call."""


_BY_CODE: dict[grpc.StatusCode, type[PredictionError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: MessageTooLargeError,
}


def error_from_rpc(error: grpc.RpcError, record_offset: int = 0) -> PredictionError:
    """The client exception for a failed call (sync or asyncio)."""
    code: grpc.StatusCode = error.code()
    details: str | None = error.details()
    return _BY_CODE.get(code, PredictionError)(code, details or "", record_offset)
