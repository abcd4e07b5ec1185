"""`make run` / `diabetes-service`: the whole service in the foreground, gRPC server(s)
with the bundled model and Envoy in front; Ctrl-C or SIGTERM stops both cleanly.

Words: a *server* is one `diabetes-server` process on one port, one Envoy endpoint; N
servers use N cores. The children get every setting as a flag and none of this command's
`DIABETES_*` environment.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType

from command_settings import Setting, SettingsParser, port_number, positive_int
from server import settings as server_settings
from server.stack.processes import StartError
from server.stack.stack import Stack, StackOptions

defaults = StackOptions()

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "--http-port",
        "Envoy's public port: JSON and native gRPC (0: a free one, shown in the banner)",
        default=defaults.http_port,
        type=port_number,
    ),
    Setting(
        "--admin-port",
        "Envoy admin port, on loopback only (0: a free one, shown in the banner)",
        default=defaults.admin_port,
        type=port_number,
    ),
    Setting(
        "--public-host",
        "address of Envoy's public listener (0.0.0.0 to expose it)",
        default=defaults.public_host,
    ),
    Setting(
        "--grpc-port",
        "first server's gRPC port on loopback; server i listens on this + i (the stack "
        "stops at start-up if one is taken); 0: each server on a free port of its own, "
        "shown in the banner",
        default=defaults.grpc_port,
        type=port_number,
    ),
    Setting(
        "--servers",
        "servers, each on its own port and an Envoy endpoint of its own "
        "(Envoy balances every request over them)",
        default=defaults.servers,
        type=positive_int,
    ),
    # The server's own declarations: the same flag, variable, default and help.
    server_settings.setting("model_path"),
    server_settings.setting("model_repository"),
    Setting(
        "--envoy-concurrency",
        "Envoy worker threads",
        default=defaults.envoy_concurrency,
        type=positive_int,
    ),
)
# Server flags this command sets itself; after `--` they would be a second way.
OWN_SERVER_FLAGS = ("--host", "--port", "--model", "--model-repository")


def build_parser(environ: Mapping[str, str] | None = None) -> SettingsParser:
    parser = SettingsParser(
        prog="diabetes-service",
        description="Run the gRPC server(s) and Envoy in the foreground. Every flag can also "
        "be set with the environment variable in brackets. Other server flags go after `--` "
        "and reach every server; the servers inherit no DIABETES_* variables.",
        environ=environ,
    )
    for each in SETTINGS:
        parser.add_setting(each)
    return parser


def parse_options(argv: Sequence[str] | None) -> StackOptions:
    parser = build_parser()
    args, server_args = parser.parse_known_args(argv)
    if server_args[:1] == ["--"]:
        server_args = server_args[1:]
    elif server_args:
        parser.error(f"unrecognized arguments: {' '.join(server_args)} (server flags go after --)")
    for flag in OWN_SERVER_FLAGS:
        if any(arg == flag or arg.startswith(f"{flag}=") for arg in server_args):
            parser.error(f"{flag} is set by diabetes-service itself; see --help")
    return StackOptions(
        http_port=args.http_port,
        admin_port=args.admin_port,
        public_host=args.public_host,
        grpc_port=args.grpc_port or None,
        servers=args.servers,
        model=args.model_path,
        model_repository=args.model_repository,
        envoy_concurrency=args.envoy_concurrency,
        server_args=tuple(server_args),
    )


def banner(stack: Stack) -> str:
    options = stack.options
    host = "localhost" if options.public_host in ("127.0.0.1", "0.0.0.0") else options.public_host
    public = f"http://{host}:{stack.http_port}"
    servers = ", ".join(stack.server_targets)
    return f"""
Diabetes prediction service is ready.
  Try-it page   {public}/
  JSON          POST {public}/stream   POST {public}/batch   POST {public}/batch/columns
                GET {public}/model
  gRPC          {host}:{stack.http_port} (through Envoy), {servers} (direct)
  Envoy admin   {stack.admin_url}/ (loopback only)

  curl -s -X POST {public}/stream -d '{{"bmi": 0.0617}}'
  curl -s -X POST {public}/batch -d '[{{"bmi": 0.0617}}, {{"bmi": -0.0515}}]'

Ctrl-C stops the service.
"""


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    stack = Stack(options)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
        print(banner(stack), flush=True)
        code = stack.wait()
        print(f"a service process exited with code {code}; stopping", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        return 0
    except (StartError, OSError) as exc:
        print(f"cannot start the service: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the clean stop of the children.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
