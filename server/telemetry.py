"""What happens around every call: the access log line, metrics, and turning a
handler's exception into the caller's status (via `server.errors`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol

import grpc

from model.artifact import LinearModel
from model.linear import FloatArray
from server.errors import status_of
from server.logs import AccessLog


class CallMetrics(Protocol):
    """Receives every call's outcome and inputs (implemented by `server.metrics`)."""

    def call_started(self, method: str) -> None: ...

    def call_finished(self, method: str, code: str, seconds: float, records: int) -> None: ...

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None: ...

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None: ...


class CallObserver:
    def __init__(self, *, access_log: AccessLog | None, metrics: CallMetrics | None = None) -> None:
        self.access_log = access_log
        self.metrics = metrics

    def call(self, method: str, context: grpc.ServicerContext) -> Call:
        return Call(self, method, context)

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        if self.metrics is not None:
            self.metrics.inputs_seen(model, columns)

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None:
        if self.metrics is not None:
            self.metrics.record_seen(model, values)


class Call:
    """Context manager around one handler: times it, logs and counts it, and aborts
    the RPC with the right status when the handler raised."""

    __slots__ = ("context", "method", "observer", "records", "started")

    def __init__(self, observer: CallObserver, method: str, context: grpc.ServicerContext) -> None:
        self.observer = observer
        self.method = method
        self.context = context
        self.records = 0
        self.started = 0.0

    def __enter__(self) -> Call:
        self.started = time.perf_counter()
        if self.observer.metrics is not None:
            self.observer.metrics.call_started(self.method)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self.started
        message = ""
        if exc is None:
            code = grpc.StatusCode.OK
        elif isinstance(exc, Exception):
            code, message = status_of(exc)
        else:  # GeneratorExit: the caller went away mid-stream
            code = grpc.StatusCode.CANCELLED
        code_name = code.name
        if self.observer.metrics is not None:
            self.observer.metrics.call_finished(self.method, code_name, seconds, self.records)
        if self.observer.access_log is not None:
            self.observer.access_log.write(
                self.method, code_name, seconds, self.records, _request_id(self.context), message
            )
        if isinstance(exc, Exception):
            self.context.abort(code, message)


def _request_id(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "x-request-id":
            return str(value)
    return None
