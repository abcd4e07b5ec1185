"""Readiness probes and single verification calls (before any load is applied)."""

from __future__ import annotations

import http.client
import socket

import grpc

from server.healthcheck import check


def tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def grpc_serving(port: int, service: str = "") -> bool:
    """The server's gRPC health service answers SERVING (the service's own probe)."""
    return tcp_open(port) and check(f"127.0.0.1:{port}", service)


def grpc_reachable(port: int, path: str) -> bool:
    """Any gRPC answer at all on `path` (a server without the health service)."""
    if not tcp_open(port):
        return False
    try:
        grpc_call(port, path, b"")
    except grpc.RpcError as exc:
        return bool(exc.code() != grpc.StatusCode.UNAVAILABLE)
    return True


def grpc_call(port: int, path: str, message: bytes, timeout: float = 30) -> bytes:
    """One unary call with raw bytes in and out (no stubs needed for the peer)."""
    with grpc.insecure_channel(
        f"127.0.0.1:{port}",
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    ) as channel:
        call = channel.unary_unary(path)
        reply: bytes = call(message, timeout=timeout)
        return reply


def grpc_stream_call(port: int, path: str, message: bytes, timeout: float = 30) -> list[bytes]:
    """One server-streaming call with raw bytes in and out."""
    with grpc.insecure_channel(
        f"127.0.0.1:{port}",
        options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)],
    ) as channel:
        call = channel.unary_stream(path)
        return list(call(message, timeout=timeout))


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def http_ok(port: int, path: str) -> bool:
    if not tcp_open(port):
        return False
    status, _ = http_request(port, "GET", path, timeout=2)
    return status == 200
