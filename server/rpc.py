"""The RPC boundary: registering a servicer on a grpc server from its service descriptor,
and what happens around every call, whatever the service: timing, metrics, the access log
line (with the caller's `x-request-id` and JWT subject), and turning a handler's exception
into the caller's status (the mapping is `server.errors.status_of`).

`add_service` registers one call per service, every method wrapped by a `CallObserver`, so
a handler is plain business code: it raises `ServiceError`s, and the inference core
(`server.inference`) reports what the call did (`answered_by`, `count_records`). Adding an
RPC to a service is adding its method to the servicer.

Requests are parsed leniently: bytes that are not a valid message reach the call as a
`RefusedRequest`, answered INVALID_ARGUMENT (logged and counted like any call), where
grpc's generated registration would answer INTERNAL with a traceback. With a `Guard`, the
raw bytes are first checked against the method's bounds and admitted against the server's
capacity (`server.bounds.request_bounds`, `server.bounds.admission`); a refusal reaches the call the
same way, and the admission is given back when the call ends (`Call`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, cast

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from model.artifact import LinearModel
from model.linear import FloatArray
from server.bounds.admission import Admitted, Ticket
from server.errors import (
    CallEndedError,
    RefusedRequest,
    RetryLaterError,
    malformed,
    refuse_malformed,
    status_of,
)
from server.logs import AccessLog

# The servicer's method as grpc calls it: (request or request iterator, context).
Behavior = Callable[[Any, grpc.ServicerContext], Any]


class InputStats(Protocol):
    """Receives the inputs a call predicted on, for the drift statistics."""

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None: ...

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None: ...


class CallMetrics(InputStats, Protocol):
    """Receives every call's outcome and inputs (implemented by `server.metrics`)."""

    def call_started(self, method: str) -> None: ...

    def call_finished(self, method: str, code: str, seconds: float, records: int) -> None: ...

    def model_answered(self, model: str, version: str, code: str) -> None: ...


_current: ContextVar[Call | None] = ContextVar("server_call", default=None)
# An enum member's `.name` is a property lookup: most calls end OK, so it is spelt once.
_OK = grpc.StatusCode.OK.name


def count_records(records: int) -> None:
    """Report how many records the current call handles (the access log's `records` and the
    `diabetes_call_records` histogram; 0 if never called). Outside an observed call
    (e.g. a servicer registered with grpc's generated function) it does nothing."""
    call = _current.get()
    if call is not None:
        call.records = records


def answered_by(model: LinearModel) -> None:
    """Report which model version answers the current call (the access log's `model` and
    `model_version`, the `diabetes_model_calls` counter). Outside an observed call it does
    nothing."""
    call = _current.get()
    if call is not None:
        call.model = model


class CallObserver:
    """Wraps servicer methods so that each call is timed, counted, logged and has its
    exceptions turned into statuses; also passes the inputs on to the drift statistics.
    Either sink may be absent (`access_log=None`: no access log; `metrics=None`: none)."""

    def __init__(self, *, access_log: AccessLog | None, metrics: CallMetrics | None = None) -> None:
        self.access_log = access_log
        self.metrics = metrics

    # InputStats
    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        if self.metrics is not None:
            self.metrics.inputs_seen(model, columns)

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None:
        if self.metrics is not None:
            self.metrics.record_seen(model, values)

    # The four kinds of gRPC method. `method` is the name the logs and metrics show.
    def unary_unary(self, method: str, behavior: Behavior) -> Behavior:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            with Call(self, method, context) as call:
                return behavior(call.admit(request), context)

        return handle

    def unary_stream(self, method: str, behavior: Behavior) -> Behavior:
        def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with Call(self, method, context) as call:
                yield from behavior(call.admit(request), context)

        return handle

    def unary_stream_non_blocking(self, method: str, behavior: Behavior) -> Behavior:
        """A server-streaming behavior that grpc runs with a callback for its replies and
        that returns at once (the health service's Watch): the call observed is the setting
        up of the stream; it holds no thread while the stream stays open."""

        start_stream = cast(Callable[[Any, grpc.ServicerContext, Any], None], behavior)

        def handle(request: Any, context: grpc.ServicerContext, send_response: Any) -> None:
            with Call(self, method, context) as call:
                start_stream(call.admit(request), context, send_response)

        handle.experimental_non_blocking = True  # type: ignore[attr-defined]
        handle.experimental_thread_pool = getattr(  # type: ignore[attr-defined]
            behavior, "experimental_thread_pool", None
        )
        return cast(Behavior, handle)

    def stream_unary(self, method: str, behavior: Behavior) -> Behavior:
        def handle(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            with Call(self, method, context):
                return behavior(_well_formed(requests), context)

        return handle

    def stream_stream(self, method: str, behavior: Behavior) -> Behavior:
        def handle(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            with Call(self, method, context):
                yield from behavior(_well_formed(requests), context)

        return handle


def _well_formed(requests: Iterable[Any]) -> Iterator[Any]:
    try:
        for request in requests:
            refuse_malformed(request)
            yield request
    except grpc.RpcError:  # grpc's request iterator, once the call has ended
        raise CallEndedError("the call ended while its requests were being read") from None


class Call:
    """One call in progress: times it, and on the way out counts and logs it and aborts
    the RPC with the right status when the handler raised."""

    __slots__ = ("context", "method", "model", "observer", "records", "started", "ticket")

    def __init__(self, observer: CallObserver, method: str, context: grpc.ServicerContext) -> None:
        self.observer = observer
        self.method = method
        self.context = context
        self.records = 0
        self.started = 0.0
        self.model: LinearModel | None = None
        # The capacity its parser reserved (server.bounds.admission), given back when it ends.
        self.ticket: Ticket | None = None

    def __enter__(self) -> Call:
        _current.set(self)
        self.started = time.perf_counter()
        if self.observer.metrics is not None:
            self.observer.metrics.call_started(self.method)
        return self

    def admit(self, request: Any) -> Any:
        """The request the handler gets: the message, with its admission ticket kept by
        this call; raises the caller's error if the parser refused it."""
        if type(request) is Admitted:
            self.ticket = request.ticket
            return request.message
        refuse_malformed(request)
        return request

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        seconds = time.perf_counter() - self.started
        if self.ticket is not None:
            self.ticket.release()
        # A stream closed from another thread must not clear that thread's call.
        if _current.get() is self:
            _current.set(None)
        if exc is None:
            code, code_name, message = grpc.StatusCode.OK, _OK, ""
        else:
            code, message = status_of(exc)
            code_name = code.name
        observer = self.observer
        model = self.model
        if observer.metrics is not None:
            observer.metrics.call_finished(self.method, code_name, seconds, self.records)
            if model is not None:
                observer.metrics.model_answered(model.name, model.version, code_name)
        if observer.access_log is not None:
            request_id, subject = _caller(self.context)
            observer.access_log.write(
                self.method,
                code_name,
                seconds,
                self.records,
                request_id,
                message,
                subject,
                (model.name, model.version) if model is not None else None,
            )
        if isinstance(exc, Exception):
            if isinstance(exc, RetryLaterError):
                self.context.set_trailing_metadata(exc.trailing_metadata())
            self.context.abort(code, message)


# Set by Envoy from the verified JWT's `sub` (a caller's own header is dropped there).
SUBJECT_METADATA = "x-jwt-subject"


def _caller(context: grpc.ServicerContext) -> tuple[str | None, str | None]:
    """The call's `x-request-id` and the authenticated caller's subject, if any."""
    request_id = subject = None
    for key, value in context.invocation_metadata():
        if key == "x-request-id":
            request_id = str(value)
        elif key == SUBJECT_METADATA:
            subject = str(value)
    return request_id, subject


# Registration

_HandlerFactory = Callable[..., grpc.RpcMethodHandler]
# A method's check of its raw request bytes before the parse: the refusal, or the call's
# admission ticket, or None.
Guard = Callable[[bytes], RefusedRequest | Ticket | None]
GuardFactory = Callable[[MethodDescriptor], Guard]

# (client streaming, server streaming) -> grpc's handler factory and the observer's wrapper.
_KINDS: dict[
    tuple[bool, bool], tuple[_HandlerFactory, Callable[[CallObserver, str, Behavior], Behavior]]
] = {
    (False, False): (grpc.unary_unary_rpc_method_handler, CallObserver.unary_unary),
    (False, True): (grpc.unary_stream_rpc_method_handler, CallObserver.unary_stream),
    (True, False): (grpc.stream_unary_rpc_method_handler, CallObserver.stream_unary),
    (True, True): (grpc.stream_stream_rpc_method_handler, CallObserver.stream_stream),
}


@dataclass(frozen=True)
class MethodCodec:
    """A method's own request parser and reply serializer, in place of its messages'
    FromString and SerializeToString. `parse` raises protobuf's DecodeError for bytes that
    are not the message (the call is refused as for any method); `serialize=None` sends
    the behavior's replies, which are then wire bytes, as they are."""

    parse: Callable[[bytes], object]
    serialize: Callable[[Any], bytes] | None


def add_service(
    server: grpc.Server,
    servicer: object,
    service: ServiceDescriptor,
    observer: CallObserver,
    guards: GuardFactory | None = None,
    thread_pool: futures.ThreadPoolExecutor | None = None,
    codecs: Mapping[str, MethodCodec] | None = None,
) -> str:
    """Register the methods of `service` that `servicer` has (by the RPC's name, e.g.
    `servicer.Predict(request, context)`), each observed by `observer` and, with `guards`,
    its requests checked by `guards(method)` before the parse, and run on `thread_pool`
    when given (else the server's); a method the servicer lacks is answered UNIMPLEMENTED
    by grpc. `codecs` gives methods (by name) their own parser and serializer. Returns the
    service's full name (for health and reflection)."""
    codecs = codecs or {}
    handlers = {
        method.name: method_handler(
            method,
            getattr(servicer, method.name),
            observer,
            None if guards is None else guards(method),
            thread_pool,
            codecs.get(method.name),
        )
        for method in service.methods
        if callable(getattr(servicer, method.name, None))
    }
    name = service.full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)
    return name


def method_handler(
    method: MethodDescriptor,
    behavior: Behavior,
    observer: CallObserver,
    guard: Guard | None = None,
    thread_pool: futures.ThreadPoolExecutor | None = None,
    codec: MethodCodec | None = None,
) -> grpc.RpcMethodHandler:
    """grpc's handler for one RPC: its kind, parser and serializer from the descriptor
    (or `codec`), `behavior` wrapped by `observer`. A server-streaming behavior that grpc
    runs without holding a thread (`experimental_non_blocking`, e.g. the health service's
    Watch) stays so."""
    make_handler, wrap = _KINDS[method.client_streaming, method.server_streaming]
    if getattr(behavior, "experimental_non_blocking", False):
        wrap = CallObserver.unary_stream_non_blocking
    handle = wrap(observer, method.name, behavior)
    if thread_pool is not None:
        handle.experimental_thread_pool = thread_pool  # type: ignore[attr-defined]
    request_type = GetMessageClass(method.input_type)
    serialize: Callable[[Any], bytes] | None = GetMessageClass(method.output_type).SerializeToString
    if codec is not None:
        serialize = codec.serialize
    return make_handler(
        handle,
        request_deserializer=lenient_parser(
            request_type, guard, None if codec is None else codec.parse
        ),
        response_serializer=serialize,
    )


def lenient_parser(
    message_type: type[Message],
    guard: Guard | None = None,
    parse_bytes: Callable[[bytes], object] | None = None,
) -> Callable[[bytes], object]:
    """Parse request bytes (with `parse_bytes`, else the message's FromString); bytes that
    `guard` refuses, or that do not parse, become a `RefusedRequest`; an admitted request
    comes with its ticket (`Admitted`)."""
    if parse_bytes is None:
        parse_bytes = message_type.FromString
    name = message_type.DESCRIPTOR.full_name

    def parse(data: bytes) -> object:
        ticket = None
        if guard is not None:
            checked = guard(data)
            if isinstance(checked, RefusedRequest):
                return checked
            ticket = checked
        try:
            message = parse_bytes(data)
        except DecodeError as exc:
            if ticket is not None:
                ticket.release()
            return malformed(name, exc)
        return message if ticket is None else Admitted(message, ticket)

    return parse
