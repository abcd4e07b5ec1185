"""Every RPC against the real server over a real channel; numbers equal the model's."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from tests.integration.conftest import BATCH_LIMIT, CHUNK


def random_inputs(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.05, size=(count, 2))


def collect(replies: list[pb.PredictBatchResponse]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    offsets = [reply.offset for reply in replies]
    assert offsets == sorted(offsets)
    predictions = np.concatenate([np.array(reply.predictions) for reply in replies])
    lower = np.concatenate([np.array(reply.lower) for reply in replies])
    upper = np.concatenate([np.array(reply.upper) for reply in replies])
    return predictions, lower, upper


def test_predict_equals_model_exactly(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    for bmi, bp in random_inputs(50):
        reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=bmi, bp=bp)))
        assert reply.prediction == two_feature_model.predict(np.array([[bmi, bp]]))[0]
        assert reply.model_version == "test-1"


def test_predict_explains_itself(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    record = pb.Record(bmi=0.06, bp=-0.02)
    reply = stub.Predict(pb.PredictRequest(record=record))
    assert set(reply.contributions) == {"bmi", "bp"}
    assert math.isclose(
        reply.baseline + sum(reply.contributions.values()), reply.prediction, rel_tol=1e-12
    )
    coefficient = two_feature_model.coefficients[0]
    assert reply.contributions["bmi"] == pytest.approx(
        coefficient * (0.06 - two_feature_model.feature_stats[0].mean)
    )
    half_width = two_feature_model.interval_half_width([np.array([0.06]), np.array([-0.02])])[0]
    assert reply.interval.confidence == 0.95
    assert reply.interval.lower == pytest.approx(reply.prediction - half_width, rel=1e-9)
    assert reply.interval.upper == pytest.approx(reply.prediction + half_width, rel=1e-9)
    assert list(reply.out_of_range_features) == []


def test_out_of_range_values_are_served_and_flagged(stub: pb_grpc.PredictionServiceStub) -> None:
    reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=5.0, bp=0.0)))
    assert list(reply.out_of_range_features) == ["bmi"]
    replies = list(
        stub.PredictBatch(
            pb.PredictBatchRequest(
                columns=pb.FeatureColumns(bmi=[0.0, 5.0, 0.01, -3.0], bp=[0.0, 0.0, 9.0, 0.0])
            )
        )
    )
    assert list(replies[0].out_of_range_indices) == [1, 2, 3]


def test_batch_of_100k_records_equals_model(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    inputs = random_inputs(100_000, seed=1)
    request = pb.PredictBatchRequest(
        records=[pb.Record(bmi=bmi, bp=bp) for bmi, bp in inputs.tolist()]
    )
    replies = list(stub.PredictBatch(request))
    assert [reply.offset for reply in replies] == list(range(0, 100_000, CHUNK))
    assert all(len(reply.predictions) == CHUNK for reply in replies)
    predictions, lower, upper = collect(replies)
    np.testing.assert_array_equal(predictions, two_feature_model.predict(inputs))
    assert lower.size == upper.size == 0  # intervals only when asked for


def test_columns_batch_with_intervals(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    inputs = random_inputs(25_000, seed=2)
    request = pb.PredictBatchRequest(
        columns=pb.FeatureColumns(bmi=inputs[:, 0].tolist(), bp=inputs[:, 1].tolist()),
        include_intervals=True,
    )
    replies = list(stub.PredictBatch(request))
    assert [reply.offset for reply in replies] == [0, 10_000, 20_000]
    predictions, lower, upper = collect(replies)
    np.testing.assert_array_equal(predictions, two_feature_model.predict(inputs))
    half = two_feature_model.interval_half_width([inputs[:, 0], inputs[:, 1]])
    np.testing.assert_allclose(lower, predictions - half, rtol=1e-12)
    np.testing.assert_allclose(upper, predictions + half, rtol=1e-12)
    assert all(reply.model_version == "test-1" for reply in replies)


def test_single_prediction_equals_batch_prediction(stub: pb_grpc.PredictionServiceStub) -> None:
    inputs = random_inputs(200, seed=3)
    replies = list(
        stub.PredictBatch(
            pb.PredictBatchRequest(
                columns=pb.FeatureColumns(bmi=inputs[:, 0].tolist(), bp=inputs[:, 1].tolist())
            )
        )
    )
    batch = np.array(replies[0].predictions)
    single = [
        stub.Predict(pb.PredictRequest(record=pb.Record(bmi=a, bp=b))).prediction
        for a, b in inputs.tolist()
    ]
    np.testing.assert_array_equal(batch, single)


def test_model_info(stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel) -> None:
    info = stub.GetModelInfo(pb.GetModelInfoRequest())
    assert info.version == "test-1"
    assert [feature.name for feature in info.features] == ["bmi", "bp"]
    assert [
        feature.coefficient for feature in info.features
    ] == two_feature_model.coefficients.tolist()
    assert info.intercept == two_feature_model.intercept
    assert info.limits.max_batch_records == BATCH_LIMIT
    assert info.limits.batch_chunk_records == CHUNK
    assert info.checksum == two_feature_model.checksum
    assert info.metrics["test_r2"] == 0.5


def test_many_threads_get_correct_answers(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    inputs = random_inputs(800, seed=4)
    expected = two_feature_model.predict(inputs)

    def call(index: int) -> float:
        bmi, bp = inputs[index]
        return float(stub.Predict(pb.PredictRequest(record=pb.Record(bmi=bmi, bp=bp))).prediction)

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(call, range(len(inputs))))
    np.testing.assert_array_equal(answers, expected)
