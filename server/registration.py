"""Registers any servicer on a grpc server from its service descriptor: one call per
service, every method observed (`server.telemetry`) and with its errors mapped
(`server.errors`). Adding an RPC to a service is adding its method to the servicer.

Requests are parsed leniently: bytes that are not a valid message reach the call as a
`RefusedRequest`, answered INVALID_ARGUMENT (logged and counted like any call), where
grpc's generated registration would answer INTERNAL with a traceback. With a `Guard`, the
raw bytes are first checked against the method's bounds and admitted against the server's
capacity (`server.request_bounds`, `server.admission`); a refusal reaches the call the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from server.admission import Admitted, Ticket
from server.errors import RefusedRequest, malformed
from server.telemetry import Behavior, CallObserver

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


def add_service(
    server: grpc.Server,
    servicer: object,
    service: ServiceDescriptor,
    observer: CallObserver,
    guards: GuardFactory | None = None,
    thread_pool: futures.ThreadPoolExecutor | None = None,
) -> str:
    """Register the methods of `service` that `servicer` has (by the RPC's name, e.g.
    `servicer.Predict(request, context)`), each observed by `observer` and, with `guards`,
    its requests checked by `guards(method)` before the parse, and run on `thread_pool`
    when given (else the server's); a method the servicer lacks is answered UNIMPLEMENTED
    by grpc. Returns the service's full name (for health and reflection)."""
    handlers = {
        method.name: method_handler(
            method,
            getattr(servicer, method.name),
            observer,
            None if guards is None else guards(method),
            thread_pool,
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
) -> grpc.RpcMethodHandler:
    """grpc's handler for one RPC: its kind, parser and serializer from the descriptor,
    `behavior` wrapped by `observer`. A server-streaming behavior that grpc runs without
    holding a thread (`experimental_non_blocking`, e.g. the health service's Watch) stays
    so."""
    make_handler, wrap = _KINDS[method.client_streaming, method.server_streaming]
    if getattr(behavior, "experimental_non_blocking", False):
        wrap = CallObserver.unary_stream_non_blocking
    handle = wrap(observer, method.name, behavior)
    if thread_pool is not None:
        handle.experimental_thread_pool = thread_pool  # type: ignore[attr-defined]
    return make_handler(
        handle,
        request_deserializer=lenient_parser(GetMessageClass(method.input_type), guard),
        response_serializer=GetMessageClass(method.output_type).SerializeToString,
    )


def lenient_parser(
    message_type: type[Message], guard: Guard | None = None
) -> Callable[[bytes], object]:
    """Parse request bytes; bytes that `guard` refuses, or that do not parse, become a
    `RefusedRequest`; an admitted request comes with its ticket (`Admitted`)."""
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
