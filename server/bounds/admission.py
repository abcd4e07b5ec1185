"""Admission by memory: the server takes a call only while what it may cost fits.

Each call reserves its bound (`request_bounds.RequestGuard.reserve_bytes`: a multiple of
its body plus a constant) in the request parser, before the parse (`server.rpc`),
from a budget (`--memory-budget-bytes`, or the cgroup's memory limit minus
`--memory-baseline-bytes`), and gives it back when the call ends (`server.rpc.Call`).
A call that does not fit is refused at once with RESOURCE_EXHAUSTED (`RetryLaterError`),
which Envoy retries on another server and the clients retry with back-off; one that would
not fit even an idle server is INVALID_ARGUMENT. How many calls run at once is the call
gate's (`server.bounds.call_gate`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from server.errors import InvalidInputError, RetryLaterError

MIB = 1024 * 1024


@runtime_checkable
class AdmissionMetrics(Protocol):
    """Receives the reserved bytes and the refusals (implemented by `server.metrics`)."""

    def memory_reserved(self, reserved_bytes: int) -> None: ...

    def admission_refused(self, reason: str) -> None: ...


class Ticket:
    """One admitted call's reserved bytes; `release` gives them back (once)."""

    __slots__ = ("_admission", "reserved_bytes")

    def __init__(self, admission: Admission, reserved_bytes: int) -> None:
        self._admission: Admission | None = admission
        self.reserved_bytes = reserved_bytes

    def release(self) -> None:
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.release(self)

    # A call that never ran (its request dropped unhandled) still gives its share back.
    __del__ = release


class Admission:
    """The server's memory for calls: `budget_bytes` for their reservations, of which bulk
    calls may take all but `small_reserve_bytes`, so that small calls (Predict, /stream,
    health) always find room beside the largest bulk bodies."""

    def __init__(
        self,
        budget_bytes: int,
        metrics: AdmissionMetrics | None = None,
        small_reserve_bytes: int = 0,
    ) -> None:
        self.budget_bytes = budget_bytes
        self.bulk_budget_bytes = max(budget_bytes - small_reserve_bytes, 0)
        self._metrics = metrics
        self._lock = threading.Lock()
        self._reserved = 0

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    def admit(self, method: str, reserve_bytes: int, bulk: bool = False) -> Ticket:
        """A ticket for a call that may take `reserve_bytes`; RetryLaterError when the
        budget is taken, InvalidInputError when the call would not fit even an idle
        server's budget (a bulk call: the bulk calls' share of it)."""
        budget = self.bulk_budget_bytes if bulk else self.budget_bytes
        with self._lock:
            fits = self._reserved + reserve_bytes <= budget
            if fits:
                self._reserved += reserve_bytes
            reserved = self._reserved
        if fits:
            if self._metrics is not None:
                self._metrics.memory_reserved(reserved)
            return Ticket(self, reserve_bytes)
        if self._metrics is not None:
            self._metrics.admission_refused("too_large" if reserve_bytes > budget else "memory")
        if reserve_bytes > budget:
            raise InvalidInputError(
                f"{method}: a request of this size may take {reserve_bytes / MIB:.1f} MiB, "
                f"more than this server's whole budget of {budget / MIB:.0f} MiB; "
                "send fewer records per call"
            )
        raise RetryLaterError(
            f"{method}: a request of this size may take {reserve_bytes / MIB:.1f} MiB "
            f"and this server has {max(budget - reserved, 0) / MIB:.1f} MiB of its "
            f"{budget / MIB:.0f} MiB budget free; retry in "
            f"{RetryLaterError.RETRY_AFTER_SECONDS} s (another server may take it now)"
        )

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._reserved -= ticket.reserved_bytes
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
