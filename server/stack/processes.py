"""Child processes of the stack command, the tests and the benchmark: start one in its own
session, wait until it is ready, stop its whole process group with a grace period; pick free
loopback ports, one at a time (never a consecutive range: another process can hold any port
of a range); build a child's environment without inherited `DIABETES_*` settings.

Every process starts in its own session, so stopping it stops the whole group it made (the
stack's Envoy and servers) and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from command_settings import ENV_PREFIX

# Read by prometheus_client at import (its multiprocess mode): never passed on to a child.
INHERITED_SETTINGS = ("PROMETHEUS_MULTIPROC_DIR",)


class StartError(RuntimeError):
    """A process exited, or was not ready in time."""


# The kernel may hand the same port out again as soon as its socket closes, so two calls
# in a row (a server's gRPC and metrics ports) could collide; never repeat one in a run.
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now and that this process has
    not handed out before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def child_environment(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment without the service's settings (`DIABETES_*` and the
    metrics directory), so a child is configured by its flags alone; plus `extra`."""
    source = os.environ if base is None else base
    kept = {
        key: value
        for key, value in source.items()
        if not key.startswith(ENV_PREFIX) and key not in INHERITED_SETTINGS
    }
    return {**kept, **(extra or {})}


@dataclass
class Process:
    """A child; its output goes to `log_path`, or to ours when None. Leading its own
    session (the default), it is stopped with its whole process group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None = None
    own_group: bool = True
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal to the process itself (not its group)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code, once it has exited (subprocess.TimeoutExpired after `timeout`)."""
        return self.popen.wait(timeout)

    def log_text(self) -> str:
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(
        self, ready: Callable[[], bool], timeout: float = 60.0, what: str | None = None
    ) -> float:
        """Poll ready() until it is true; returns the seconds since the process started.
        Raises StartError (after stopping the process) when it exits or times out."""
        try:
            return self._poll_ready(ready, timeout, what or self.name)
        except BaseException:
            self.stop(grace=5)
            raise

    def _poll_ready(self, ready: Callable[[], bool], timeout: float, what: str) -> float:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise StartError(f"{what} exited with code {self.popen.returncode}{self._tail()}")
            try:
                if ready():
                    return time.monotonic() - self.started_at
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise StartError(f"{what} not ready after {timeout:g} s{self._tail()}")
            time.sleep(0.02)

    def _tail(self) -> str:
        tail = self.log_tail()
        return f":\n{tail}" if tail else ""

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM the process (its whole group when it leads one), SIGKILL after `grace`
        seconds, and SIGKILL whatever of its group outlived it. Returns its exit code."""
        self.terminate()
        return self.reap(grace)

    def terminate(self) -> None:
        """SIGTERM the process, or its whole group when it leads one."""
        if self.alive():
            if self.own_group:
                signal_group(self.pid, signal.SIGTERM)
            else:
                self.signal(signal.SIGTERM)

    def reap(self, grace: float) -> int:
        """Wait up to `grace` seconds for the process to exit, then SIGKILL it (and what
        is left of its group). Returns its exit code."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(grace)
        if self.own_group:
            signal_group(self.pid, signal.SIGKILL)
        elif self.alive():
            self.popen.kill()
        return self.popen.wait()


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def start(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    new_session: bool = True,
) -> Process:
    """Start argv (in a new session unless told not to); output to `log_path` (appended)
    or to ours; `env` replaces the environment when given."""
    if log_path is None:
        popen = _popen(argv, None, env, cwd, new_session)
    else:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            popen = _popen(argv, log, env, cwd, new_session)
    return Process(name, popen, log_path, own_group=new_session)


def _popen(
    argv: Sequence[str],
    log: IO[bytes] | None,
    env: Mapping[str, str] | None,
    cwd: Path | None,
    new_session: bool,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
        stdin=subprocess.DEVNULL,
        start_new_session=new_session,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        for task in _listdir(Path(f"/proc/{current}/task")):
            try:
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
            except OSError:
                continue
            found.extend(int(child) for child in children if int(child) not in found)
    return found


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
