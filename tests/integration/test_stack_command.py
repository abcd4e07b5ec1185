"""The stack command (`diabetes-service`) and the server as a user runs them: real processes
on free ports. `--servers N` (or DIABETES_SERVERS) is N server processes, one port and one
Envoy endpoint each; SIGTERM stops everything with exit 0; a busy port is a clear error."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from server.__main__ import STARTUP_FAILED
from server.stack.processes import Process, command_line, process_tree
from tests.support.processes import json_lines, spawn

pytestmark = pytest.mark.slow


def _stack_argv(grpc_port: int, *args: str) -> list[str]:
    """The stack command on ports its children bind themselves (0: Envoy's, shown in the
    banner; each server's too unless `grpc_port` names the first)."""
    return [
        sys.executable,
        "-m",
        "server.stack",
        "--http-port",
        "0",
        "--admin-port",
        "0",
        "--grpc-port",
        str(grpc_port),
        *args,
    ]


BANNER_HTTP_PORT = re.compile(r"Try-it page +http://localhost:(\d+)/")


def _serves_through_envoy(stack: Process) -> bool:
    """True once the stack's banner is out and Envoy's port it names answers /stream."""
    found = BANNER_HTTP_PORT.search(stack.log_text())
    if found is None:
        return False
    try:
        reply = requests.post(
            f"http://127.0.0.1:{found[1]}/stream", data='{"bmi": 0.05}', timeout=2
        )
    except requests.RequestException:
        return False
    return reply.status_code == 200 and "prediction" in reply.json()


def _server_processes(root: int) -> list[int]:
    """The stack's server processes (`-m server`)."""
    return [pid for pid in process_tree(root) if command_line(pid)[1:3] == ["-m", "server"]]


@contextlib.contextmanager
def _running(argv: list[str], env: dict[str, str] | None = None) -> Iterator[Process]:
    process = spawn(argv, env)
    try:
        yield process
    finally:
        process.stop(grace=10)


@pytest.mark.parametrize(
    ("args", "env", "servers"),
    [((), {}, 1), ((), {"DIABETES_SERVERS": "2"}, 2), (("--servers", "2"), {}, 2)],
    ids=["one server", "DIABETES_SERVERS=2", "--servers 2"],
)
def test_stack_runs_the_documented_processes_and_stops_on_sigterm(
    args: tuple[str, ...], env: dict[str, str], servers: int
) -> None:
    with _running(_stack_argv(0, *args), env) as stack:
        stack.wait_ready(lambda: _serves_through_envoy(stack), 60, "the stack")
        assert len(_server_processes(stack.pid)) == servers
        everything = process_tree(stack.pid)

        stack.signal(signal.SIGTERM)
        assert stack.wait(timeout=30) == 0, stack.log_text()
        assert not [pid for pid in everything if Path(f"/proc/{pid}").exists()]
    serving = {e["pid"] for e in json_lines(stack.log_text()) if e.get("message") == "serving"}
    assert len(serving) == servers


def test_a_taken_port_is_a_clear_start_up_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _running(_stack_argv(port)) as stack:
            code = stack.wait(timeout=30)
    assert code != 0
    log = stack.log_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "cannot start the service" in log


def test_a_server_whose_port_is_taken_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _running([sys.executable, "-m", "server", "--port", str(port)]) as p:
            assert p.wait(timeout=30) == STARTUP_FAILED
    assert f"cannot listen on 127.0.0.1:{port}" in p.log_text()
