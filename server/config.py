"""Server configuration: what one server runs with. Its flags, each defaulting to an
environment variable, are declared in server/settings.py, with these fields' defaults."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.repository import BUNDLED_REPOSITORY, DEFAULT_MODEL

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
    # What the calls in flight may reserve (server.bounds.admission); 0: the cgroup's memory limit
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
