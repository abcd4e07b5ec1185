"""Start and stop the real server (and the whole stack) as subprocesses on free ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.procs import free_port
from server.healthcheck import check

ROOT = Path(__file__).resolve().parents[2]


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if not alive():
            raise RuntimeError(f"process exited while waiting for {what}")
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class ManagedProcess:
    """A subprocess whose combined output goes to a log file we can read."""

    process: subprocess.Popen[bytes]
    log_path: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_logs(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def signal(self, signum: int) -> None:
        if self.alive():
            self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def spawn(args: Sequence[str], env: dict[str, str] | None = None) -> ManagedProcess:
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
    return ManagedProcess(process, log)


@dataclass
class ServerProcess(ManagedProcess):
    @property
    def port(self) -> int:
        return self.ports["grpc"]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_server(
    *extra_args: str,
    model: Path | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start `python -m server` on a free port and wait until its health says SERVING."""
    port = port or free_port()
    args = [sys.executable, "-m", "server", "--port", str(port), *extra_args]
    if model is not None:
        args += ["--model", str(model)]
    managed = spawn(args, env)
    server = ServerProcess(managed.process, managed.log_path, {"grpc": port})
    try:
        wait_until(
            lambda: check(server.target, timeout=0.5),
            ready_timeout,
            "the server to report SERVING",
            server.alive,
        )
    except (RuntimeError, TimeoutError) as exc:
        server.stop(5)
        raise RuntimeError(f"{exc}; server log:\n{server.log_text()}") from exc
    return server


@contextlib.contextmanager
def running_server(*extra_args: str, **kwargs: Any) -> Iterator[ServerProcess]:
    server = start_server(*extra_args, **kwargs)
    try:
        yield server
    finally:
        server.stop()
