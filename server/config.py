"""Server configuration: command-line flags, each defaulting to an environment variable."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.artifact import BUNDLED_ARTIFACT

MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    model_path: Path = BUNDLED_ARTIFACT
    workers: int = 1
    threads: int = 16
    max_batch_records: int = 100_000
    batch_chunk_records: int = 10_000
    # A JSON batch reaches the server as one message holding the raw body (google.api.HttpBody):
    # Envoy's 32 MiB body cap plus room for the message around it.
    max_receive_message_bytes: int = 33 * MIB
    max_send_message_bytes: int = 16 * MIB
    metrics_port: int = 0
    metrics_host: str = ""
    log_level: str = "INFO"
    access_log: bool = True
    grace_period: float = 20.0
    shutdown_delay: float = 0.0
    watch_model: bool = False
    otlp_endpoint: str = ""

    @property
    def metrics_address(self) -> str:
        """Where the metrics endpoint binds: --metrics-host, else --host."""
        return self.metrics_host or self.host

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value}")
    return value


def _flag(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def build_parser() -> argparse.ArgumentParser:
    d = ServerConfig()
    parser = argparse.ArgumentParser(
        prog="diabetes-server",
        description="Serve the diabetes progression model over gRPC. Every flag can also be set "
        "with the environment variable shown in brackets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def add(flag: str, description: str, *, dest: str | None = None, **kwargs: Any) -> None:
        """A flag whose default comes from DIABETES_<FLAG>, else from ServerConfig."""
        name = flag.removeprefix("--").replace("-", "_")
        dest = dest or name
        env = f"DIABETES_{name.upper()}"
        default = os.environ.get(env, str(getattr(d, dest)))
        parser.add_argument(
            flag, dest=dest, default=default, help=f"{description} [{env}]", **kwargs
        )

    add("--host", "address to bind")
    add("--port", "gRPC port", type=_port)
    add("--model", "model artifact (JSON)", dest="model_path", type=Path)
    add("--workers", "server processes sharing the port (SO_REUSEPORT)", type=_positive_int)
    add("--threads", "handler threads per process", type=_positive_int)
    add("--max-batch-records", "most records in one PredictBatch call", type=_positive_int)
    add("--batch-chunk-records", "records per PredictBatch reply message", type=_positive_int)
    add("--max-receive-message-bytes", "largest request message", type=_positive_int)
    add("--max-send-message-bytes", "largest reply message", type=_positive_int)
    add("--metrics-port", "Prometheus metrics port (GET /metrics), 0 = off", type=_port)
    add("--metrics-host", "address the metrics endpoint binds, empty = --host")
    add(
        "--log-level",
        "log level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
    )
    add("--access-log", "one JSON log line per call", type=_flag)
    add("--grace-period", "seconds in-flight calls get to finish on shutdown", type=float)
    add(
        "--shutdown-delay",
        "seconds to report NOT_SERVING before refusing new calls, so load balancers "
        "move traffic first",
        type=float,
    )
    add("--watch-model", "reload the model when its file changes", type=_flag)
    add(
        "--otlp-endpoint",
        "OpenTelemetry collector HOST:PORT (OTLP/gRPC) for traces, empty = off",
    )
    return parser


def parse_config(argv: Sequence[str] | None = None) -> ServerConfig:
    args = build_parser().parse_args(argv)
    return ServerConfig(**vars(args))
