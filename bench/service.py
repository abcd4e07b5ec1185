"""Start the service under test: the gRPC server alone, or the whole stack (server + Envoy)
through its stack command, exactly as a user starts them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench import probes
from bench.procs import Process, command_name, free_port, process_tree, start
from server.contract import SERVICE_NAME, method_path

__all__ = [
    "SERVICE_NAME",
    "RunningService",
    "start_noop",
    "start_noop_stack",
    "start_server",
    "start_stack",
]


@dataclass(frozen=True)
class RunningService:
    process: Process
    grpc_port: int
    http_port: int | None
    ready_seconds: float

    def envoy_pids(self) -> list[int]:
        return [pid for pid in process_tree(self.process.pid) if command_name(pid) == "envoy"]

    def server_pids(self) -> list[int]:
        """The server process(es): everything in the tree but Envoy and the idle stack command."""
        tree = process_tree(self.process.pid)
        envoy = set(self.envoy_pids())
        if self.http_port is None:
            return tree
        return [pid for pid in tree[1:] if pid not in envoy]


def start_server(
    model: Path, log_dir: Path, *, cpus: str | None, name: str = "server"
) -> RunningService:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        str(model),
        "--metrics-port",
        "0",
    ]
    process = start(name, argv, cpus=cpus, log_dir=log_dir)
    ready = process.wait_ready(lambda: probes.grpc_serving(port, SERVICE_NAME))
    return RunningService(process, port, None, ready)


def start_stack(
    model: Path, log_dir: Path, *, cpus: str | None, servers: int = 1, name: str = "stack"
) -> RunningService:
    """The stack command with `servers` servers (one port and one Envoy endpoint each).
    `grpc_port` is the one server's port; with several, each takes a free port of its own
    (--grpc-port 0) and only Envoy's port is known here."""
    grpc_port = free_port() if servers == 1 else 0
    http_port, admin_port = free_port(), free_port()
    argv = [
        sys.executable,
        "-m",
        "server.stack",
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--admin-port",
        str(admin_port),
        "--servers",
        str(servers),
        "--model",
        str(model),
    ]
    process = start(name, argv, cpus=cpus, log_dir=log_dir)
    ready = process.wait_ready(lambda: probes.http_ok(http_port, "/model"))
    return RunningService(process, grpc_port, http_port, ready)


def start_noop(log_dir: Path, *, cpus: str | None, aio: bool = False) -> RunningService:
    port = free_port()
    process = start(
        "noop-aio" if aio else "noop",
        [sys.executable, "-m", "bench.noop_server", str(port), *(["--aio"] if aio else [])],
        cpus=cpus,
        log_dir=log_dir,
    )
    ready = process.wait_ready(lambda: probes.grpc_reachable(port, method_path("Predict")))
    return RunningService(process, port, None, ready)


def start_noop_stack(log_dir: Path, *, cpus: str | None) -> RunningService:
    """The no-op server behind the service's Envoy configuration."""
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    argv = [
        sys.executable,
        "-m",
        "bench.noop_stack",
        str(grpc_port),
        str(http_port),
        str(admin_port),
    ]
    process = start("noop-envoy", argv, cpus=cpus, log_dir=log_dir)
    ready = process.wait_ready(lambda: probes.http_ok(http_port, "/model"))
    return RunningService(process, grpc_port, http_port, ready)
