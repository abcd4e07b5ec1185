"""What a benchmark run adds to the service's process module (`server.stack.processes`: start in
a session, wait until ready, stop the group, free ports, the process tree): CPU pinning and
CPU/memory accounting from /proc."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from server.stack.processes import (
    Process,
    StartError,
    child_environment,
    command_name,
    free_port,
    process_tree,
)
from server.stack.processes import start as start_process

SERVER_CPUS = "0"
GENERATOR_CPUS = "1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

__all__ = [
    "GENERATOR_CPUS",
    "SERVER_CPUS",
    "Process",
    "StartError",
    "command_name",
    "cpu_busy_seconds",
    "cpu_seconds",
    "free_port",
    "pinned",
    "process_tree",
    "rss_bytes",
    "start",
]


def pinned(argv: Sequence[str], cpus: str | None) -> list[str]:
    """The command line that runs argv on the given CPUs (taskset execs, so the pid stays)."""
    return ["taskset", "-c", cpus, *argv] if cpus is not None else list(argv)


def start(
    name: str,
    argv: Sequence[str],
    *,
    cpus: str | None,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    """The service's process start (own session, output in LOG_DIR/NAME.log), pinned to
    `cpus`; without `env`, the environment minus any DIABETES_* settings."""
    log_path = log_dir / f"{name}.log"
    log_path.unlink(missing_ok=True)
    return start_process(
        name,
        pinned(argv, cpus),
        log_path=log_path,
        env=env if env is not None else child_environment(),
        cwd=cwd,
    )


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
