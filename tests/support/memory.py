"""A process's own peak memory (Linux): how much one request grew a server by.

`VmHWM` in /proc/PID/status is the process's peak resident set; writing 5 to
/proc/PID/clear_refs resets it to the current resident set, so the peak measured after a
request is that request's, not an earlier one's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def rss_bytes(pid: int) -> int:
    """The process's resident set now."""
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set since it started or since `reset_peak_rss`."""
    return _status_kib(pid, "VmHWM") * 1024


def reset_peak_rss(pid: int) -> None:
    """Set the peak resident set back to the current one (needs the process to be ours)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Growth:
    """How far a process's peak resident set rose above where it stood at the start."""

    pid: int
    start: int = 0
    peak: int = 0

    @property
    def bytes(self) -> int:
        return max(0, self.peak - self.start)


@contextlib.contextmanager
def peak_growth(pid: int) -> Iterator[Growth]:
    """Measure what the block costs the process at its peak:

    with peak_growth(server_pid) as growth:
        send_the_request()
    assert growth.bytes < 3 * len(body) + SLACK
    """
    reset_peak_rss(pid)
    growth = Growth(pid, start=rss_bytes(pid))
    try:
        yield growth
    finally:
        growth.peak = peak_rss_bytes(pid)
