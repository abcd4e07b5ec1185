"""Shadow and canary comparisons through the real servicers and store (no server): exact
counts, the caller's answer unchanged, a comparison that cannot be made counted and never
raised, and a guard that fires over its window writes the breach and reloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from model.guards import Guard, parse_expression
from model.models_cli import add_version
from model.repository import Labels, read_labels, write_labels
from server.comparisons import ComparisonTotals
from server.faces.oip_tensors import TensorSpec, output_values, tensor_batch
from server.faces.prediction_service import PredictionServicer
from server.guards import GuardWatch
from server.inference import Inference, Limits, ModelRef
from server.model_store import ModelStore
from server.rpc import CallObserver
from server.shadow import Shadows
from tests.support.artifacts import write_test_artifact

LIMITS = Limits(max_batch_records=1000, batch_chunk_records=100, max_receive_message_bytes=1 << 20)
NAME = "diabetes-test"
CONTEXT: Any = None
BMI = (-0.05, 0.0, 0.03, 0.06)


def repository(tmp_path: Path, labels: Labels, shadow_features: tuple[str, ...] = ("bmi",)) -> Path:
    root = tmp_path / "models"
    add_version(root, write_test_artifact(tmp_path / "v1.json", version="v1"))
    add_version(root, write_test_artifact(tmp_path / "v2.json", version="v2", scale=3.0))
    add_version(
        root, write_test_artifact(tmp_path / "v3.json", features=shadow_features, version="v3")
    )
    write_labels(root / NAME / "labels.json", labels)
    return root


def served(root: Path) -> tuple[PredictionServicer, Shadows, ModelStore]:
    store = ModelStore(root, NAME)
    shadows = Shadows(store)
    core = Inference(store, LIMITS, CallObserver(access_log=None), shadows)
    return PredictionServicer(core), shadows, store


def batch(version: str = "") -> pb.PredictBatchRequest:
    return pb.PredictBatchRequest(
        model=NAME, version=version, records=[pb.Record(bmi=v) for v in BMI], include_intervals=True
    )


def answers(servicer: PredictionServicer, version: str = "") -> list[bytes]:
    got = list(servicer.PredictBatch(batch(version), CONTEXT))  # reply wire bytes
    for bmi in BMI:
        request = pb.PredictRequest(model=NAME, version=version, record=pb.Record(bmi=bmi))
        got.append(servicer.Predict(request, CONTEXT).SerializeToString())
    return got


def test_a_shadow_is_compared_on_every_record_and_changes_no_answer(tmp_path: Path) -> None:
    plain, _, _ = served(repository(tmp_path / "a", Labels("v1")))
    servicer, shadows, store = served(repository(tmp_path / "b", Labels("v1", shadow="v2")))
    assert answers(servicer) == answers(plain)
    samples = shadows.totals.samples()
    pair = (NAME, "shadow", "v2", "v1")
    assert samples["compared"] == {pair: [2.0 * len(BMI)]}
    stable, shadow = store.resolve(NAME, "v1"), store.resolve(NAME, "v2")
    columns = [np.array(BMI)]
    diff = np.abs(shadow.predict_columns(columns) - stable.predict_columns(columns))
    assert samples["abs_sum"][pair][0] == pytest.approx(2 * diff.sum())
    assert samples["max_abs"][pair] == [pytest.approx(diff.max())]
    beyond = int((diff > stable.interval_half_width(columns)).sum())
    assert samples["beyond"][pair] == [2.0 * beyond]
    worst = samples["worst"]
    assert worst[(*pair, "1", "bmi")] == [BMI[int(diff.argmax())]]
    assert worst[(*pair, "1", "reference_prediction")] == [
        pytest.approx(stable.predict_columns(columns)[int(diff.argmax())])
    ]
    histogram = samples["diff"][pair]
    assert sum(histogram[:-1]) == 2 * len(BMI)  # every record in a bucket, then the sum
    signed = shadow.predict_columns(columns) - stable.predict_columns(columns)
    assert histogram[-1] == pytest.approx(2 * signed.sum())


def test_a_canary_is_compared_with_stable_on_the_calls_it_answers(tmp_path: Path) -> None:
    servicer, shadows, _ = served(repository(tmp_path, Labels("v1", "v2", 0.0)))
    answers(servicer)  # stable answers: nothing to compare
    assert shadows.totals.samples()["compared"] == {}
    answers(servicer, "canary")
    assert shadows.totals.samples()["compared"] == {(NAME, "canary", "v2", "v1"): [8.0]}


def test_a_shadow_that_cannot_be_compared_is_counted_and_the_call_answered(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path, Labels("v1", shadow="v3"), shadow_features=("bmi", "bp"))
    servicer, shadows, _ = served(root)
    plain = answers(served(repository(tmp_path / "plain", Labels("v1")))[0])
    assert answers(servicer) == plain
    samples = shadows.totals.samples()
    assert samples["errors"] == {(NAME,): [5.0]}  # one batch, four single records
    assert samples["compared"] == {}


def test_the_open_inference_path_compares_too(tmp_path: Path) -> None:
    store = ModelStore(repository(tmp_path, Labels("v1", shadow="v2")), NAME)
    shadows = Shadows(store)
    values = np.array(BMI)
    core = Inference(store, LIMITS, CallObserver(access_log=None), shadows)
    outputs = ("lower",)  # no predictions asked for: the core computes them all the same
    answer = core.batch(
        ModelRef(NAME, named=True),
        lambda model: tensor_batch(
            [TensorSpec("bmi", "FP64", (len(BMI),))], lambda index: values, model.features, outputs
        ),
    )
    assert list(output_values(answer, outputs)) == ["lower"]
    assert shadows.totals.samples()["compared"] == {(NAME, "shadow", "v2", "v1"): [4.0]}


def test_a_guard_fires_once_over_its_window_and_reloads(tmp_path: Path) -> None:
    guard = Guard((parse_expression("beyond_interval_share<0.05"),), 30.0, 8)
    root = repository(tmp_path, Labels("v1", "v2", 50.0, guard=guard))
    now = [1000.0]
    totals = ComparisonTotals(clock=lambda: now[0])
    store = ModelStore(root, NAME)
    shadows = Shadows(store, totals)
    servicer = PredictionServicer(Inference(store, LIMITS, CallObserver(access_log=None), shadows))
    watch = GuardWatch(store, totals)
    stable, canary = store.resolve(NAME, "v1"), store.resolve(NAME, "v2")
    far = [np.array([0.15])]  # where v2 (3 x v1's slope) leaves v1's interval
    assert (
        abs(canary.predict_columns(far) - stable.predict_columns(far))[0]
        > (stable.interval_half_width(far)[0])
    )
    request = pb.PredictRequest(model=NAME, version="canary", record=pb.Record(bmi=0.15))
    for _ in range(7):
        servicer.Predict(request, CONTEXT)
    assert watch.check() == []  # 7 compared: fewer than min_compared
    now[0] += 60  # those fall out of the 30 s window
    servicer.Predict(request, CONTEXT)
    assert watch.check() == []
    for _ in range(7):
        servicer.Predict(request, CONTEXT)
    (breach,) = watch.check()
    assert (breach.version, breach.figure, breach.value) == ("v2", "beyond_interval_share", 1.0)
    assert read_labels(root / NAME / "labels.json").canary_percent == 0.0
    assert store.repository.models[NAME].labels.canary_percent == 0.0  # reloaded at once
    assert watch.check() == []  # fired once
    fired = totals.samples()["breaches"]
    assert fired == {(NAME, "v2", "beyond_interval_share"): [1.0]}
