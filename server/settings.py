"""The server's settings, declared once: each one's flag, environment variable, help and
converter here, its default from ServerConfig's field of the same name. `diabetes-server`
(`build_parser`), `diabetes-service` (which passes some on: `setting`) and the health check
read them. A leaf: the declaration machinery (command_settings) and ServerConfig only, no
command module (the docs find the commands from their entry points).

Adding a setting: a ServerConfig field and one `_setting(...)` line in SETTINGS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from command_settings import (
    Setting,
    SettingsParser,
    boolean,
    non_negative_int,
    port_number,
    positive_int,
)
from server.config import ServerConfig


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
