"""The no-op ceiling: a grpcio server built like the service's (same executor size,
channel options, concurrent-RPC cap and registered-method fast path) whose handlers never
read the request: single-record calls get an empty message, bulk calls a ready-made reply
of the service's size (`bench.noop_replies`). Nothing serving real answers on this stack
can be faster. `--aio` builds the same on grpc.aio instead, to weigh the sync-vs-asyncio lever.

Usage: python -m bench.noop_server PORT [--aio]
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench import noop_replies
from bench.noop_replies import JSON_LANE, PREDICTION, Replies
from server.app import MAX_METADATA_BYTES
from server.config import ServerConfig

# What each service answers with an empty message: the typed RPCs, and the JSON lane's
# `POST /stream` (an empty HttpBody: a 200 with no body through Envoy).
METHODS = {PREDICTION: ("Predict", "GetModelInfo"), JSON_LANE: ("PredictJsonRecord",)}


def _empty_reply(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b""


def _streamed(replies: Replies) -> Any:
    def handler(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield from replies.for_request(request)

    return grpc.unary_stream_rpc_method_handler(handler)


def _unary(replies: Replies) -> Any:
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        return replies.for_request(request)[0]

    return grpc.unary_unary_rpc_method_handler(handler)


def _sync_handlers() -> dict[str, dict[str, Any]]:
    """Every service's handlers: the empty ones, then the bulk ones with their replies."""
    services: dict[str, dict[str, Any]] = {
        service: {m: grpc.unary_unary_rpc_method_handler(_empty_reply) for m in methods}
        for service, methods in METHODS.items()
    }
    for (service, method), replies in noop_replies.build().items():
        streamed = service in (PREDICTION, JSON_LANE)
        services.setdefault(service, {})[method] = (
            _streamed(replies) if streamed else _unary(replies)
        )
    return services


async def _empty_reply_async(request: bytes, context: Any) -> bytes:
    return b""


def _options(config: ServerConfig) -> list[tuple[str, int]]:
    """The service's channel options (`server.app.RunningServer`), all of them."""
    return [
        ("grpc.max_receive_message_length", config.max_receive_message_bytes),
        ("grpc.max_send_message_length", config.max_send_message_bytes),
        ("grpc.max_metadata_size", MAX_METADATA_BYTES),
        ("grpc.so_reuseport", 0),
    ]


def serve_sync(port: int) -> None:
    config = ServerConfig()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads),
        options=_options(config),
        maximum_concurrent_rpcs=config.max_concurrent_rpcs,
    )
    services = _sync_handlers()
    for service, handlers in services.items():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        server.add_registered_method_handlers(service, handlers)
    # Health, so that Envoy's active health checks pass when it fronts this server.
    status = health.HealthServicer()
    for service in ("", *services):
        status.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    server.start()
    stop.wait()
    server.stop(1).wait()


async def serve_aio(port: int) -> None:
    config = ServerConfig()
    server = aio.server(
        options=_options(config), maximum_concurrent_rpcs=config.max_concurrent_rpcs
    )
    for service, methods in METHODS.items():
        handlers = {m: grpc.unary_unary_rpc_method_handler(_empty_reply_async) for m in methods}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await server.start()
    await stop.wait()
    await server.stop(1)


def main(argv: list[str]) -> int:
    port = int(argv[0])
    if "--aio" in argv[1:]:
        asyncio.run(serve_aio(port))
    else:
        serve_sync(port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
