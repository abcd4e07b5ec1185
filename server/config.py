"""Server configuration: command-line flags, each defaulting to an environment variable."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    max_receive_message_bytes: int = 16 * MIB
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


def _env(name: str, default: object) -> str:
    return os.environ.get(f"DIABETES_{name}", str(default))


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
    add = parser.add_argument
    add("--host", default=_env("HOST", d.host), help="address to bind [DIABETES_HOST]")
    add("--port", type=_port, default=_env("PORT", d.port), help="gRPC port [DIABETES_PORT]")
    add(
        "--model",
        dest="model_path",
        type=Path,
        default=_env("MODEL", d.model_path),
        help="model artifact (JSON) [DIABETES_MODEL]",
    )
    add(
        "--workers",
        type=_positive_int,
        default=_env("WORKERS", d.workers),
        help="server processes sharing the port (SO_REUSEPORT) [DIABETES_WORKERS]",
    )
    add(
        "--threads",
        type=_positive_int,
        default=_env("THREADS", d.threads),
        help="handler threads per process [DIABETES_THREADS]",
    )
    add(
        "--max-batch-records",
        type=_positive_int,
        default=_env("MAX_BATCH_RECORDS", d.max_batch_records),
        help="most records in one PredictBatch call [DIABETES_MAX_BATCH_RECORDS]",
    )
    add(
        "--batch-chunk-records",
        type=_positive_int,
        default=_env("BATCH_CHUNK_RECORDS", d.batch_chunk_records),
        help="records per PredictBatch reply message [DIABETES_BATCH_CHUNK_RECORDS]",
    )
    add(
        "--max-receive-message-bytes",
        type=_positive_int,
        default=_env("MAX_RECEIVE_MESSAGE_BYTES", d.max_receive_message_bytes),
        help="largest request message [DIABETES_MAX_RECEIVE_MESSAGE_BYTES]",
    )
    add(
        "--max-send-message-bytes",
        type=_positive_int,
        default=_env("MAX_SEND_MESSAGE_BYTES", d.max_send_message_bytes),
        help="largest reply message [DIABETES_MAX_SEND_MESSAGE_BYTES]",
    )
    add(
        "--metrics-port",
        type=_port,
        default=_env("METRICS_PORT", d.metrics_port),
        help="Prometheus metrics port (GET /metrics), 0 = off [DIABETES_METRICS_PORT]",
    )
    add(
        "--metrics-host",
        default=_env("METRICS_HOST", d.metrics_host),
        help="address the metrics endpoint binds, empty = --host [DIABETES_METRICS_HOST]",
    )
    add(
        "--log-level",
        default=_env("LOG_LEVEL", d.log_level),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="log level [DIABETES_LOG_LEVEL]",
    )
    add(
        "--access-log",
        type=_flag,
        default=_env("ACCESS_LOG", d.access_log),
        help="one JSON log line per call [DIABETES_ACCESS_LOG]",
    )
    add(
        "--grace-period",
        type=float,
        default=_env("GRACE_PERIOD", d.grace_period),
        help="seconds in-flight calls get to finish on shutdown [DIABETES_GRACE_PERIOD]",
    )
    add(
        "--shutdown-delay",
        type=float,
        default=_env("SHUTDOWN_DELAY", d.shutdown_delay),
        help="seconds to report NOT_SERVING before refusing new calls, so load balancers "
        "move traffic first [DIABETES_SHUTDOWN_DELAY]",
    )
    add(
        "--watch-model",
        type=_flag,
        default=_env("WATCH_MODEL", d.watch_model),
        help="reload the model when its file changes [DIABETES_WATCH_MODEL]",
    )
    add(
        "--otlp-endpoint",
        default=_env("OTLP_ENDPOINT", d.otlp_endpoint),
        help="OpenTelemetry collector HOST:PORT (OTLP/gRPC) for traces, empty = off "
        "[DIABETES_OTLP_ENDPOINT]",
    )
    return parser


def parse_config(argv: Sequence[str] | None = None) -> ServerConfig:
    args = build_parser().parse_args(argv)
    return ServerConfig(**vars(args))
