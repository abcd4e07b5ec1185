"""`python -m bench.stream_lanes`: one JSON record on `POST /stream` (the transcoded
`Predict`: Envoy turns JSON into protobuf and back) against the same record on the
HttpBody lane (`POST /stream-lane`, `PredictJsonRecord`: Envoy passes the bytes, the
server decodes with msgspec), through one real Envoy in the same run, with wrk: requests/s at
c=32 and p99 at c=1. Runs come in short back-to-back pairs (the order alternating) and
the median of the pairs' ratios is reported, so a shift in the machine's load between
runs moves one pair, not the answer. The stack runs on the server CPU, wrk on the
generator CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.loadgen import wrk
from bench.probes import http_request
from bench.procs import SERVER_CPUS, pinned
from server.processes import free_port

ROUTES = ("/stream", "/stream-lane")
RECORD = b'{"bmi": 0.0617}'


def start_stack(http: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "server.stack", "--http-port", str(http)]
    argv += ["--admin-port", str(free_port()), "--grpc-port", str(free_port())]
    with log.open("wb") as out:
        stack = subprocess.Popen(
            pinned(argv, SERVER_CPUS), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if http_request(http, "POST", "/stream", RECORD)[0] == 200:
                return stack
        except OSError:
            pass
        time.sleep(0.3)
    stop(stack)
    raise RuntimeError(f"the stack did not answer; see {log}")


def stop(stack: subprocess.Popen[bytes]) -> None:
    os.killpg(stack.pid, signal.SIGTERM)
    stack.wait(30)


def same_answers(http: int) -> None:
    answers = [json.loads(http_request(http, "POST", route, RECORD)[1]) for route in ROUTES]
    if answers[0] != answers[1]:
        raise AssertionError(f"the routes answer differently: {answers}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_lanes", description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per run")
    parser.add_argument("--pairs", type=int, default=10, help="back-to-back pairs of runs")
    args = parser.parse_args(argv)
    http = free_port()
    ratios: dict[int, list[tuple[float, float]]] = {32: [], 1: []}
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as scratch:
        body = Path(scratch) / "record.json"
        body.write_bytes(RECORD)
        stack = start_stack(http, Path(scratch) / "stack.log")
        try:
            same_answers(http)
            for pair in range(args.pairs):
                for concurrency in (32, 1):
                    routes = ROUTES if pair % 2 == 0 else ROUTES[::-1]
                    results = {}
                    for route in routes:
                        url = f"http://127.0.0.1:{http}{route}"
                        result = wrk(url, body, concurrency=concurrency, seconds=args.seconds)
                        if result.failed:
                            raise AssertionError(f"{route}: {result.failed} failed requests")
                        results[route] = result
                    old, new = results[ROUTES[0]], results[ROUTES[1]]
                    ratios[concurrency].append(
                        (new.requests_per_s / old.requests_per_s, new.p99_ms / old.p99_ms)
                    )
                    print(
                        f"pair {pair} c={concurrency:<2} req/s transcoded "
                        f"{old.requests_per_s:6.0f} "
                        f"lane {new.requests_per_s:6.0f}; p99 ms transcoded {old.p99_ms:7.3f} "
                        f"lane {new.p99_ms:7.3f}",
                        flush=True,
                    )
        finally:
            stop(stack)
    for concurrency, pairs in ratios.items():
        rate, p99 = (statistics.median(column) for column in zip(*pairs, strict=True))
        print(
            f"c={concurrency}: lane/transcoded, median of {len(pairs)} back-to-back pairs: "
            f"req/s {rate:.2f}x, p99 {p99:.2f}x"
        )


if __name__ == "__main__":
    main()
