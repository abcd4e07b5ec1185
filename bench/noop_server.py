"""The no-op ceiling: a grpcio server built like the service's (same executor size,
channel options and registered-method fast path) whose unary handlers return an empty
message without reading the request. Nothing serving real answers on this stack can be
faster. `--aio` builds the same on grpc.aio instead, to weigh the sync-vs-asyncio lever.

Usage: python -m bench.noop_server PORT [--aio]
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from server.config import ServerConfig
from server.contract import SERVICE_NAME
from server.faces.json_lane.servicer import SERVICE_NAME as JSON_SERVICE_NAME

# What each service answers with an empty message: the typed RPCs, and the JSON lane's
# `POST /stream` (an empty HttpBody: a 200 with no body through Envoy).
METHODS = {SERVICE_NAME: ("Predict", "GetModelInfo"), JSON_SERVICE_NAME: ("PredictJsonRecord",)}


def _empty_reply(request: bytes, context: grpc.ServicerContext) -> bytes:
    return b""


async def _empty_reply_async(request: bytes, context: Any) -> bytes:
    return b""


def _options(config: ServerConfig) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", config.max_receive_message_bytes),
        ("grpc.max_send_message_length", config.max_send_message_bytes),
        ("grpc.so_reuseport", 0),
    ]


def serve_sync(port: int) -> None:
    config = ServerConfig()
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=config.threads), options=_options(config)
    )
    for service, methods in METHODS.items():
        handlers = {m: grpc.unary_unary_rpc_method_handler(_empty_reply) for m in methods}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
        server.add_registered_method_handlers(service, handlers)
    # Health, so that Envoy's active health checks pass when it fronts this server.
    status = health.HealthServicer()
    for service in ("", *METHODS):
        status.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(status, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    server.start()
    stop.wait()
    server.stop(1).wait()


async def serve_aio(port: int) -> None:
    server = aio.server(options=_options(ServerConfig()))
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
