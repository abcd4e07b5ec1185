"""The stack command (`diabetes-service`) and the server's supervisor as a user runs them:
real processes on free ports. `--servers N` is N servers (N Envoy endpoints); `--workers N`
(or DIABETES_WORKERS) is N processes of each server sharing its one port, forked by a
supervising process; SIGTERM stops everything with exit 0; a busy port is a clear error."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from server.processes import Process, command_line, free_port, process_tree
from server.workers import STARTUP_FAILED
from tests.support.processes import json_lines, spawn, wait_until

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


def _server_processes(root: int) -> dict[int, list[int]]:
    """Each server's pid (a `-m server` process whose parent is not one) and its workers
    (the `-m server` processes it forked)."""
    tree = process_tree(root)
    servers = [pid for pid in tree if command_line(pid)[1:3] == ["-m", "server"]]
    parents = {pid: _parent(pid) for pid in servers}
    return {
        pid: [child for child in servers if parents[child] == pid]
        for pid in servers
        if parents[pid] not in servers
    }


def _parent(pid: int) -> int:
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    return 0


@contextlib.contextmanager
def _running(argv: list[str], env: dict[str, str] | None = None) -> Iterator[Process]:
    process = spawn(argv, env)
    try:
        yield process
    finally:
        process.stop(grace=10)


@pytest.mark.parametrize(
    ("args", "env", "servers", "workers"),
    [
        ((), {"DIABETES_WORKERS": "2"}, 1, 2),
        (("--workers", "2"), {}, 1, 2),
        (("--servers", "2"), {}, 2, 0),
    ],
    ids=["DIABETES_WORKERS=2", "--workers 2", "--servers 2"],
)
def test_stack_runs_the_documented_processes_and_stops_on_sigterm(
    args: tuple[str, ...], env: dict[str, str], servers: int, workers: int
) -> None:
    with _running(_stack_argv(0, *args), env) as stack:
        stack.wait_ready(lambda: _serves_through_envoy(stack), 60, "the stack")
        found = _server_processes(stack.pid)
        # --workers 1 (the default) forks nothing: the server itself serves.
        assert len(found) == servers, found
        assert all(len(forked) == workers for forked in found.values()), found
        everything = process_tree(stack.pid)

        stack.signal(signal.SIGTERM)
        assert stack.wait(timeout=30) == 0, stack.log_text()
        assert not [pid for pid in everything if Path(f"/proc/{pid}").exists()]
    serving = {e["pid"] for e in json_lines(stack.log_text()) if e.get("message") == "serving"}
    assert len(serving) == servers * max(workers, 1)
    assert "restarting" not in stack.log_text()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_a_clear_start_up_error(workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _running(_stack_argv(port, "--workers", workers)) as stack:
            code = stack.wait(timeout=30)
    assert code != 0
    log = stack.log_text()
    assert f"cannot listen on 127.0.0.1:{port}" in log
    assert "cannot start the service" in log
    assert "restarting" not in log


def test_a_server_whose_port_is_taken_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with _running([sys.executable, "-m", "server", "--port", str(port), "--workers", "2"]) as p:
            assert p.wait(timeout=30) == STARTUP_FAILED
    assert f"cannot listen on 127.0.0.1:{port}" in p.log_text()


def test_a_worker_that_cannot_start_is_not_restarted(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "broken", "coefficients": [')
    argv = [sys.executable, "-m", "server", "--port", str(free_port()), "--workers", "2"]
    with _running([*argv, "--model", str(broken)]) as server:
        assert server.wait(timeout=30) == STARTUP_FAILED
    messages = [entry.get("message") for entry in json_lines(server.log_text())]
    assert "a worker could not start; stopping" in messages
    assert "worker exited; restarting" not in messages


def test_sigterm_during_a_restart_back_off_starts_no_new_worker() -> None:
    port = free_port()
    argv = [sys.executable, "-m", "server", "--port", str(port), "--workers", "2"]
    with _running(argv) as server:

        def serving() -> list[int]:
            logs = json_lines(server.log_text())
            return [e["pid"] for e in logs if e.get("message") == "serving"]

        wait_until(lambda: len(serving()) == 2, 30, "both workers", server.alive)
        victim = serving()[0]
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        wait_until(lambda: "worker exited; restarting" in server.log_text(), 10, "the restart")
        # Now inside the supervisor's back-off: shutdown has begun, no worker may start.
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert len(serving()) == 2
