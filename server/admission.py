"""Admission: the server takes a call only while what it may cost fits.

Two limits, checked in the request parser before the parse (`server.registration`):

- memory: each call reserves its bound (`request_bounds.RequestGuard.reserve_bytes`: a
  multiple of its body plus a constant) from a budget (`--memory-budget-bytes`, or the
  cgroup's memory limit minus `--memory-baseline-bytes`), and gives it back when the call
  ends (`server.telemetry.Call`);
- prediction calls running at once (`--max-traffic-calls`), below the handler thread count,
  so health checks, readiness and metadata always find a thread.

A call over either limit is refused at once with RESOURCE_EXHAUSTED (`RetryLaterError`),
which Envoy retries on another server and the clients retry with back-off.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from server.errors import InvalidInputError, RetryLaterError, ServiceError

MIB = 1024 * 1024


@runtime_checkable
class AdmissionMetrics(Protocol):
    """Receives the reserved bytes and the refusals (implemented by `server.metrics`)."""

    def memory_reserved(self, reserved_bytes: int) -> None: ...

    def admission_refused(self, reason: str) -> None: ...


class Ticket:
    """One admitted call's share: its reserved bytes and, for a prediction call, its slot.
    `release` gives both back (once)."""

    __slots__ = ("_admission", "reserved_bytes", "traffic")

    def __init__(self, admission: Admission, reserved_bytes: int, traffic: bool) -> None:
        self._admission: Admission | None = admission
        self.reserved_bytes = reserved_bytes
        self.traffic = traffic

    def release(self) -> None:
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.release(self)

    # A call that never ran (its request dropped unhandled) still gives its share back.
    __del__ = release


class Admission:
    """The server's capacity: `budget_bytes` for the calls' reservations and
    `max_traffic_calls` prediction calls at once."""

    def __init__(
        self, budget_bytes: int, max_traffic_calls: int, metrics: AdmissionMetrics | None = None
    ) -> None:
        self.budget_bytes = budget_bytes
        self.max_traffic_calls = max_traffic_calls
        self._metrics = metrics
        self._lock = threading.Lock()
        self._reserved = 0
        self._traffic = 0

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    def admit(self, method: str, reserve_bytes: int, traffic: bool) -> Ticket:
        """A ticket for a call that may take `reserve_bytes`; RetryLaterError when the
        budget or the prediction slots are taken, InvalidInputError when the call would
        not fit even an idle server's budget."""
        with self._lock:
            if traffic and self._traffic >= self.max_traffic_calls:
                refusal: ServiceError | None = RetryLaterError(
                    f"{method}: this server is running {self._traffic} prediction calls, "
                    f"its most at once; retry in {RetryLaterError.RETRY_AFTER_SECONDS} s "
                    "(another server may take it now)"
                )
                reason = "calls"
            elif reserve_bytes > self.budget_bytes:
                refusal = InvalidInputError(
                    f"{method}: a request of this size may take {reserve_bytes / MIB:.1f} MiB, "
                    f"more than this server's whole budget of {self.budget_bytes / MIB:.0f} MiB; "
                    "send fewer records per call"
                )
                reason = "too_large"
            elif self._reserved + reserve_bytes > self.budget_bytes:
                refusal = RetryLaterError(
                    f"{method}: a request of this size may take {reserve_bytes / MIB:.1f} MiB "
                    f"and this server has {(self.budget_bytes - self._reserved) / MIB:.1f} MiB "
                    f"of its {self.budget_bytes / MIB:.0f} MiB budget free; retry in "
                    f"{RetryLaterError.RETRY_AFTER_SECONDS} s (another server may take it now)"
                )
                reason = "memory"
            else:
                self._reserved += reserve_bytes
                self._traffic += traffic
                reserved = self._reserved
                refusal = None
        if refusal is not None:
            if self._metrics is not None:
                self._metrics.admission_refused(reason)
            raise refusal
        if self._metrics is not None:
            self._metrics.memory_reserved(reserved)
        return Ticket(self, reserve_bytes, traffic)

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._reserved -= ticket.reserved_bytes
            self._traffic -= ticket.traffic
            reserved = self._reserved
        if self._metrics is not None:
            self._metrics.memory_reserved(reserved)


class Admitted:
    """A parsed request with the ticket its parser took (grpc parses a request on its
    polling thread, so the ticket travels with the request to the call, which releases
    it when it ends)."""

    __slots__ = ("message", "ticket")

    def __init__(self, message: object, ticket: Ticket) -> None:
        self.message = message
        self.ticket = ticket


def memory_budget(setting_bytes: int, baseline_bytes: int) -> int:
    """The budget for the calls' reservations: the setting when above 0, else the memory
    limit of this process's cgroup (v2 `memory.max`, or v1 `memory.limit_in_bytes`) or,
    without one, the machine's memory, minus the baseline the idle server takes."""
    if setting_bytes > 0:
        return setting_bytes
    limit = cgroup_memory_limit() or machine_memory()
    return max(limit - baseline_bytes, 0)


def cgroup_memory_limit(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """This process's cgroup memory limit in bytes, None when it has none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    candidates = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2: one hierarchy
            candidates.append(root / relative / "memory.max")
        elif "memory" in controllers.split(","):
            candidates.append(root / "memory" / relative / "memory.limit_in_bytes")
    for candidate in candidates:
        try:
            text = candidate.read_text().strip()
        except OSError:
            continue
        # v1 writes "no limit" as a huge number (a page-rounded 2**63 - 1).
        if text.isdigit() and int(text) < 1 << 60:
            return int(text)
    return None


def machine_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """The machine's memory (MemTotal) in bytes."""
    for line in meminfo.read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no MemTotal in {meminfo}")
