"""The benchmark's arithmetic: targets, ratios and the table, from a hand-made run."""

from __future__ import annotations

import math
from typing import Any

from bench.markdown import render_markdown
from bench.points import Point, failed_point
from bench.report import Target, evaluate, ratio, render

BATCH_C = 4


def _point(system: str, path: str, c: int, n: int, rps: float, p99: float = 1.0) -> dict[str, Any]:
    return Point(system, path, c, n, rps, 0.5, p99, 100.0, None, 0).to_json()


def _results() -> dict[str, Any]:
    points = [
        _point("service", "json-stream", 32, 1, 3_000),
        _point("mlserver", "rest-infer", 32, 1, 1_000),
        _point("service", "grpc-predict", 32, 1, 4_000),
        _point("mlserver", "grpc-infer", 32, 1, 1_000),
        _point("noop", "grpc-predict", 32, 1, 5_000),
        _point("service", "grpc-predict", 1, 1, 2_000, p99=1.0),
        _point("mlserver", "grpc-infer", 1, 1, 1_000, p99=4.0),
        _point("service", "json-stream", 1, 1, 1_000, p99=3.0),
        _point("mlserver", "rest-infer", 1, 1, 1_000, p99=4.0),
        _point("service", "grpc-batch-records", BATCH_C, 10_000, 100),
        _point("service", "grpc-batch-columns", BATCH_C, 10_000, 500),
        _point("mlserver", "grpc-infer", BATCH_C, 10_000, 200),
        failed_point("service", "json-batch", BATCH_C, 10_000, "wrong answer").to_json(),
        _point("service", "json-batch-columns", BATCH_C, 10_000, 150),
        _point("mlserver", "rest-infer", BATCH_C, 10_000, 200),
    ]
    return {
        "points": points,
        "memory_mib": {"server": 50.0, "mlserver": 200.0},
        "start_to_ready_s": {"server": {"median": 0.3}, "mlserver": {"median": 3.0}},
        "ceilings": {"records": 10_000, "records_per_s": {"protobuf_columns": 1e9}},
    }


def _by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name: t for t in targets}


def test_targets_compare_the_right_figures() -> None:
    targets = _by_name(evaluate(_results(), BATCH_C))
    stream = targets["JSON POST /stream via Envoy, c=32: req/s vs MLServer REST"]
    assert stream.ratio == 3.0
    assert stream.met is True
    versus_noop = targets["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert versus_noop.ratio == 0.8
    assert versus_noop.met is False


def test_batch_targets_take_the_best_form_and_skip_failed_points() -> None:
    targets = _by_name(evaluate(_results(), BATCH_C))
    grpc_batch = targets["10,000-record batch, gRPC: records/s vs MLServer gRPC"]
    assert grpc_batch.ratio == 2.5
    assert "grpc-batch-columns" in grpc_batch.detail
    json_batch = targets["10,000-record batch, JSON: records/s vs MLServer REST"]
    assert json_batch.ratio == 0.75  # /batch failed, so /batch/columns is the figure
    assert json_batch.met is False


def test_lower_is_better_targets() -> None:
    targets = _by_name(evaluate(_results(), BATCH_C))
    assert targets["p99 at c=1, gRPC Predict vs MLServer gRPC"].met is True
    assert targets["p99 at c=1, JSON /stream via Envoy vs MLServer REST"].met is False
    assert targets["server RSS vs MLServer RSS (after load)"].ratio == 0.25
    assert targets["start-to-ready vs MLServer (median)"].met is True


def test_missing_figures_are_neither_met_nor_missed() -> None:
    results = _results()
    results["points"] = [p for p in results["points"] if p["system"] != "noop"]
    target = _by_name(evaluate(results, BATCH_C))[
        "gRPC Predict, c=32: req/s vs no-op grpcio server"
    ]
    assert math.isnan(target.ratio)
    assert target.met is None


def test_ratio_of_missing_or_zero_is_nan() -> None:
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))
    assert ratio(3.0, 2.0) == 1.5


def test_table_shows_figures_ratios_and_verdicts() -> None:
    results = _results()
    results["targets"] = [t.to_json() for t in evaluate(results, BATCH_C)]
    table = render(results, BATCH_C)
    assert "gRPC Predict, direct" in table
    assert "4.00×" in table  # gRPC Predict c=32 against MLServer gRPC
    assert "[MISSED] gRPC Predict, c=32: req/s vs no-op grpcio server: 0.80×" in table
    assert "[met   ] JSON POST /stream via Envoy" in table
    assert "ERROR service:json-batch:c4:n10000: wrong answer" in table


def test_markdown_tables_carry_the_same_verdicts() -> None:
    results = _results()
    results["targets"] = [t.to_json() for t in evaluate(results, BATCH_C)]
    text = render_markdown(results, BATCH_C)
    assert "| gRPC Predict, direct | 32 | 4,000 |" in text
    assert "| 10,000-record batch, JSON: records/s vs MLServer REST | ≥ 1.0× | 0.75× |" in text
    assert "**missed**" in text
