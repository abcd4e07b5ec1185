"""Start, pin, watch and stop the processes a benchmark run needs.

Every process starts in its own session, so stopping it stops the whole group it made
(a launcher's Envoy and server, MLServer's workers) and nothing else.
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

SERVER_CPUS = "0"
GENERATOR_CPUS = "1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StartError(RuntimeError):
    """A process exited or never became ready."""


# The kernel may hand the same port out again as soon as its socket closes, so two calls
# in a row (a server's gRPC and metrics ports) could collide; never repeat one.
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, and that this process
    has not handed out before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (the launcher gives worker i port + i)."""
    for _ in range(100):
        first = free_port()
        if all(_bindable(first + i) for i in range(1, count)):
            _handed_out.update(range(first, first + count))
            return first
    raise OSError(f"no {count} consecutive free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    """The command line that runs argv on the given CPUs (taskset execs, so the pid stays)."""
    return ["taskset", "-c", cpus, *argv] if cpus is not None else list(argv)


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], timeout: float = 60.0) -> float:
        """Poll check() until it is true; returns the seconds since the process started.
        A process that never gets ready is stopped before the error is raised."""
        try:
            return self._poll_ready(check, timeout)
        except BaseException:
            self.stop()
            raise

    def _poll_ready(self, check: Callable[[], bool], timeout: float) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if not self.alive():
                raise StartError(
                    f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            try:
                if check():
                    return time.perf_counter() - self.started_at
            except OSError:
                pass
            time.sleep(0.005)
        raise StartError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it outlives the timeout."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        # Children that outlived their parent are still in the group.
        _signal_group(self.pid, signal.SIGKILL)
        if self.alive():
            self.popen.wait(5)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def start(
    name: str,
    argv: Sequence[str],
    *,
    cpus: str | None,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            pinned(argv, cpus),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    return Process(name, popen, log_path)


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants."""
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


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time consumed so far by the given processes."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _CLOCK_TICKS


def cpu_busy_seconds() -> dict[str, float]:
    """Busy (not idle, not iowait) seconds of each CPU since boot, from /proc/stat."""
    busy: dict[str, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values[:8]]
            busy[name.removeprefix("cpu")] = (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS
    return busy


def rss_bytes(pids: Sequence[int]) -> int:
    """Resident set size summed over the processes (shared pages count once per process)."""
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total
