"""`python -m server.healthcheck [TARGET]`: exit 0 when the gRPC health service says
SERVING (for container HEALTHCHECKs and scripts)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def check(target: str, service: str = "", timeout: float = 2.0) -> bool:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = f"127.0.0.1:{os.environ.get('DIABETES_PORT', '50051')}"
    parser.add_argument("target", nargs="?", default=default, help="host:port of the server")
    parser.add_argument("--service", default="", help="service name to ask about")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds")
    args = parser.parse_args(argv)
    return 0 if check(args.target, args.service, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
