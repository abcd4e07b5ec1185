"""The same figures as the printed table, as Markdown tables for docs/performance.md:
`python -m bench --report bench/results/latest.json --markdown`.

A run that lacks a figure (an older run, or a point that failed) shows "-" for it; a row or
a table the run has no figure for at all says so in words (`missing`), never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.figures import TEN_K, Figures, opt, ratio
from bench.report import BATCH_ROWS, PEER_ROWS, REQUEST_PEER, REQUEST_ROWS, batch_sizes, num, times
from bench.targets import BULK_SIZES, evaluate, verdict

MISSING = "not measured in this run"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _row(
    label: str, values: Sequence[float], fmt: Callable[[float], str], missing: str
) -> list[str]:
    if values and all(math.isnan(v) for v in values):
        label = f"{label} ({missing})"
    return [label, *(fmt(v) for v in values)]


def _requests(f: Figures) -> list[str]:
    rows = []
    for system, path, label, kind in REQUEST_ROWS:
        for c in (1, 32):
            p = f.point(system, path, c, 1)
            rps = opt(p.get("requests_per_s"))
            noop = ("noop", "grpc-predict") if kind == "grpc" else ("noop-envoy", "json-stream")
            rows.append(
                [
                    label,
                    str(c),
                    num(rps),
                    num(opt(p.get("p50_ms")), 2),
                    num(opt(p.get("p99_ms")), 2),
                    num(opt(p.get("server_cpu_us"))),
                    num(opt(p.get("envoy_cpu_us"))),
                    ""
                    if system == "mlserver"
                    else times(ratio(rps, f.rps("mlserver", REQUEST_PEER[kind], c))),
                    times(ratio(rps, f.rps(*noop, c))) if system in ("service", "noop-aio") else "",
                ]
            )
    header = [
        "1 record per request",
        "concurrency",
        "req/s",
        "p50 ms",
        "p99 ms",
        "server CPU µs/req",
        "Envoy CPU µs/req",
        "× MLServer",
        "× no-op",
    ]
    return _table(header, rows)


def _batches(f: Figures, bc: int, sizes: list[int], missing: str) -> list[str]:
    size_header = [f"{n:,}" for n in sizes]
    # The ceilings are measured at the bulk sizes only.
    bulk = [n for n in BULK_SIZES if n in sizes] or list(BULK_SIZES)
    rates, ceilings, costs = [], [], []
    for path, label in BATCH_ROWS:
        rates.append(
            _row(label, [f.records_per_s("service", path, bc, n) for n in sizes], num, missing)
        )
        rates.append(["  × MLServer", *(times(f.versus_peer(path, bc, n)) for n in sizes)])
        rates.append(
            ["  × transport ceiling", *(times(f.versus_ceiling(path, bc, n)) for n in sizes)]
        )
        ceilings.append(_row(label, [f.transport_ceiling(path, bc, n) for n in bulk], num, missing))
        costs.append(
            _row(
                label,
                [f.cpu_ns_per_record("service", path, bc, n) for n in sizes],
                num,
                missing,
            )
        )
    for path, label in PEER_ROWS:
        rates.append(
            _row(label, [f.records_per_s("mlserver", path, bc, n) for n in sizes], num, missing)
        )
        costs.append(
            _row(label, [f.cpu_ns_per_record("mlserver", path, bc, n) for n in sizes], num, missing)
        )
    out = _table([f"records/s at concurrency {bc}", *size_header], rates)
    ceiling_header = [f"transport ceiling, records/s at concurrency {bc}"]
    out += _table([*ceiling_header, *(f"{n:,}" for n in bulk)], ceilings)
    out += _table(["CPU ns per record (server + Envoy)", *size_header], costs)
    return out


def _floors(f: Figures, bc: int, missing: str) -> list[str]:
    rows = []
    for path, label in BATCH_ROWS:
        for n in (TEN_K, 100_000):
            floor = f.floor(path, n)
            if floor:
                measured = f.records_per_s("service", path, bc, n)
                rows.append(
                    [
                        label,
                        f"{n:,}",
                        f"{floor['decode_ms']:.3f}",
                        f"{floor['predict_ms']:.3f}",
                        f"{floor['encode_ms']:.3f}",
                        num(floor["records_per_s"]),
                        times(ratio(measured, floor["records_per_s"])),
                    ]
                )
    if not rows:
        rows.append([missing, *("-" for _ in range(6))])
    header = [
        "in-process floor",
        "records",
        "decode ms",
        "predict ms",
        "encode ms",
        "records/s",
        "measured × floor",
    ]
    return _table(header, rows)


def _memory(f: Figures) -> list[str]:
    return _table(
        ["memory and start-up", "service", "MLServer", "ratio"],
        [
            [label, num(mine, digits), num(theirs, digits), times(ratio(mine, theirs))]
            for label, mine, theirs, digits in (
                ("server RSS after load, MiB", f.memory("server"), f.memory("mlserver"), 1),
                ("server RSS idle, MiB", f.memory("server_idle"), f.memory("mlserver_idle"), 1),
                ("Envoy RSS after load, MiB", f.memory("envoy"), math.nan, 1),
                ("start-to-ready, server, s", f.start("server"), f.start("mlserver"), 2),
                ("start-to-ready, stack, s", f.start("stack"), math.nan, 2),
            )
        ],
    )


def _scaling(results: Mapping[str, Any]) -> list[str]:
    scaling = [p for p in results.get("points", []) if str(p["system"]).startswith("service-w")]
    if not scaling:
        return []
    return _table(
        ["unpinned, concurrency 32", "processes", "req/s", "server CPU µs/req"],
        [
            [
                str(p["path"]),
                str(p["system"]).removeprefix("service-w"),
                num(opt(p["requests_per_s"])),
                num(opt(p["server_cpu_us"])),
            ]
            for p in scaling
        ],
    )


def _targets(results: Mapping[str, Any], bc: int, missing: str) -> list[str]:
    rows = []
    for t in evaluate(results, bc):
        word = verdict(t, missing)
        rows.append(
            [
                t.name,
                f"{'≤' if t.at_most else '≥'} {t.goal}×",
                times(t.cpu_ratio),
                times(t.ratio),
                word if t.met is not False else f"**{word}**",
                t.basis if t.met is not None else "",
            ]
        )
    header = ["target", "goal", "per CPU-second", "requests/s", "verdict", "verdict on"]
    return _table(header, rows)


def render_markdown(
    results: Mapping[str, Any], batch_concurrency: int, missing: str = MISSING
) -> str:
    f, bc = Figures(results), batch_concurrency
    out = _requests(f)
    out += _batches(f, bc, batch_sizes(results, bc), missing)
    out += _floors(f, bc, missing)
    out += _memory(f)
    out += _scaling(results)
    out += _targets(results, bc, missing)
    return "\n".join(out)
