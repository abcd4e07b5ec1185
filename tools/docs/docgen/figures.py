"""Figures from committed runs: the benchmark (`docs/results/bench.json`, the JSON `make bench`
writes to bench/results/latest.json) and the in-process measurements
(`docs/results/complexity.json`, from `python -m tools.docs.measure_complexity --json`).

Tables are `bench:TABLE` / `complexity:TABLE` sections; single figures and the comparisons
prose makes from them (`bench:NAME`) are rendered here, so a re-run re-words them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from bench.markdown import render_markdown
from bench.report import Figures, ratio
from bench.targets import evaluate
from tools.docs.docgen.tables import table

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "docs" / "results"
BENCH = RESULTS / "bench.json"
# What a table or figure says where the committed run has no figure for it (an older run).
MISSING = "not measured in the committed run"
COMPLEXITY = RESULTS / "complexity.json"

BENCH_TABLES = {
    "requests": "1 record per request",
    "batch-rates": "records/s at concurrency",
    "batch-cost": "CPU ns per record (server + Envoy)",
    "batch-ceilings": "transport ceiling, records/s",
    "floors": "in-process floor",
    "memory": "memory and start-up",
    "scaling": "unpinned, concurrency 32",
    "targets": "target",
}


@cache
def bench_results(path: Path = BENCH) -> Mapping[str, Any]:
    results: Mapping[str, Any] = json.loads(path.read_text())
    return results


def _bc(results: Mapping[str, Any]) -> int:
    return int(results["settings"]["batch_concurrency"])


def _version(text: str) -> str:
    """`h2load nghttp2/1.52.0` -> `1.52.0`; `wrk debian/4.1.0-3+b2 [epoll] ...` -> `4.1.0`."""
    found = re.search(r"\d+\.\d+(?:\.\d+)?", text)
    return found.group(0) if found else text


def _environment(results: Mapping[str, Any]) -> str:
    e = results["environment"]
    return (
        f"the project's {e['cpus']}-CPU development machine ({e['cpu']}; Python {e['python']}, "
        f"grpcio {e['grpcio']}, protobuf {e['protobuf']}, numpy {e['numpy']}, "
        f"Envoy {e['envoy']}, h2load {_version(e['h2load'])}, wrk {_version(e['wrk'])}), "
        f"commit {e['git_commit']}, {e['date'][:10]}"
    )


def bench_table(name: str) -> str:
    results = bench_results()
    wanted = BENCH_TABLES[name]
    for block in render_markdown(results, _bc(results), MISSING).split("\n\n"):
        if block.startswith(f"| {wanted}"):
            return block.strip()
    raise KeyError(f"the benchmark results render no {wanted!r} table")


def _x(value: float) -> str:
    return f"{value:.2f}×"


def _int(value: float) -> str:
    return f"{value:,.0f}"


def _span(values: list[float], fmt: Callable[[float], str], unit: str = "") -> str:
    low, high = min(values), max(values)
    if fmt(low) == fmt(high):
        return f"{fmt(low)}{unit}"
    return f"{fmt(low)}-{fmt(high)}{unit}"


def _times_words(value: float) -> str:
    """A ratio as prose: "3.85 times" or "0.37 of"."""
    return f"{value:.2f} times" if value >= 1 else f"{value:.2f} of"


def _figures() -> dict[str, Callable[[Figures, Mapping[str, Any]], str]]:
    def rps(system: str, path: str, c: int) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _int(f.rps(system, path, c))

    def cpu(
        system: str, path: str, c: int, n: int = 1
    ) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _int(f.cpu_us(system, path, c, n))

    def times(
        a: tuple[str, str, int], b: tuple[str, str, int]
    ) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _x(ratio(f.rps(*a), f.rps(*b)))

    def batch_times(
        a: tuple[str, str], b: tuple[str, str], n: int
    ) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _x(
            ratio(f.records_per_s(*a, _bc(r), n), f.records_per_s(*b, _bc(r), n))
        )

    def fixed(paths: tuple[str, ...]) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _span([f.cpu_us("service", p, _bc(r), 1) for p in paths], _int, " µs")

    def per_record(
        paths: tuple[str, ...], sizes: tuple[int, ...]
    ) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _span(
            [f.cpu_us("service", p, _bc(r), n) * 1000 / n for p in paths for n in sizes],
            _int,
            " ns",
        )

    def small_batch_times(path: str, peer: str) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: _span(
            [
                ratio(
                    f.records_per_s("service", path, _bc(r), n),
                    f.records_per_s("mlserver", peer, _bc(r), n),
                )
                for n in (1, 100)
            ],
            _x,
        )

    def scaling_gain(path: str) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: (
            f"{ratio(f.rps('service-w2', path, 32), f.rps('service-w1', path, 32)) - 1:.0%}"
        )

    def memory(name: str) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: f"{f.memory(name):.0f} MiB"

    def p99(system: str, path: str) -> Callable[[Figures, Mapping[str, Any]], str]:
        return lambda f, r: f"{f.p99(system, path, 1):.2f} ms"

    def target_gap(name_start: str) -> Callable[[Figures, Mapping[str, Any]], str]:
        def gap(f: Figures, r: Mapping[str, Any]) -> str:
            t = next(t for t in evaluate(r, _bc(r)) if t.name.startswith(name_start))
            if math.isnan(t.measured):
                return MISSING
            return f"{abs(1 - t.measured / t.goal):.0%}"

        return gap

    ten_k = 10_000
    return {
        "minutes": lambda f, r: f"{math.ceil(float(r['elapsed_s']) / 60)} minutes",
        "environment": lambda f, r: _environment(r),
        "json-batch-10k-vs-mlserver": batch_times(
            ("service", "json-batch"), ("mlserver", "rest-infer"), ten_k
        ),
        "json-batch-100k-vs-mlserver": batch_times(
            ("service", "json-batch"), ("mlserver", "rest-infer"), 100_000
        ),
        "json-columns-100k-vs-mlserver": batch_times(
            ("service", "json-batch-columns"), ("mlserver", "rest-infer"), 100_000
        ),
        "json-batch-all10-10k-vs-bmi": batch_times(
            ("service", "json-batch-all10"), ("service", "json-batch"), ten_k
        ),
        "json-batch-10k-cpu": cpu("service", "json-batch", 4, ten_k),
        "json-batch-all10-10k-cpu": cpu("service", "json-batch-all10", 4, ten_k),
        "mlserver-rest-10k-cpu": cpu("mlserver", "rest-infer", 4, ten_k),
        "v2-rest-10k-vs-mlserver": batch_times(
            ("service", "v2-rest-infer"), ("mlserver", "rest-infer"), ten_k
        ),
        "v2-grpc-10k-vs-mlserver": batch_times(
            ("service", "v2-grpc-infer"), ("mlserver", "grpc-infer"), ten_k
        ),
        "grpc-predict-c32-vs-mlserver": times(
            ("service", "grpc-predict", 32), ("mlserver", "grpc-infer", 32)
        ),
        "grpc-predict-c32-vs-noop": times(
            ("service", "grpc-predict", 32), ("noop", "grpc-predict", 32)
        ),
        "grpc-predict-c32-cpu": cpu("service", "grpc-predict", 32),
        "noop-c32-cpu": cpu("noop", "grpc-predict", 32),
        "noop-aio-c32-cpu": cpu("noop-aio", "grpc-predict", 32),
        "json-stream-c32-vs-mlserver": times(
            ("service", "json-stream", 32), ("mlserver", "rest-infer", 32)
        ),
        "json-stream-c32-vs-noop-envoy": times(
            ("service", "json-stream", 32), ("noop-envoy", "json-stream", 32)
        ),
        "json-stream-c32-cpu": cpu("service", "json-stream", 32),
        "noop-envoy-c32-rps": rps("noop-envoy", "json-stream", 32),
        "noop-envoy-c32-vs-mlserver": times(
            ("noop-envoy", "json-stream", 32), ("mlserver", "rest-infer", 32)
        ),
        "noop-envoy-c32-cpu": cpu("noop-envoy", "json-stream", 32),
        "noop-envoy-p99-c1": p99("noop-envoy", "json-stream"),
        "mlserver-rest-p99-c1": p99("mlserver", "rest-infer"),
        "grpc-predict-gap-to-target": target_gap("gRPC Predict, c=32: req/s vs MLServer"),
        "grpc-batch-fixed": fixed(("grpc-batch-records", "grpc-batch-columns")),
        "json-batch-fixed": fixed(("json-batch", "json-batch-columns")),
        "grpc-small-batch-vs-mlserver": small_batch_times("grpc-batch-records", "grpc-infer"),
        "grpc-columns-per-record": per_record(("grpc-batch-columns",), (ten_k, 100_000)),
        "grpc-records-per-record": per_record(("grpc-batch-records",), (ten_k, 100_000)),
        "json-per-record": per_record(("json-batch", "json-batch-columns"), (ten_k, 100_000)),
        "grpc-columns-10k-records-per-s": lambda f, r: (
            f"{f.records_per_s('service', 'grpc-batch-columns', _bc(r), ten_k) / 1e6:.1f} million"
        ),
        "grpc-columns-10k-vs-mlserver": batch_times(
            ("service", "grpc-batch-columns"), ("mlserver", "grpc-infer"), ten_k
        ),
        "json-columns-10k-vs-mlserver": batch_times(
            ("service", "json-batch-columns"), ("mlserver", "rest-infer"), ten_k
        ),
        "json-columns-10k-vs-mlserver-words": lambda f, r: _times_words(
            ratio(
                f.records_per_s("service", "json-batch-columns", _bc(r), ten_k),
                f.records_per_s("mlserver", "rest-infer", _bc(r), ten_k),
            )
        ),
        "grpc-columns-10k-vs-mlserver-words": lambda f, r: _times_words(
            ratio(
                f.records_per_s("service", "grpc-batch-columns", _bc(r), ten_k),
                f.records_per_s("mlserver", "grpc-infer", _bc(r), ten_k),
            )
        ),
        "single-c32-vs-mlserver": lambda f, r: _span(
            [
                ratio(f.rps("service", "grpc-predict", 32), f.rps("mlserver", "grpc-infer", 32)),
                ratio(f.rps("service", "json-stream", 32), f.rps("mlserver", "rest-infer", 32)),
            ],
            _x,
        ),
        "workers-gain-grpc": scaling_gain("grpc-predict"),
        "workers-gain-json": scaling_gain("json-stream"),
        "server-rss-idle": memory("server_idle"),
        "server-rss-load": memory("server"),
        "envoy-rss-load": memory("envoy"),
    }


def bench_figure(name: str) -> str:
    if name in BENCH_TABLES:
        return bench_table(name)
    if name == "serving":
        return serving_table()
    if name.startswith("capacity-"):
        from tools.docs.docgen import capacity  # reads the manifests and the Envoy config as well

        return capacity.figure(name.removeprefix("capacity-"), bench_results())
    figures = _figures()
    if name not in figures:
        raise KeyError(f"no benchmark figure {name!r} in docgen.figures")
    results = bench_results()
    return figures[name](Figures(results), results)


def serving_table() -> str:
    """docs/complexity.md's per-call summary, from the same run as performance.md."""
    results = bench_results()
    f, bc = Figures(results), _bc(results)
    big = max(int(p["records"]) for p in results["points"] if p["concurrency"] == bc)

    def one(path: str) -> str:
        p1, p32 = f.point("service", path, 1, 1), f.point("service", path, 32, 1)
        envoy1, envoy32 = p1.get("envoy_cpu_us"), p32.get("envoy_cpu_us")
        at1 = f"{p1['server_cpu_us']:,.0f} µs" + (f" + {envoy1:,.0f} µs (Envoy)" if envoy1 else "")
        at32 = f"{p32['server_cpu_us']:,.0f}" + (f" + {envoy32:,.0f}" if envoy32 else "") + " µs"
        return f"{at1} at concurrency 1; {at32} at 32"

    def rate(path: str) -> str:
        at1, at32 = f.rps("service", path, 1), f.rps("service", path, 32)
        return f"{at1:,.0f} req/s at concurrency 1, {at32:,.0f} at 32"

    def batch(path: str) -> list[str]:
        fixed = f.cpu_us("service", path, bc, 1)
        per = f.cpu_us("service", path, bc, big) * 1000 / big
        return [
            f"{fixed:,.0f} µs",
            f"{per:,.0f} ns",
            f"{f.records_per_s('service', path, bc, big) / 1e6:.1f} million records/s",
        ]

    rows = [
        ["gRPC `Predict`, direct", one("grpc-predict"), "—", rate("grpc-predict")],
        ["JSON `POST /stream`, through Envoy", one("json-stream"), "—", rate("json-stream")],
        ["gRPC `PredictBatch`, columns", *batch("grpc-batch-columns")],
        ["gRPC `PredictBatch`, records", *batch("grpc-batch-records")],
        ["JSON `POST /batch/columns`", *batch("json-batch-columns")],
        ["JSON `POST /batch`", *batch("json-batch")],
    ]
    return table(
        [
            "Call",
            "CPU per request (batches: 1 record)",
            f"CPU per record ({big:,} records)",
            f"Throughput (batches: {big:,} records per call, concurrency {bc})",
        ],
        rows,
    )


@cache
def complexity_results(path: Path = COMPLEXITY) -> Mapping[str, Any]:
    results: Mapping[str, Any] = json.loads(path.read_text())
    return results


def complexity_figure(name: str) -> str:
    results = complexity_results()
    if name in results["tables"]:
        rows = results["tables"][name]
        return table(rows[0], rows[1:])
    facts = {fact["label"]: fact for fact in results["convergence"]}
    if name == "all-iterations":
        return f"{facts['all 10']['iterations']:,}"
    if name == "all-condition":
        return f"{facts['all 10']['condition_number']:.0f}"
    if name == "repeats":
        return str(results["repeats"])
    raise KeyError(f"no complexity figure {name!r} in docgen.figures")
