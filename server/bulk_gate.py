"""The bulk gate: at most `--max-bulk-calls` bulk calls (PredictBatch, `/batch`,
`/batch/columns`, OIP infer) per process at once, counted before grpc receives their request.

grpc receives a request whole (about 3× its bytes at the peak) before any code of the
server sees it, so admission by size (`server.admission`, in the parser) cannot bound what
concurrent large requests cost while they arrive. This interceptor runs when the call
arrives, before its message is read: a bulk call beyond the limit is answered
RESOURCE_EXHAUSTED (with the same retry metadata) without reading it. So the bytes in
receipt stay within `max_bulk_calls × 3 × --max-receive-message-bytes`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from server.admission import AdmissionMetrics
from server.errors import RetryLaterError


class _Place:
    """One bulk call's place; given back once, when the call ends or its handler is
    dropped unrun (a call cancelled while it waited for a thread)."""

    __slots__ = ("_gate",)

    def __init__(self, gate: BulkGate) -> None:
        self._gate: BulkGate | None = gate

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()

    __del__ = release


class BulkGate(grpc.ServerInterceptor):  # type: ignore[misc]
    """Lets `limit` calls of the `methods` (wire paths, `/Service/Method`) in at once."""

    def __init__(
        self, methods: frozenset[str], limit: int, metrics: AdmissionMetrics | None = None
    ) -> None:
        self.methods = methods
        self.limit = limit
        self._metrics = metrics
        self._lock = threading.Lock()
        self.in_progress = 0

    def release(self) -> None:
        with self._lock:
            self.in_progress -= 1

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or details.method not in self.methods:
            return handler
        with self._lock:
            admitted = self.in_progress < self.limit
            if admitted:
                self.in_progress += 1
        if not admitted:
            if self._metrics is not None:
                self._metrics.admission_refused("bulk")
            return _refusal(details.method[1:], self.limit)
        return _holding(handler, _Place(self))


def _refusal(method: str, limit: int) -> grpc.RpcMethodHandler:
    """A handler that answers RESOURCE_EXHAUSTED without reading the request (a
    request-streaming handler is called before any message is received)."""
    error = RetryLaterError(
        f"{method}: this server is handling {limit} bulk calls, its most at once; retry in "
        f"{RetryLaterError.RETRY_AFTER_SECONDS} s (another server may take it now)"
    )

    def refuse(requests: Iterator[Any], context: grpc.ServicerContext) -> None:
        context.set_trailing_metadata(error.trailing_metadata())
        context.abort(error.code, str(error))

    return grpc.stream_unary_rpc_method_handler(refuse)


def _holding(handler: grpc.RpcMethodHandler, place: _Place) -> grpc.RpcMethodHandler:
    """`handler` (unary request), giving `place` back when its call ends."""
    if handler.unary_stream is not None:
        streaming = handler.unary_stream

        def stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from streaming(request, context)
            finally:
                place.release()

        return grpc.unary_stream_rpc_method_handler(
            stream, handler.request_deserializer, handler.response_serializer
        )
    unary = handler.unary_unary

    def answer(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return unary(request, context)
        finally:
            place.release()

    return grpc.unary_unary_rpc_method_handler(
        answer, handler.request_deserializer, handler.response_serializer
    )
