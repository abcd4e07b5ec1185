"""The same figures as the printed table, as Markdown tables for docs/performance.md:
`python -m bench --report bench/results/latest.json --markdown`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from bench.report import BATCH_ROWS, PEER_PATH, REQUEST_ROWS, Figures, _num, _opt, _times, ratio


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(results: Mapping[str, Any], batch_concurrency: int) -> str:
    f = Figures(results)
    bc = batch_concurrency
    out: list[str] = []
    rows = []
    for system, path, label, kind in REQUEST_ROWS:
        for c in (1, 32):
            p = f.point(system, path, c, 1)
            rps = _opt(p.get("requests_per_s"))
            noop = ("noop", "grpc-predict") if kind == "grpc" else ("noop-envoy", "json-stream")
            rows.append(
                [
                    label,
                    str(c),
                    _num(rps),
                    _num(_opt(p.get("p50_ms")), 2),
                    _num(_opt(p.get("p99_ms")), 2),
                    _num(_opt(p.get("server_cpu_us"))),
                    _num(_opt(p.get("envoy_cpu_us"))),
                    ""
                    if system == "mlserver"
                    else _times(ratio(rps, f.rps("mlserver", PEER_PATH[kind], c))),
                    _times(ratio(rps, f.rps(*noop, c)))
                    if system in ("service", "noop-aio")
                    else "",
                ]
            )
    out += _table(
        [
            "1 record per request",
            "concurrency",
            "req/s",
            "p50 ms",
            "p99 ms",
            "server CPU µs/req",
            "Envoy CPU µs/req",
            "× MLServer",
            "× no-op",
        ],
        rows,
    )
    sizes = sorted({int(p["records"]) for p in results["points"] if p["concurrency"] == bc})
    rate_rows, cost_rows = [], []
    for system, path, label, kind, _ceiling in BATCH_ROWS:
        rate_rows.append([label, *(_num(f.records_per_s(system, path, bc, n)) for n in sizes)])
        if system == "service":
            rate_rows.append(
                [
                    "  × MLServer",
                    *(
                        _times(
                            ratio(
                                f.records_per_s(system, path, bc, n),
                                f.records_per_s("mlserver", PEER_PATH[kind], bc, n),
                            )
                        )
                        for n in sizes
                    ),
                ]
            )
        cost_rows.append([label, *(_num(f.cpu_us(system, path, bc, n) * 1000 / n) for n in sizes)])
    size_header = [f"{n:,}" for n in sizes]
    out += _table([f"records/s at concurrency {bc}", *size_header], rate_rows)
    out += _table(["CPU ns per record (server + Envoy)", *size_header], cost_rows)
    out += _table(
        ["memory and start-up", "service", "MLServer", "ratio"],
        [
            [label, _num(mine, digits), _num(theirs, digits), _times(ratio(mine, theirs))]
            for label, mine, theirs, digits in (
                ("server RSS after load, MiB", f.memory("server"), f.memory("mlserver"), 1),
                ("server RSS idle, MiB", f.memory("server_idle"), f.memory("mlserver_idle"), 1),
                ("Envoy RSS after load, MiB", f.memory("envoy"), math.nan, 1),
                ("start-to-ready, server, s", f.start("server"), f.start("mlserver"), 2),
                ("start-to-ready, stack, s", f.start("stack"), math.nan, 2),
            )
        ],
    )
    scaling = [p for p in results["points"] if str(p["system"]).startswith("service-w")]
    if scaling:
        out += _table(
            ["unpinned, concurrency 32", "processes", "req/s", "server CPU µs/req"],
            [
                [
                    str(p["path"]),
                    str(p["system"]).removeprefix("service-w"),
                    _num(_opt(p["requests_per_s"])),
                    _num(_opt(p["server_cpu_us"])),
                ]
                for p in scaling
            ],
        )
    target_rows = []
    for t in results.get("targets", []):
        verdict = {True: "met", False: "**missed**", None: "n/a"}[t["met"]]
        goal = f"{'≤' if t['at_most'] else '≥'} {t['goal']}×"
        per_cpu = _times(_opt(t.get("cpu_ratio")))
        target_rows.append([t["name"], goal, _times(_opt(t["ratio"])), per_cpu, verdict])
    out += _table(["target", "goal", "measured", "per CPU-second", "verdict"], target_rows, 1)
    return "\n".join(out)
