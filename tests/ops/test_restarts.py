"""Zero-loss lifecycle through Envoy: SIGTERM of one of two server processes under load
loses no call; SIGKILL loses a bounded number and traffic recovers; the replacement process
on the same port gets traffic again. Each test prints its figures."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.ops import Load, healthy_upstreams
from tests.support.processes import ServerProcess, running_server, wait_until
from tests.support.stack import running_stack

# The server keeps answering for this long after SIGTERM while reporting NOT_SERVING:
# longer than Envoy's health-check interval (2 s) plus its timeout (1 s).
SHUTDOWN_DELAY = "6"  # two Envoy health checks (2 s apart, 1 s timeout) see NOT_SERVING
SERVER_ARGS = ("--shutdown-delay", SHUTDOWN_DELAY, "--grace-period", "10")
# SIGKILL: calls in flight on the killed process are retried by Envoy; the stated bound.
KILL_MAX_FAILED = 10


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_artifact(tmp_path_factory.mktemp("restarts") / "model.json")


def _served_calls(server: ServerProcess) -> int:
    return sum(1 for entry in server.json_logs() if entry.get("message") == "call")


@contextmanager
def _replacement(stack: Stack, index: int, model: Path) -> Iterator[ServerProcess]:
    """A new server process on the port of server `index`, once Envoy's health checks have
    taken it back and it serves calls of the running load; stopped on leaving."""
    port = stack.server_ports[index]
    with running_server(*SERVER_ARGS, model=model, port=port) as replacement:
        wait_until(lambda: healthy_upstreams(stack.admin_url) == 2, 30, "Envoy to take it back")
        wait_until(lambda: _served_calls(replacement) >= 20, 30, "calls on the replacement")
        yield replacement


def test_sigterm_of_one_server_under_load_loses_no_call(model: Path) -> None:
    with running_stack(servers=2, model=model, server_args=SERVER_ARGS) as stack:
        with Load(stack.grpc_target, threads=4) as load:
            load.wait_for_calls(300)
            stopped = time.monotonic()
            stack.servers[0].signal(signal.SIGTERM)
            # Health goes NOT_SERVING first: Envoy stops routing to the process while it
            # still answers, so no call meets a closed port.
            wait_until(lambda: healthy_upstreams(stack.admin_url) == 1, 30, "NOT_SERVING seen")
            assert stack.servers[0].alive()
            assert stack.servers[0].wait(timeout=30) == 0
            drained = time.monotonic() - stopped
            load.wait_for_calls(300)
            with _replacement(stack, 0, model) as replacement:
                load.wait_for_calls(300)
        report = load.report
    print(
        report.summary("SIGTERM one of two servers"),
        f"drain took {drained:.1f} s; replacement served {_served_calls(replacement)} calls",
    )
    assert report.failed == 0, report.errors


def test_sigkill_of_one_server_under_load_fails_boundedly_and_recovers(model: Path) -> None:
    with running_stack(servers=2, model=model, server_args=SERVER_ARGS) as stack:
        with Load(stack.grpc_target, threads=4) as load:
            load.wait_for_calls(300)
            killed = time.monotonic()
            stack.servers[0].signal(signal.SIGKILL)
            stack.servers[0].wait(timeout=10)
            wait_until(lambda: healthy_upstreams(stack.admin_url) == 1, 30, "the host ejected")
            ejected_after = time.monotonic() - killed
            failed_at_ejection = load.report.failed
            sent_at_ejection = load.report.sent
            load.wait_for_calls(500)
            with _replacement(stack, 0, model) as replacement:
                load.wait_for_calls(300)
        report = load.report
    recovery = max(report.failure_times, default=killed) - killed
    print(
        report.summary("SIGKILL one of two servers"),
        f"recovery time={recovery:.2f} s (last failure after the kill), "
        f"Envoy marked the host unhealthy after {ejected_after:.1f} s; errors: {report.errors}",
    )
    assert report.failed <= KILL_MAX_FAILED, report.errors
    # Recovered: every call after Envoy had taken the dead host out succeeded (at least 800
    # of them, through the restart), and the replacement served some of them.
    assert report.failed == failed_at_ejection, report.errors
    assert report.sent - sent_at_ejection >= 800
    assert _served_calls(replacement) >= 20
