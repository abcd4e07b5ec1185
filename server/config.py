"""Server configuration: ServerConfig and the flags that fill it, each defaulting to an
environment variable (declared once, in SETTINGS, with server.settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.repository import BUNDLED_REPOSITORY, DEFAULT_MODEL
from server.settings import (
    Setting,
    SettingsParser,
    boolean,
    non_negative_int,
    port_number,
    positive_int,
)

KIB = 1024
MIB = 1024 * KIB
# grpc's --max-concurrent-rpcs places left to health checks, reflection and metadata, and
# the handler threads of their own they run on (never behind traffic).
PROBE_CALLS = 8
PROBE_THREADS = 2


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 50051
    # One artifact served alone (a one-model repository); when unset, the repository.
    model_path: Path | None = None
    model_repository: Path = BUNDLED_REPOSITORY
    default_model: str = DEFAULT_MODEL
    workers: int = 1
    threads: int = 16
    # Calls in progress or waiting for a thread, per process; one more gets RESOURCE_EXHAUSTED
    # at once (Envoy retries it on another server) instead of queueing until its deadline.
    max_concurrent_rpcs: int = 64
    max_batch_records: int = 100_000
    batch_chunk_records: int = 10_000
    # A JSON batch reaches the server as one message holding the raw body (google.api.HttpBody):
    # Envoy's 32 MiB body cap plus room for the message around it.
    max_receive_message_bytes: int = 33 * MIB
    max_send_message_bytes: int = 16 * MIB
    # Methods that take no bulk (health, reflection, metadata, Predict, POST /stream) refuse
    # a larger request unparsed.
    max_small_request_bytes: int = 16 * KIB
    # What the calls in flight may reserve (server.admission); 0: the cgroup's memory limit
    # (or the machine's memory) minus memory_baseline_bytes.
    memory_budget_bytes: int = 0
    memory_baseline_bytes: int = 128 * MIB
    # Prediction calls running or queued; 0: max_concurrent_rpcs - 8, so grpc's own cap
    # (which refuses any call) is never reached by traffic and health checks get through.
    max_traffic_calls: int = 0
    # Bulk calls (PredictBatch, /batch, OIP infer) at once, counted before grpc receives
    # them; 0: as many largest requests as the memory budget holds.
    max_bulk_calls: int = 0
    metrics_port: int = 0
    metrics_host: str = ""
    log_level: str = "INFO"
    access_log: bool = True
    grace_period: float = 20.0
    shutdown_delay: float = 0.0
    watch_model: bool = False
    otlp_endpoint: str = ""

    @property
    def traffic_calls(self) -> int:
        """Prediction calls at once: --max-traffic-calls, else 8 fewer than
        --max-concurrent-rpcs (at least one)."""
        return self.max_traffic_calls or max(self.max_concurrent_rpcs - PROBE_CALLS, 1)

    @property
    def model_source(self) -> Path:
        """What the server serves: --model's file, else --model-repository's directory."""
        return self.model_path or self.model_repository

    @property
    def metrics_address(self) -> str:
        """Where the metrics endpoint binds: --metrics-host, else --host."""
        return self.metrics_host or self.host

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _setting(flag: str, help: str, *, dest: str | None = None, **kwargs: Any) -> Setting:
    """A server setting whose default is ServerConfig's field of the same name."""
    name = dest or flag.removeprefix("--").replace("-", "_")
    default = getattr(ServerConfig, name)
    return Setting(flag, help, default=default, dest=dest, **kwargs)


SETTINGS: tuple[Setting, ...] = (
    _setting("--host", "address to bind"),
    _setting("--port", "gRPC port", type=port_number),
    _setting(
        "--model",
        "one model artifact (JSON) to serve alone, instead of --model-repository",
        dest="model_path",
        type=Path,
    ),
    _setting(
        "--model-repository",
        "directory of models (NAME/VERSION.json and NAME/labels.json, or NAME.json), "
        "every version served",
        type=Path,
    ),
    _setting("--default-model", "the repository's model for calls that name none"),
    _setting(
        "--workers",
        "processes of this server sharing its one port (SO_REUSEPORT), under a supervisor",
        type=positive_int,
    ),
    _setting("--threads", "handler threads per process", type=positive_int),
    _setting(
        "--max-concurrent-rpcs",
        "calls running or queued per process; more get RESOURCE_EXHAUSTED at once",
        type=positive_int,
    ),
    _setting("--max-batch-records", "most records in one PredictBatch call", type=positive_int),
    _setting("--batch-chunk-records", "records per PredictBatch reply message", type=positive_int),
    _setting("--max-receive-message-bytes", "largest request message", type=positive_int),
    _setting("--max-send-message-bytes", "largest reply message", type=positive_int),
    _setting(
        "--max-small-request-bytes",
        "largest request of a method that takes no bulk (health, reflection, metadata, "
        "GetModelInfo, Predict, POST /stream); a larger one is refused unparsed",
        type=positive_int,
    ),
    _setting(
        "--memory-budget-bytes",
        "memory the calls in flight may reserve (each a multiple of its body plus a "
        "constant); more get RESOURCE_EXHAUSTED; 0 = the cgroup memory limit minus "
        "--memory-baseline-bytes",
        type=non_negative_int,
    ),
    _setting(
        "--memory-baseline-bytes",
        "memory the idle server takes, left out of a budget derived from the cgroup limit",
        type=non_negative_int,
    ),
    _setting(
        "--max-traffic-calls",
        "prediction calls running or waiting for a thread per process; more get "
        "RESOURCE_EXHAUSTED; 0 = --max-concurrent-rpcs minus 8, so that cap, which "
        "refuses any call, is left to health checks",
        type=non_negative_int,
    ),
    _setting(
        "--max-bulk-calls",
        "bulk calls (PredictBatch, /batch, /batch/columns, V2 infer) per process at once, "
        "counted before their request is received; more get RESOURCE_EXHAUSTED unread; "
        "0 = as many requests of the largest size as the memory budget holds",
        type=non_negative_int,
    ),
    _setting("--metrics-port", "Prometheus metrics port (GET /metrics), 0 = off", type=port_number),
    _setting("--metrics-host", "address the metrics endpoint binds, empty = --host"),
    _setting(
        "--log-level", "log level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    ),
    _setting("--access-log", "one JSON log line per call", type=boolean),
    _setting("--grace-period", "seconds in-flight calls get to finish on shutdown", type=float),
    _setting(
        "--shutdown-delay",
        "seconds to report NOT_SERVING before refusing new calls, so load balancers "
        "move traffic first",
        type=float,
    ),
    _setting(
        "--watch-model",
        "reload the models when a file of the repository (or --model's file) changes",
        type=boolean,
    ),
    _setting(
        "--otlp-endpoint",
        "OpenTelemetry collector HOST:PORT (OTLP/gRPC) for traces, empty = off",
    ),
)


def setting(name: str) -> Setting:
    """A server setting by its ServerConfig field name (for commands that pass it on)."""
    return next(s for s in SETTINGS if s.name == name)


def build_parser(environ: Mapping[str, str] | None = None) -> SettingsParser:
    parser = SettingsParser(
        prog="diabetes-server",
        description="Serve the diabetes progression model over gRPC. Every flag can also be set "
        "with the environment variable shown in brackets.",
        environ=environ,
    )
    for each in SETTINGS:
        parser.add_setting(each)
    return parser


def parse_config(argv: Sequence[str] | None = None) -> ServerConfig:
    args = build_parser().parse_args(argv)
    return ServerConfig(**vars(args))
