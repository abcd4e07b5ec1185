"""The benchmark's arithmetic: targets, ratios, verdicts and the tables, from a hand-made run."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from bench.markdown import render_markdown
from bench.points import Point, failed_point
from bench.report import Figures, Target, evaluate, ratio, render
from bench.targets import verdict

BATCH_C = 4
TEN_K, HUNDRED_K = 10_000, 100_000
COMMITTED = "not measured in the committed run"


def _point(
    system: str,
    path: str,
    c: int,
    n: int,
    rps: float,
    *,
    p99: float = 1.0,
    cpu: float | None = None,
    rounds: tuple[float, ...] = (),
) -> dict[str, Any]:
    """A point whose CPU per request is what the rate means on one CPU, unless given."""
    cpu_us = 1e6 / rps if cpu is None else cpu
    point = Point(system, path, c, n, rps, 0.5, p99, cpu_us, None, 0, round_cpu_us=rounds)
    return point.to_json()


def _results() -> dict[str, Any]:
    points = [
        _point("service", "json-stream", 32, 1, 3_000),
        _point("mlserver", "rest-infer", 32, 1, 1_000),
        _point("noop-envoy", "json-stream", 32, 1, 3_100),
        _point("service", "grpc-predict", 32, 1, 4_000),
        _point("mlserver", "grpc-infer", 32, 1, 1_000),
        _point("noop", "grpc-predict", 32, 1, 5_000),
        _point("service", "grpc-predict", 1, 1, 2_000, p99=1.0),
        _point("mlserver", "grpc-infer", 1, 1, 1_000, p99=4.0),
        _point("service", "json-stream", 1, 1, 1_000, p99=3.0),
        _point("mlserver", "rest-infer", 1, 1, 1_000, p99=4.0),
        _point("service", "grpc-batch-records", BATCH_C, TEN_K, 100),
        _point("noop", "grpc-batch-records", BATCH_C, TEN_K, 400),
        _point("service", "grpc-batch-columns", BATCH_C, TEN_K, 500),
        _point("noop", "grpc-batch-columns", BATCH_C, TEN_K, 550),
        _point("mlserver", "grpc-infer", BATCH_C, TEN_K, 200),
        failed_point("service", "json-batch", BATCH_C, TEN_K, "wrong answer").to_json(),
        _point("noop-envoy", "json-batch", BATCH_C, TEN_K, 300),
        _point("service", "json-batch-columns", BATCH_C, TEN_K, 150),
        _point("noop-envoy", "json-batch-columns", BATCH_C, TEN_K, 300),
        _point("mlserver", "rest-infer", BATCH_C, TEN_K, 200),
        # Ten features: against MLServer's ten-feature model, not its BMI one.
        _point("service", "json-batch-all10", BATCH_C, TEN_K, 40),
        _point("mlserver", "rest-infer-all10", BATCH_C, TEN_K, 20),
    ]
    return {
        "points": points,
        "memory_mib": {"server": 50.0, "mlserver": 200.0},
        "start_to_ready_s": {"server": {"median": 0.3}, "mlserver": {"median": 3.0}},
        "ceilings": {
            "records": TEN_K,
            "records_per_s": {"protobuf_columns": 1e9},
            "floors": {
                "json-batch-columns": {
                    str(TEN_K): {
                        "decode_ms": 0.4,
                        "predict_ms": 0.01,
                        "encode_ms": 0.4,
                        "records_per_s": 12e6,
                    }
                }
            },
        },
    }


def _by_name(targets: list[Target]) -> dict[str, Target]:
    return {t.name: t for t in targets}


def _targets(results: dict[str, Any] | None = None) -> dict[str, Target]:
    return _by_name(evaluate(results or _results(), BATCH_C))


def test_per_call_targets_compare_the_right_figures() -> None:
    targets = _targets()
    stream = targets["JSON POST /stream via Envoy, c=32: req/s vs MLServer REST"]
    assert stream.ratio == 3.0
    assert stream.met is True
    versus_noop = targets["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert versus_noop.ratio == 0.8
    assert versus_noop.met is False
    versus_envoy = targets["JSON POST /stream via Envoy, c=32: req/s vs the no-op behind Envoy"]
    assert versus_envoy.goal == 0.95
    assert versus_envoy.ratio == 3_000 / 3_100
    assert versus_envoy.met is True


def test_every_bulk_face_has_a_target_at_both_sizes() -> None:
    targets = _targets()
    for face, goal in (
        ("gRPC PredictBatch, records form", 2.0),
        ("gRPC PredictBatch, columns form", 3.5),
        ("JSON POST /batch", 1.0),
        ("JSON POST /batch/columns", 1.5),
        ("V2 REST /infer via Envoy", 1.5),
        ("V2 gRPC ModelInfer via Envoy", 2.5),
    ):
        for n in ("10,000", "100,000"):
            peer = [t for t in targets if t.startswith(f"{face}, {n} records: records/s vs ML")]
            assert len(peer) == 1
            assert targets[peer[0]].goal == goal
            ceiling = targets[f"{face}, {n} records: records/s vs its transport ceiling"]
            assert ceiling.goal == 0.8


def test_bulk_targets_compare_each_face_with_mlserver_and_its_ceiling() -> None:
    targets = _targets()
    records = targets["gRPC PredictBatch, records form, 10,000 records: records/s vs MLServer gRPC"]
    assert records.ratio == 0.5
    assert records.met is False
    columns = targets["gRPC PredictBatch, columns form, 10,000 records: records/s vs MLServer gRPC"]
    assert columns.ratio == 2.5
    ceiling = targets[
        "gRPC PredictBatch, columns form, 10,000 records: records/s vs its transport ceiling"
    ]
    assert ceiling.ratio == 500 / 550
    assert ceiling.met is True
    json_ceiling = targets[
        "JSON POST /batch/columns, 10,000 records: records/s vs its transport ceiling"
    ]
    assert json_ceiling.ratio == 0.5  # against the no-op behind Envoy, not the grpcio one


def test_a_failed_point_gives_no_verdict() -> None:
    targets = _targets()
    json_batch = targets["JSON POST /batch, 10,000 records: records/s vs MLServer REST"]
    assert math.isnan(json_batch.ratio)
    assert json_batch.met is None
    assert verdict(json_batch) == "n/a"
    assert verdict(json_batch, COMMITTED) == COMMITTED


def test_ten_feature_points_compare_with_the_ten_feature_peer() -> None:
    f = Figures(_results())
    assert f.versus_peer("json-batch-all10", BATCH_C, TEN_K) == 2.0
    assert f.versus_peer("json-batch-columns", BATCH_C, TEN_K) == 0.75  # the BMI peer
    assert math.isnan(f.versus_peer("grpc-batch-records-all10", BATCH_C, TEN_K))


def test_the_verdict_is_on_the_per_cpu_ratio_when_there_is_one() -> None:
    results = _results()
    # A busy machine halved the service's rate in its round, but not its CPU per call.
    results["points"] = [
        _point("service", "grpc-predict", 32, 1, 2_000, cpu=100.0),
        _point("noop", "grpc-predict", 32, 1, 5_000, cpu=95.0),
    ]
    target = _targets(results)["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert target.ratio == 0.4
    assert target.cpu_ratio == 0.95
    assert target.basis == "per CPU-second"
    assert target.measured == 0.95
    assert target.met is True


def test_the_cpu_figure_is_the_median_of_the_rounds() -> None:
    results = _results()
    results["points"] = [
        _point("service", "grpc-predict", 32, 1, 4_000, cpu=50.0, rounds=(100.0, 400.0, 110.0)),
        _point("noop", "grpc-predict", 32, 1, 5_000, cpu=99.0),
    ]
    assert Figures(results).cpu_us("service", "grpc-predict", 32) == 110.0
    target = _targets(results)["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert target.cpu_ratio == 0.9
    assert target.met is True
    assert target.close is True
    assert verdict(target) == "met, close"


def test_without_cpu_figures_the_verdict_is_on_the_rate() -> None:
    results = _results()
    service = dict(_point("service", "grpc-predict", 32, 1, 4_000), server_cpu_us=None)
    results["points"] = [service, _point("noop", "grpc-predict", 32, 1, 5_000)]
    target = _targets(results)["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert math.isnan(target.cpu_ratio)
    assert target.basis == "requests/s"
    assert target.met is False
    assert target.close is False


def test_lower_is_better_targets() -> None:
    targets = _targets()
    assert targets["p99 at c=1, gRPC Predict vs MLServer gRPC"].met is True
    assert targets["p99 at c=1, JSON /stream via Envoy vs MLServer REST"].met is False
    assert targets["server RSS vs MLServer RSS (after load)"].ratio == 0.25
    assert targets["start-to-ready vs MLServer (median)"].met is True
    assert targets["start-to-ready vs MLServer (median)"].basis == "seconds"


def test_missing_figures_are_neither_met_nor_missed() -> None:
    results = _results()
    results["points"] = [p for p in results["points"] if p["system"] != "noop"]
    target = _targets(results)["gRPC Predict, c=32: req/s vs no-op grpcio server"]
    assert math.isnan(target.ratio)
    assert target.met is None


def test_ratio_of_missing_or_zero_is_nan() -> None:
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))
    assert ratio(3.0, 2.0) == 1.5


def test_target_json_carries_the_verdict_and_its_basis() -> None:
    target = Target("t", 0.5, 1.0, False, "d", cpu_ratio=1.02)
    assert target.to_json() | {"name": "t"} == {
        **dataclasses.asdict(target),
        "basis": "per CPU-second",
        "measured": 1.02,
        "met": True,
        "close": True,
    }


def test_table_shows_figures_ratios_ceilings_and_verdicts() -> None:
    table = render(_results(), BATCH_C)
    assert "gRPC Predict, direct" in table
    assert "4.00×" in table  # gRPC Predict c=32 against MLServer gRPC
    assert (
        "[MISSED    ] gRPC Predict, c=32: req/s vs no-op grpcio server: 0.80× per CPU-second"
        in table
    )
    assert "[met, close] JSON POST /stream via Envoy, c=32: req/s vs MLServer REST" in table
    assert "ERROR service:json-batch:c4:n10000: wrong answer" in table
    assert "no-op: gRPC PredictBatch, columns" in table
    floors = table.split("in-process floors")[1].splitlines()
    floor_row = next(line for line in floors if line.startswith("JSON POST /batch/columns"))
    assert floor_row.split()[-1] == "0.12×"  # 1.5M records/s against a 12M floor
    assert "not measured in this run" in table  # the 100,000-record targets


def test_markdown_tables_carry_the_same_verdicts_and_say_what_is_missing() -> None:
    text = render_markdown(_results(), BATCH_C, COMMITTED)
    assert "| gRPC Predict, direct | 32 | 4,000 |" in text
    assert (
        "| gRPC PredictBatch, records form, 10,000 records: records/s vs MLServer gRPC "
        "| ≥ 2.0× | 0.50× | 0.50× | **MISSED** | per CPU-second |"
    ) in text
    assert (
        "| JSON POST /batch, 100,000 records: records/s vs MLServer REST | ≥ 1.0× | - | - | "
        f"{COMMITTED} |"
    ) in text
    assert f"| V2 REST /infer, via Envoy ({COMMITTED}) |" in text
    assert (
        "| JSON POST /batch/columns | 10,000 | 0.400 | 0.010 | 0.400 | 12,000,000 | 0.12× |" in text
    )


def test_markdown_of_a_run_without_ceilings_or_floors_renders_and_says_so() -> None:
    results = _results()
    results["points"] = [p for p in results["points"] if not p["system"].startswith("noop")]
    del results["ceilings"]
    text = render_markdown(results, BATCH_C, COMMITTED)
    assert f"| {COMMITTED} | - | - | - | - | - | - |" in text  # the floors table
    assert f"| gRPC PredictBatch, columns ({COMMITTED}) | - |" in text  # the ceilings table
