"""The one table a run prints (also rebuilt from a saved JSON file)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from bench.figures import ALL10, TEN_K, Figures, opt, ratio
from bench.points import FOREIGN_LOAD_WARNING
from bench.targets import Target, evaluate, verdict

__all__ = [
    "BATCH_ROWS",
    "FACES",
    "REQUEST_ROWS",
    "Figures",
    "Target",
    "batch_sizes",
    "evaluate",
    "ratio",
    "render",
]

REQUEST_ROWS = (
    ("service", "grpc-predict", "gRPC Predict, direct", "grpc"),
    ("service", "grpc-envoy-predict", "gRPC Predict, via Envoy", "grpc"),
    ("service", "json-stream", "JSON POST /stream, via Envoy", "json"),
    ("noop", "grpc-predict", "no-op grpcio (ceiling)", "grpc"),
    ("noop-aio", "grpc-predict", "no-op grpc.aio (reference)", "grpc"),
    ("noop-envoy", "json-stream", "no-op behind Envoy, /stream", "json"),
    ("mlserver", "grpc-infer", "MLServer gRPC ModelInfer", "grpc"),
    ("mlserver", "rest-infer", "MLServer REST /infer", "json"),
)
REQUEST_PEER = {"grpc": "grpc-infer", "json": "rest-infer"}
# The bulk faces, BMI only and then with all ten features (each against MLServer serving
# the same model, and against the no-op on the same transport).
FACES = (
    ("grpc-batch-records", "gRPC PredictBatch, records"),
    ("grpc-batch-columns", "gRPC PredictBatch, columns"),
    ("json-batch", "JSON POST /batch"),
    ("json-batch-columns", "JSON POST /batch/columns"),
    ("v2-grpc-infer", "V2 gRPC ModelInfer, via Envoy"),
    ("v2-rest-infer", "V2 REST /infer, via Envoy"),
)
BATCH_ROWS = (
    *((path, label) for path, label in FACES),
    *((path + ALL10, label + ", all 10 features") for path, label in FACES),
)
PEER_ROWS = (
    ("grpc-infer", "MLServer gRPC ModelInfer"),
    ("rest-infer", "MLServer REST /infer"),
    ("grpc-infer" + ALL10, "MLServer gRPC ModelInfer, all 10 features"),
    ("rest-infer" + ALL10, "MLServer REST /infer, all 10 features"),
)


def num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def times(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}×"


def batch_sizes(results: Mapping[str, Any], batch_concurrency: int) -> list[int]:
    points = results.get("points", [])
    return sorted({int(p["records"]) for p in points if p["concurrency"] == batch_concurrency})


def _request_rows(f: Figures) -> list[str]:
    header = (
        f"{'1 record per request':<32}{'c':>3}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'srv µs':>8}{'envoy µs':>9}{'×MLServer':>10}{'×no-op':>8}"
    )
    lines = [header, "-" * len(header)]
    for system, path, label, kind in REQUEST_ROWS:
        for c in (1, 32):
            p = f.point(system, path, c, 1)
            rps = opt(p.get("requests_per_s"))
            versus_peer = ratio(rps, f.rps("mlserver", REQUEST_PEER[kind], c))
            noop = ("noop", "grpc-predict") if kind == "grpc" else ("noop-envoy", "json-stream")
            versus_noop = ratio(rps, f.rps(*noop, c))
            lines.append(
                f"{label:<32}{c:>3}{num(rps):>10}"
                f"{num(opt(p.get('p50_ms')), 2):>9}"
                f"{num(opt(p.get('p99_ms')), 2):>9}"
                f"{num(opt(p.get('server_cpu_us'))):>8}{num(opt(p.get('envoy_cpu_us'))):>9}"
                f"{'' if system == 'mlserver' else times(versus_peer):>10}"
                f"{times(versus_noop) if system in ('service', 'noop-aio') else '':>8}"
            )
    return lines


def _batch_rows(f: Figures, bc: int, sizes: list[int]) -> list[str]:
    header = f"{f'records/s, c={bc}':<52}" + "".join(f"{n:>13,}" for n in sizes)
    lines = [header, "-" * len(header)]

    def row(label: str, values: list[float], fmt: Any = num) -> str:
        return f"{label:<52}" + "".join(f"{fmt(v):>13}" for v in values)

    for path, label in BATCH_ROWS:
        lines.append(row(label, [f.records_per_s("service", path, bc, n) for n in sizes]))
        lines.append(row("  × MLServer", [f.versus_peer(path, bc, n) for n in sizes], times))
        lines.append(
            row("  × transport ceiling", [f.versus_ceiling(path, bc, n) for n in sizes], times)
        )
    for path, label in BATCH_ROWS:
        values = [f.transport_ceiling(path, bc, n) for n in sizes]
        if any(not math.isnan(v) for v in values):
            lines.append(row(f"no-op: {label}", values))
    for path, label in PEER_ROWS:
        lines.append(row(label, [f.records_per_s("mlserver", path, bc, n) for n in sizes]))
    return lines


def _floor_rows(f: Figures, bc: int) -> list[str]:
    header = (
        f"{'in-process floors (ms per call)':<48}{'records':>9}{'decode':>9}{'predict':>9}"
        f"{'encode':>9}{'records/s':>15}{'× floor':>9}"
    )
    lines = [header, "-" * len(header)]
    for path, label in BATCH_ROWS:
        for n in (TEN_K, 100_000):
            floor = f.floor(path, n)
            if not floor:
                continue
            measured = ratio(f.records_per_s("service", path, bc, n), floor["records_per_s"])
            lines.append(
                f"{label:<48}{n:>9,}{floor['decode_ms']:>9.3f}{floor['predict_ms']:>9.3f}"
                f"{floor['encode_ms']:>9.3f}{num(floor['records_per_s']):>15}{times(measured):>9}"
            )
    if len(lines) == 2:
        lines.append("  not measured in this run")
    return lines


def _memory_rows(f: Figures) -> list[str]:
    lines = [f"{'memory (RSS, MiB) and start-up':<32}{'service':>12}{'MLServer':>12}{'ratio':>8}"]
    for label, mine, theirs, digits in (
        ("server RSS after load", f.memory("server"), f.memory("mlserver"), 1),
        ("server RSS idle", f.memory("server_idle"), f.memory("mlserver_idle"), 1),
        ("Envoy RSS after load", f.memory("envoy"), math.nan, 1),
        ("start-to-ready, server (s)", f.start("server"), f.start("mlserver"), 2),
        ("start-to-ready, stack (s)", f.start("stack"), math.nan, 2),
    ):
        lines.append(
            f"{'  ' + label:<32}{num(mine, digits):>12}{num(theirs, digits):>12}"
            f"{times(ratio(mine, theirs)):>8}"
        )
    return lines


def target_lines(targets: list[Target]) -> list[str]:
    lines = ["targets (verdicts on the per-CPU ratio where there is one; see docs/performance.md)"]
    for target in targets:
        mark = f"[{verdict(target):<10}]"
        op = "≤" if target.at_most else "≥"
        figures = times(target.measured) + f" {target.basis}"
        if target.basis != target.figure:
            figures += f", {times(target.ratio)} {target.figure}"
        if target.met is None:
            figures = "not measured in this run"
        lines.append(f"  {mark} {target.name}: {figures} ({op} {target.goal}×; {target.detail})")
    return lines


def render(results: Mapping[str, Any], batch_concurrency: int) -> str:
    f, bc = Figures(results), batch_concurrency
    lines: list[str] = []
    add = lines.append
    ceilings = results.get("ceilings", {})
    add(f"Ceilings, in process, {ceilings.get('records', TEN_K):,} records, pinned")
    for name, value in ceilings.get("records_per_s", {}).items():
        add(f"  {name:<34}{num(value):>18} records/s")
    add("")
    lines += _request_rows(f)
    add("")
    lines += _batch_rows(f, bc, batch_sizes(results, bc))
    add("")
    lines += _floor_rows(f, bc)
    add("")
    lines += _memory_rows(f)
    scaling = [p for p in results.get("points", []) if str(p["system"]).startswith("service-w")]
    if scaling:
        add("")
        add("requests/s against server processes behind Envoy, unpinned, c=32")
        for p in scaling:
            add(
                f"  {p['path']:<20} servers={p['system'].removeprefix('service-w'):<3}"
                f"{num(opt(p['requests_per_s'])):>10} req/s"
            )
    add("")
    lines += target_lines(evaluate(results, bc))
    points = results.get("points", [])
    for p in points:
        if p.get("error"):
            add(f"  ERROR {p['key']}: {p['error']}")
    busy = [p for p in points if (p.get("foreign_load") or 0) > FOREIGN_LOAD_WARNING]
    if busy:
        worst = max(busy, key=lambda p: p["foreign_load"])
        add(
            f"  warning: other processes used more than {FOREIGN_LOAD_WARNING:.0%} of the server "
            f"CPU during {len(busy)} of {len(points)} points (worst "
            f"{worst['foreign_load']:.0%}, {worst['key']}): compare those with care"
        )
    for note in results.get("notes", []):
        add(f"  note: {note}")
    return "\n".join(lines)
