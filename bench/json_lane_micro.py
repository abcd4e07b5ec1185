"""`python -m bench.json_lane_micro`: the JSON lane's per-call server work, in process,
stage by stage, beside a frozen copy of an earlier lane (`--baseline REV`, read from git
at run time) and beside a trivial reference (msgspec's untyped decode + `np.array`, no
checks), all in the same run. Best of N; only ratios mean anything on a shared machine.

Stages: `request parse` (the gRPC request from its wire bytes), `decode` (body to
Python objects), `to columns` (objects to checked numpy columns), `decode+columns`
(both, as the servicer runs them), `predict`, `answer` (the reply messages from the
core's answer: the pieces' bytes in HttpBody messages),
`reply serialize` (the HttpBody messages to wire bytes), `whole method` (the servicer
method wrapped by the call observer with metrics, as registered, from the request
message to the last reply message). One more row weighs `POST /stream`'s server work:
the typed `Predict` (baseline column) against the lane's `PredictJsonRecord` (current).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import inspect
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import msgspec
import numpy as np
import orjson
from google.api import httpbody_pb2

from bench import payloads
from diabetes.v1 import json_pb2
from diabetes.v1 import prediction_pb2 as pb
from model.artifact import BUNDLED_ARTIFACT, FeatureStats, LinearModel, load_artifact
from model.features import FEATURE_NAMES
from server.faces.json_lane import columns as lane_columns
from server.faces.json_lane import encode as lane_encode
from server.faces.json_lane import schema as lane_schema
from server.faces.json_lane import servicer as lane_servicer
from server.faces.prediction_service import PredictionServicer
from server.inference import BatchAnswer, Inference, Limits
from server.metrics.recorder import ServerMetrics
from server.model_store import ModelStore
from server.rpc import CallObserver
from server.validation import checked_columns

ROOT = Path(__file__).resolve().parent.parent
# The lane as last committed: a change in the working tree is measured against it. An older
# revision works while the modules the lane imports (inference, validation, rpc) still fit it.
BASELINE_REV = "HEAD"
LANE_MODULES = ("schema", "columns", "encode", "servicer")
LIMITS = Limits(
    max_batch_records=100_000, batch_chunk_records=10_000, max_receive_message_bytes=64 << 20
)

Stages = dict[str, Callable[[], object]]


@dataclass(frozen=True)
class Case:
    name: str
    route: str  # "records" or "columns"
    body: bytes
    model: LinearModel


def baseline_lane(rev: str, into: Path) -> dict[str, Any]:
    """The lane's modules as they were at `rev`, importable as `json_lane_baseline.*`."""
    package = into / "json_lane_baseline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in LANE_MODULES:
        shown = subprocess.run(
            ["git", "show", f"{rev}:server/faces/json_lane/{name}.py"],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if shown.returncode != 0:
            raise SystemExit(
                f"the baseline {rev} has no server/faces/json_lane/{name}.py "
                f"({shown.stderr.strip()[:200]}); pass --baseline with a revision that has "
                "the lane's modules"
            )
        source = shown.stdout
        source = source.replace("server.faces.json_lane.", "json_lane_baseline.")
        (package / f"{name}.py").write_text(source)
    sys.path.insert(0, str(into))
    return {name: importlib.import_module(f"json_lane_baseline.{name}") for name in LANE_MODULES}


def current_lane() -> dict[str, Any]:
    return {
        "schema": lane_schema,
        "columns": lane_columns,
        "encode": lane_encode,
        "servicer": lane_servicer,
    }


def ten_feature_model(bmi_model: LinearModel) -> LinearModel:
    """A model of all ten features (made up coefficients; the arithmetic is what counts)."""
    p = len(FEATURE_NAMES)
    stats = FeatureStats(mean=0.0, std=0.05, min=-0.2, max=0.2)
    identity = tuple(tuple(float(i == j) for j in range(p)) for i in range(p))
    return dataclasses.replace(
        bmi_model,
        features=tuple(FEATURE_NAMES),
        coefficients=np.linspace(-500.0, 500.0, p),
        feature_stats=(stats,) * p,
        interval=dataclasses.replace(bmi_model.interval, xtx_inv_centered=identity),
    )


class _OneModel:
    """A store serving one model to every call: the baseline's `current` and the
    repository's `resolve` alike."""

    def __init__(self, model: LinearModel) -> None:
        self.current = model

    def resolve(self, model: str = "", version: str = "") -> LinearModel:
        return self.current


def request_of(case: Case) -> Any:
    message = (
        json_pb2.PredictJsonRecordsRequest
        if case.route == "records"
        else json_pb2.PredictJsonColumnsRequest
    )
    return message(body=httpbody_pb2.HttpBody(content_type="application/json", data=case.body))


def lane_stages(lane: dict[str, Any], case: Case) -> Stages:
    """The stages of one implementation, called as its servicer calls them."""
    schema = lane["schema"].JsonSchema.from_contract()
    columns_mod = lane["columns"]
    features, limit = case.model.features, LIMITS.max_batch_records
    store = cast(ModelStore, _OneModel(case.model))
    observer = CallObserver(access_log=None, metrics=ServerMetrics(registry=None))
    servicer = lane["servicer"].JsonPredictionServicer(Inference(store, LIMITS, observer), schema)
    request = request_of(case)
    wire = request.SerializeToString()
    method_name = "PredictJsonRecords" if case.route == "records" else "PredictJsonColumns"
    method = observer.unary_stream(method_name, getattr(servicer, method_name))

    if case.route == "records":
        takes_features = "features" in inspect.signature(schema.decode_records).parameters

        def decode() -> object:
            if takes_features:
                return schema.decode_records(case.body, limit, features)
            return schema.decode_records(case.body, limit)

        def to_columns(decoded: Any) -> Any:
            batch = columns_mod.record_columns(decoded, features, False)
            return checked_columns(batch, case.model.input_limit, limit)
    else:

        def decode() -> object:
            return schema.decode_columns(case.body, limit)

        def to_columns(decoded: Any) -> Any:
            batch = columns_mod.given_columns(decoded, features, False)
            return checked_columns(batch, case.model.input_limit, limit)

    decoded = decode()
    columns = to_columns(decoded)
    predictions = case.model.predict_columns(columns)

    batch_answer = BatchAnswer(case.model, columns, predictions, None, None)

    def answer() -> list[Any]:
        # As the servicer writes it (the pieces' bytes and their HttpBody messages), which
        # every revision since the inference core takes the same way.
        return list(servicer._answer(batch_answer))

    replies = list(method(request, None))

    return {
        "request parse": lambda: type(request).FromString(wire),
        "decode": decode,
        "to columns": lambda: to_columns(decoded),
        "decode+columns": lambda: to_columns(decode()),
        "predict": lambda: case.model.predict_columns(columns),
        "answer": answer,
        "reply serialize": lambda: [reply.SerializeToString() for reply in replies],
        "whole method": lambda: _drain(method(request, None)),
    }


def reference_stages(case: Case) -> Stages:
    """The least any lane could do: untyped decode and arrays, no checks; the answer as
    one orjson-encoded array, straight from numpy."""
    features = case.model.features

    def columns() -> list[Any]:
        decoded = msgspec.json.decode(case.body)
        if case.route == "records":
            return [np.array([record[name] for record in decoded]) for name in features]
        return [np.array(decoded[name]) for name in features]

    predictions = case.model.predict_columns(columns())
    return {
        "decode+columns": columns,
        "answer": lambda: orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY),
    }


def _hundred(call: Callable[[], object]) -> None:
    for _ in range(100):
        call()


def _drain(replies: Iterator[Any]) -> int:
    return sum(1 for _ in replies)


def best_seconds(run: Callable[[], object], repeats: int, budget: float) -> float:
    best = float("inf")
    started = time.perf_counter()
    for done in range(repeats):
        begin = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - begin)
        if done >= 2 and time.perf_counter() - started > budget:
            break
    return best


def measure(
    cases: Sequence[Case], baseline: dict[str, Any], repeats: int, budget: float
) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        sides = {
            "baseline": lane_stages(baseline, case),
            "current": lane_stages(current_lane(), case),
            "reference": reference_stages(case),
        }
        for stage in sides["baseline"]:
            # Interleaved rounds: a burst of noise hits every side alike.
            times: dict[str, float] = {}
            for _ in range(3):
                for side, stages in sides.items():
                    if stage in stages:
                        seconds = best_seconds(stages[stage], repeats, budget)
                        times[side] = min(times.get(side, seconds), seconds)
            rows.append({"case": case.name, "stage": stage, **times})
    return rows


def single_record_row(repeats: int, budget: float) -> dict[str, Any]:
    """`POST /stream`'s server work, request bytes to reply bytes: the typed `Predict` that
    Envoy's transcoder calls (protobuf both ways; Envoy's own JSON work not included) as
    "baseline", the lane's `PredictJsonRecord` (JSON bytes both ways) as "current"."""
    model = load_artifact(BUNDLED_ARTIFACT)
    store = ModelStore(BUNDLED_ARTIFACT)
    observer = CallObserver(access_log=None, metrics=ServerMetrics(registry=None))
    core = Inference(store, LIMITS, observer)
    typed = PredictionServicer(core)
    lane = lane_servicer.JsonPredictionServicer(core, lane_schema.JsonSchema.from_contract())
    predict = observer.unary_unary("Predict", typed.Predict)
    predict_json = observer.unary_unary("PredictJsonRecord", lane.PredictJsonRecord)
    typed_wire = pb.PredictRequest(record=pb.Record(bmi=payloads.SINGLE_BMI)).SerializeToString()
    lane_wire = json_pb2.PredictJsonRecordRequest(
        body=httpbody_pb2.HttpBody(data=payloads.json_record())
    ).SerializeToString()

    def typed_call() -> bytes:
        reply: bytes = predict(pb.PredictRequest.FromString(typed_wire), None).SerializeToString()
        return reply

    def lane_call() -> bytes:
        request = json_pb2.PredictJsonRecordRequest.FromString(lane_wire)
        reply: bytes = predict_json(request, None).SerializeToString()
        return reply

    assert model.features == ("bmi",)
    times: dict[str, float] = {}
    for _ in range(3):
        for side, call in (("baseline", typed_call), ("current", lane_call)):
            seconds = best_seconds(functools.partial(_hundred, call), repeats, budget) / 100
            times[side] = min(times.get(side, seconds), seconds)
    return {"case": "record 1 (/stream)", "stage": "typed vs lane", **times}


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    head = (
        f"{'case':<22} {'stage':<16} {'baseline ms':>11} {'current ms':>10} "
        f"{'baseline/current':>16} {'reference/current':>17}"
    )
    print(head)
    print("-" * len(head))
    for row in rows:
        base, mine = row["baseline"], row["current"]
        reference = row.get("reference")
        versus = f"{reference / mine:17.2f}" if reference else f"{'':17}"
        print(
            f"{row['case']:<22} {row['stage']:<16} {base * 1e3:11.3f} {mine * 1e3:10.3f} "
            f"{base / mine:15.2f}x {versus}"
        )
    print(
        "\nbaseline/current > 1: the current lane is faster. reference/current: the current "
        "lane's speed relative to an unchecked msgspec.decode + np.array (1 = as fast)."
    )


def build_cases(only: Sequence[str]) -> list[Case]:
    bmi = load_artifact(BUNDLED_ARTIFACT)
    ten = ten_feature_model(bmi)
    cases = [
        Case("records 10k bmi", "records", payloads.json_records(10_000), bmi),
        Case("records 100k bmi", "records", payloads.json_records(100_000), bmi),
        Case("records 10k all-ten", "records", payloads.json_records_all_features(10_000), ten),
        Case("columns 10k bmi", "columns", payloads.json_columns(10_000), bmi),
        Case("columns 100k bmi", "columns", payloads.json_columns(100_000), bmi),
    ]
    return [case for case in cases if not only or any(word in case.name for word in only)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.json_lane_micro", description=__doc__)
    parser.add_argument(
        "--baseline", default=BASELINE_REV, help="git revision of the lane to compare with"
    )
    parser.add_argument("--repeats", type=int, default=15, help="best of this many per round")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per stage and round")
    parser.add_argument(
        "--only", action="append", default=[], help="cases whose name contains this"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        baseline = baseline_lane(args.baseline, Path(scratch))
        rows = measure(build_cases(args.only), baseline, args.repeats, args.budget)
    if not args.only or any(word in "record 1 (/stream)" for word in args.only):
        rows.append(single_record_row(args.repeats, args.budget))
    print_table(rows)


if __name__ == "__main__":
    main()
