"""One measured point: a load generator run against a running system, with the server's
CPU time over exactly that window and a check that every response was a real answer."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.loadgen import LoadError, LoadResult
from bench.procs import SERVER_CPUS, cpu_busy_seconds, cpu_seconds

Load = Callable[[float], LoadResult]
FOREIGN_LOAD_WARNING = 0.05


@dataclass(frozen=True)
class Point:
    system: str  # "service", "mlserver", "noop", "service-w2", ...
    path: str  # "grpc-predict", "json-stream", "grpc-batch-columns", "rest-infer", ...
    concurrency: int
    records: int  # records per request
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_us: float | None  # server CPU time per request
    envoy_cpu_us: float | None
    failed: int
    # Share of the server CPU used by processes outside the run during the window: the
    # machine is shared, and a point with much foreign load is not comparable.
    foreign_load: float = 0.0
    error: str | None = None
    # CPU time of server and Envoy per request in every clean round (the runner fills it):
    # their median is the figure the verdicts use, steadier than the best round's rate.
    round_cpu_us: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return point_key(self.system, self.path, self.concurrency, self.records)

    @property
    def records_per_s(self) -> float:
        return self.requests_per_s * self.records

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key, "records_per_s": self.records_per_s}


def point_key(system: str, path: str, concurrency: int, records: int) -> str:
    return f"{system}:{path}:c{concurrency}:n{records}"


def failed_point(system: str, path: str, concurrency: int, records: int, error: str) -> Point:
    nan = math.nan
    return Point(system, path, concurrency, records, nan, nan, nan, None, None, 0, error=error)


def measure(
    system: str,
    path: str,
    *,
    concurrency: int,
    records: int,
    load: Load,
    seconds: float,
    warmup: float,
    server_pids: Sequence[int],
    envoy_pids: Sequence[int] = (),
    min_response_bytes: float = 0.0,
    pinned: bool = True,
) -> Point:
    """Warm up, then run the load for `seconds` while reading the processes' CPU time."""
    try:
        if warmup > 0:
            load(warmup)
        server_before, envoy_before = cpu_seconds(server_pids), cpu_seconds(envoy_pids)
        busy_before, started = cpu_busy_seconds(), time.perf_counter()
        result = load(seconds)
        server_cpu = cpu_seconds(server_pids) - server_before
        envoy_cpu = cpu_seconds(envoy_pids) - envoy_before
        window = time.perf_counter() - started
        busy = cpu_busy_seconds().get(SERVER_CPUS, 0.0) - busy_before.get(SERVER_CPUS, 0.0)
    except LoadError as exc:
        return failed_point(system, path, concurrency, records, str(exc)[:500])
    error = _check(result, min_response_bytes)
    per_request = 1e6 / result.requests if result.requests else math.nan
    point = Point(
        system=system,
        path=path,
        concurrency=concurrency,
        records=records,
        requests_per_s=result.requests_per_s,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        server_cpu_us=server_cpu * per_request if server_pids else None,
        envoy_cpu_us=envoy_cpu * per_request if envoy_pids else None,
        failed=result.failed,
        foreign_load=round(max(0.0, busy - server_cpu - envoy_cpu) / window, 3) if pinned else 0.0,
        error=error,
    )
    print(f"  {_describe(point)}", flush=True)
    return point


def _check(result: LoadResult, min_response_bytes: float) -> str | None:
    if result.requests == 0:
        return "no request succeeded"
    if result.failed > result.requests // 1000:
        return f"{result.failed} requests failed"
    if result.bytes_per_response < min_response_bytes * 0.99:
        return (
            f"responses averaged {result.bytes_per_response:.0f} bytes, expected at least "
            f"{min_response_bytes:.0f}: some calls returned errors"
        )
    return None


def _describe(point: Point) -> str:
    text = (
        f"{point.system:<10} {point.path:<20} c={point.concurrency:<3} n={point.records:<7} "
        f"{point.requests_per_s:>9,.0f} req/s {point.records_per_s:>13,.0f} rec/s "
        f"p50 {point.p50_ms:7.2f} ms  p99 {point.p99_ms:7.2f} ms"
    )
    if point.server_cpu_us is not None:
        text += f"  cpu {point.server_cpu_us:6.0f} µs/req"
    if point.foreign_load > FOREIGN_LOAD_WARNING:
        text += f"  (other processes used {point.foreign_load:.0%} of the server CPU)"
    return text + (f"  ERROR: {point.error}" if point.error else "")
