"""`python -m server.healthcheck [TARGET]`: exit 0 when the gRPC health service says
SERVING (for container HEALTHCHECKs and scripts). `check` is the one health probe the stack,
the tests and the benchmark use. Without TARGET it asks 127.0.0.1 on the server's port
setting (`--port`, DIABETES_PORT: the server's own declaration)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from command_settings import SettingsParser
from server import settings
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


def build_parser(environ: Mapping[str, str] | None = None) -> SettingsParser:
    parser = SettingsParser(
        prog="python -m server.healthcheck",
        description="Exit 0 when the server's gRPC health service says SERVING.",
        environ=environ,
        formatter_class=argparse.HelpFormatter,
    )
    parser.add_argument(
        "target", nargs="?", help="host:port of the server (default: 127.0.0.1:PORT)"
    )
    parser.add_setting(settings.setting("port"))
    parser.add_argument(
        "--service", default="", help=f"service name to ask about, e.g. {SERVICE_NAME}"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds (default: 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    target = args.target or f"127.0.0.1:{args.port}"
    return 0 if check(target, args.service, args.timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
