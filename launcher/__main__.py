"""`make run` / `diabetes-service`: the whole service in the foreground, gRPC server(s)
with the bundled model and Envoy in front; Ctrl-C or SIGTERM stops both cleanly."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from launcher.stack import Stack, StackOptions


def parse_options(argv: Sequence[str] | None) -> StackOptions:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="diabetes-service",
        description="Run the gRPC server(s) and Envoy in the foreground. "
        "Arguments after `--` go to every server process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=int(env("DIABETES_HTTP_PORT", "8080")),
        help="Envoy's public port: JSON and native gRPC [DIABETES_HTTP_PORT]",
    )
    parser.add_argument(
        "--grpc-port",
        type=int,
        default=int(env("DIABETES_PORT", "50051")),
        help="first server's gRPC port; worker i listens on this + i [DIABETES_PORT]",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=int(env("DIABETES_ADMIN_PORT", "9901")),
        help="Envoy admin port, on loopback only [DIABETES_ADMIN_PORT]",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(env("DIABETES_WORKERS", "1")),
        help="server processes, one Envoy endpoint each [DIABETES_WORKERS]",
    )
    parser.add_argument(
        "--public-host",
        default=env("DIABETES_PUBLIC_HOST", "127.0.0.1"),
        help="address of Envoy's public listener (0.0.0.0 to expose it)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=env("DIABETES_MODEL") or None,
        help="model artifact (default: the bundled BMI model) [DIABETES_MODEL]",
    )
    parser.add_argument("--envoy-concurrency", type=int, default=1, help="Envoy worker threads")
    args, server_args = parser.parse_known_args(argv)
    if server_args[:1] == ["--"]:
        server_args = server_args[1:]
    elif server_args:
        parser.error(f"unrecognized arguments: {' '.join(server_args)} (server flags go after --)")
    return StackOptions(
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        admin_port=args.admin_port,
        workers=args.workers,
        public_host=args.public_host,
        model=args.model,
        envoy_concurrency=args.envoy_concurrency,
        server_args=tuple(server_args),
    )


def banner(options: StackOptions) -> str:
    host = "localhost" if options.public_host in ("127.0.0.1", "0.0.0.0") else options.public_host
    public = f"http://{host}:{options.http_port}"
    servers = ", ".join(f"127.0.0.1:{port}" for port in options.server_ports)
    return f"""
Diabetes prediction service is ready.
  Try-it page   {public}/
  JSON          POST {public}/stream   POST {public}/batch   POST {public}/batch/columns
                GET {public}/model
  gRPC          {host}:{options.http_port} (through Envoy), {servers} (direct)
  Envoy admin   http://127.0.0.1:{options.admin_port}/ (loopback only)

  curl -s -X POST {public}/stream -d '{{"bmi": 0.0617}}'
  curl -s -X POST {public}/batch -d '[{{"bmi": 0.0617}}, {{"bmi": -0.0515}}]'

Ctrl-C stops the service.
"""


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    stack = Stack(options)
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(banner(options), flush=True)
        code = stack.wait()
        print(f"a service process exited with code {code}; stopping", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError, FileNotFoundError) as exc:
        print(f"cannot start the service: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the clean stop of the children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
