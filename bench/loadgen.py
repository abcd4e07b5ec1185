"""The C load generators: h2load for gRPC (and h2c), wrk for HTTP/1.1.

Each run is bounded in time, pinned to the generator CPU, and returns requests/s,
latency percentiles and the bytes received, which callers use to check that every
response carried a real answer (a gRPC error is an HTTP 200 with no message).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.procs import GENERATOR_CPUS, pinned

GRPC_HEADERS = {"content-type": "application/grpc", "te": "trailers"}


class LoadError(RuntimeError):
    """The generator failed or reported failed requests."""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    failed: int
    p50_ms: float
    p99_ms: float
    data_bytes: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def bytes_per_response(self) -> float:
        return self.data_bytes / self.requests if self.requests else 0.0


def h2load(
    url: str,
    body: Path,
    *,
    concurrency: int,
    seconds: float,
    headers: Mapping[str, str] = GRPC_HEADERS,
    streams_per_connection: int = 1,
    cpus: str | None = GENERATOR_CPUS,
) -> LoadResult:
    """POST body over h2c for `seconds`, `concurrency` connections, one stream each."""
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        log = Path(tmp) / "requests.log"
        argv = [
            "h2load",
            "-D",
            f"{round(seconds * 1000)}ms",
            "-c",
            str(concurrency),
            "-m",
            str(streams_per_connection),
            "-t",
            "1",
            "-d",
            str(body),
            "--log-file",
            str(log),
        ]
        for name, value in headers.items():
            argv += ["-H", f"{name}: {value}"]
        argv.append(url)
        done = subprocess.run(
            pinned(argv, cpus), capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise LoadError(f"h2load exited {done.returncode}: {done.stderr or done.stdout}")
        latencies_us = _h2load_latencies(log)
    return _parse_h2load(done.stdout, latencies_us)


def _h2load_latencies(log: Path) -> np.ndarray:
    try:
        table = np.loadtxt(log, dtype=np.int64, ndmin=2, usecols=(1, 2))
    except (OSError, ValueError):
        return np.empty(0)
    ok = table[:, 0] // 100 == 2
    latencies: np.ndarray = table[ok, 1].astype(np.float64)
    return latencies


_FINISHED = re.compile(r"finished in ([\d.]+)(ms|s),")
_REQUESTS = re.compile(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded")
_DATA = re.compile(r"\((\d+)\) data")


def _parse_h2load(stdout: str, latencies_us: np.ndarray) -> LoadResult:
    finished, requests, data = (
        _FINISHED.search(stdout),
        _REQUESTS.search(stdout),
        _DATA.search(stdout),
    )
    if not (finished and requests and data):
        raise LoadError(f"cannot read h2load's output:\n{stdout}")
    done, succeeded = int(requests.group(2)), int(requests.group(3))
    return LoadResult(
        requests=succeeded,
        seconds=float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1),
        failed=done - succeeded,
        p50_ms=_percentile_ms(latencies_us, 50),
        p99_ms=_percentile_ms(latencies_us, 99),
        data_bytes=int(data.group(1)),
    )


def _percentile_ms(latencies_us: np.ndarray, q: float) -> float:
    return float(np.percentile(latencies_us, q)) / 1000 if latencies_us.size else float("nan")


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open("{body}", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"bytes\\": %d, " ..
    "\\"p50_us\\": %.1f, \\"p99_us\\": %.1f, \\"failed\\": %d}}\\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def wrk(
    url: str,
    body: Path,
    *,
    concurrency: int,
    seconds: float,
    cpus: str | None = GENERATOR_CPUS,
) -> LoadResult:
    """POST a JSON body over HTTP/1.1 keep-alive connections for `seconds`."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(_WRK_SCRIPT.format(body=body.resolve()))
        argv = [
            "wrk",
            "-t",
            "1",
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ]
        done = subprocess.run(
            pinned(argv, cpus), capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    marker = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or marker is None:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr or done.stdout}")
    summary = json.loads(marker.removeprefix("BENCH_JSON "))
    failed = int(summary["failed"])
    return LoadResult(
        requests=int(summary["requests"]) - failed,
        seconds=int(summary["duration_us"]) / 1e6,
        failed=failed,
        p50_ms=float(summary["p50_us"]) / 1000,
        p99_ms=float(summary["p99_us"]) / 1000,
        data_bytes=int(summary["bytes"]),
    )
