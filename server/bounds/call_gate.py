"""The call gate: prediction calls, and bulk calls among them, counted when they arrive,
before grpc receives their request or queues them for a thread.

- At most `--max-traffic-calls` prediction calls per process at once, running or waiting
  for a thread (by default 8 fewer than `--max-concurrent-rpcs`), so grpc's own cap, which
  would refuse any call, health checks included, is never reached by traffic.
- At most `--max-bulk-calls` bulk calls (PredictBatch, `/batch`, `/batch/columns`, V2
  infer) at once. grpc receives a request whole (about 3× its bytes at the peak) before any
  code of the server sees it, so admission by size (`server.bounds.admission`, in the parser)
  cannot bound what concurrent large requests cost while they arrive; this does:
  `max_bulk_calls × 3 × --max-receive-message-bytes` at most.

A call beyond either is answered RESOURCE_EXHAUSTED (with the retry metadata of
`RetryLaterError`) without reading its request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from server.bounds.admission import AdmissionMetrics
from server.errors import RetryLaterError


class _Place:
    """One call's place; given back once, when the call ends or its handler is dropped
    unrun (a call cancelled while it waited for a thread)."""

    __slots__ = ("_bulk", "_gate")

    def __init__(self, gate: CallGate, bulk: bool) -> None:
        self._gate: CallGate | None = gate
        self._bulk = bulk

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release(self._bulk)

    __del__ = release


class CallGate(grpc.ServerInterceptor):  # type: ignore[misc]
    """Lets `max_traffic` calls of the `traffic` methods in at once, and `max_bulk` of the
    `bulk` ones among them (wire paths, `/Service/Method`)."""

    def __init__(
        self,
        traffic: frozenset[str],
        bulk: frozenset[str],
        max_traffic: int,
        max_bulk: int,
        metrics: AdmissionMetrics | None = None,
    ) -> None:
        self.traffic, self.bulk = traffic | bulk, bulk
        self.max_traffic, self.max_bulk = max_traffic, max_bulk
        self._metrics = metrics
        self._lock = threading.Lock()
        self.traffic_calls = self.bulk_calls = 0

    def release(self, bulk: bool) -> None:
        with self._lock:
            self.traffic_calls -= 1
            self.bulk_calls -= bulk

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method
        if handler is None or method not in self.traffic:
            return handler
        bulk = method in self.bulk
        with self._lock:
            if self.traffic_calls >= self.max_traffic:
                refused = f"{self.max_traffic} prediction calls"
            elif bulk and self.bulk_calls >= self.max_bulk:
                refused = f"{self.max_bulk} bulk calls"
            else:
                refused = ""
                self.traffic_calls += 1
                self.bulk_calls += bulk
        if refused:
            if self._metrics is not None:
                self._metrics.admission_refused("bulk" if "bulk" in refused else "calls")
            return _refusal(method[1:], refused)
        return _holding(handler, _Place(self, bulk))


def _refusal(method: str, limit: str) -> grpc.RpcMethodHandler:
    """A handler that answers RESOURCE_EXHAUSTED without reading the request (a
    request-streaming handler is called before any message is received)."""
    error = RetryLaterError(
        f"{method}: this server is handling {limit}, its most at once; retry in "
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
