"""Start and stop the real server as a subprocess on a port it binds itself (port 0), with
the service's own process module (`server.stack.processes`): own session, output in a log file,
group stop."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.healthcheck import check
from server.stack.processes import Process, StartError, child_environment, start

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


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening while held: connecting to it is refused, and
    no other process can start listening on it meanwhile (unlike a port merely free now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among a log's lines."""
    entries = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def spawn(args: Sequence[str], env: dict[str, str] | None = None) -> Process:
    """A process in its own session, run from the repository root, its output in a fresh
    log file; it inherits no DIABETES_* settings, only `env`'s."""
    log = Path(tempfile.mkstemp(prefix="proc-", suffix=".log")[1])
    return start(
        Path(args[0]).name,
        args,
        log_path=log,
        env=child_environment({"PYTHONUNBUFFERED": "1", **(env or {})}),
        cwd=ROOT,
    )


@dataclass
class ServerProcess(Process):
    port: int = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def json_logs(self) -> list[dict[str, Any]]:
        return json_lines(self.log_text())


def start_server(
    *extra_args: str,
    model: Path | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    ready_timeout: float = 30.0,
) -> ServerProcess:
    """Start `python -m server` and wait until its health says SERVING. Without `port` it
    binds port 0 and reports the port the kernel gave it (its "serving" line), so no other
    process can take the port between its choice and the bind."""
    args = [sys.executable, "-m", "server", "--port", str(port or 0), *extra_args]
    if model is not None:
        args += ["--model", str(model)]
    started = spawn(args, env)
    server = ServerProcess(started.name, started.popen, started.log_path, port=port or 0)
    try:
        server.wait_ready(lambda: _serving(server), ready_timeout, "the server (SERVING)")
    except StartError as exc:
        raise RuntimeError(f"{exc}; server log:\n{server.log_text()}") from exc
    return server


def _serving(server: ServerProcess) -> bool:
    """True once the server's health says SERVING; learns its port from its log first."""
    if not server.port:
        ports = [e["port"] for e in server.json_logs() if e.get("message") == "serving"]
        if not ports:
            return False
        server.port = int(ports[0])
    return check(server.target, timeout=0.5)


@contextlib.contextmanager
def running_server(*extra_args: str, **kwargs: Any) -> Iterator[ServerProcess]:
    server = start_server(*extra_args, **kwargs)
    try:
        yield server
    finally:
        server.stop()
