"""`python -m server.healthcheck [TARGET]`: exit 0 when the gRPC health service says
SERVING (for container HEALTHCHECKs and scripts). `check` is the one health probe the stack,
the tests and the benchmark use."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from server.config import setting
from server.contract import SERVICE_NAME


def check(target: str, service: str = "", timeout: float = 2.0) -> bool:
    """True when the server at `target` answers SERVING for `service` ("" = the server as a
    whole); a fresh channel each time, so no reconnect back-off delays the answer."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    port = setting("port")
    default = f"127.0.0.1:{os.environ.get(port.env_var or '', port.default)}"
    parser.add_argument("target", nargs="?", default=default, help="host:port of the server")
    parser.add_argument(
        "--service", default="", help=f"service name to ask about, e.g. {SERVICE_NAME}"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    args = parser.parse_args(argv)
    return 0 if check(args.target, args.service, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
