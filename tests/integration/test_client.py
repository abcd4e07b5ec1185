"""The Python client against the real server over real channels: every method, numbers
compared with the model's own arithmetic exactly, errors mapped to client exceptions."""

from __future__ import annotations

import math
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from diabetes_client import (
    InvalidInputError,
    PredictionClient,
    PredictionError,
    UnavailableError,
)
from model.artifact import LinearModel, load_artifact
from tests.integration.conftest import BATCH_LIMIT, CHUNK
from tests.support.processes import ServerProcess, refusing_port


def inputs(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 0.05, size=(count, 2))


def as_records(X: np.ndarray) -> list[dict[str, float]]:
    return [{"bmi": bmi, "bp": bp} for bmi, bp in X.tolist()]


@pytest.fixture
def client(two_feature_server: ServerProcess) -> Iterator[PredictionClient]:
    with PredictionClient(two_feature_server.target, timeout=30) as client:
        yield client


def test_predict_equals_model_exactly(client: PredictionClient, two_feature_model: LinearModel):
    for bmi, bp in inputs(20).tolist():
        result = client.predict({"bmi": bmi, "bp": bp})
        expected = two_feature_model.explain_one([bmi, bp])
        assert result.prediction == two_feature_model.predict(np.array([[bmi, bp]]))[0]
        assert (result.lower, result.upper) == (expected.lower, expected.upper)
        assert result.contributions == expected.contributions
        assert result.baseline == two_feature_model.baseline
        assert result.confidence == two_feature_model.interval.confidence
        assert result.model_version == two_feature_model.version
        assert list(result.out_of_range_features) == expected.out_of_range_features


def test_predict_flags_out_of_range_features(client: PredictionClient):
    result = client.predict({"bmi": 5.0, "bp": 0.0})
    assert result.out_of_range_features == ("bmi",)


def test_predict_batch_splits_and_keeps_order(
    two_feature_server: ServerProcess, two_feature_model: LinearModel
):
    X = inputs(2_500, seed=1)
    X[[7, 1_234, 2_499], 0] = 1.0  # out of the training range
    with PredictionClient(two_feature_server.target, max_records_per_call=1_000) as client:
        result = client.predict_batch(as_records(X), include_intervals=True)
    half_width = two_feature_model.interval_half_width([X[:, 0], X[:, 1]])
    expected = two_feature_model.predict(X)
    assert np.array_equal(result.predictions, expected)
    assert result.lower is not None
    assert result.upper is not None
    assert np.array_equal(result.lower, expected - half_width)
    assert np.array_equal(result.upper, expected + half_width)
    flagged = np.flatnonzero(two_feature_model.out_of_range([X[:, 0], X[:, 1]]).any(axis=0))
    assert {7, 1_234, 2_499} <= set(flagged.tolist())
    assert np.array_equal(result.out_of_range_indices, flagged)
    assert result.model_version == two_feature_model.version


def test_predict_batch_takes_any_iterable(client: PredictionClient, two_feature_model):
    X = inputs(30, seed=2)
    result = client.predict_batch(iter(as_records(X)))
    assert np.array_equal(result.predictions, two_feature_model.predict(X))
    assert result.lower is None
    assert result.upper is None


def test_predict_columns_over_the_server_limit_is_split(
    client: PredictionClient, two_feature_model: LinearModel
):
    count = BATCH_LIMIT + 3 * CHUNK + 17
    X = inputs(count, seed=3)
    with PredictionClient(client.target, timeout=60, max_records_per_call=BATCH_LIMIT) as split:
        result = split.predict_columns({"bmi": X[:, 0], "bp": X[:, 1]}, include_intervals=True)
    assert len(result) == count
    assert np.array_equal(result.predictions, two_feature_model.predict(X))
    assert result.upper is not None
    half_width = two_feature_model.interval_half_width([X[:, 0], X[:, 1]])
    assert np.array_equal(result.upper, result.predictions + half_width)


def test_predict_columns_accepts_lists(client: PredictionClient, two_feature_model: LinearModel):
    result = client.predict_columns({"bmi": [0.01, 0.02], "bp": [0.0, -0.03]})
    assert (
        result.predictions.tolist()
        == two_feature_model.predict(np.array([[0.01, 0.0], [0.02, -0.03]])).tolist()
    )


def test_the_limit_on_one_call_is_the_servers(client: PredictionClient):
    over = BATCH_LIMIT + 1
    with (
        PredictionClient(client.target, timeout=60, max_records_per_call=over) as unsplit,
        pytest.raises(InvalidInputError, match=f"over the limit of {BATCH_LIMIT}"),
    ):
        unsplit.predict_columns({"bmi": np.zeros(over), "bp": np.zeros(over)})


def test_info_describes_the_served_model(client: PredictionClient, two_feature_model: LinearModel):
    info = client.info()
    assert info.version == two_feature_model.version
    assert [f.name for f in info.features] == list(two_feature_model.features)
    assert [f.coefficient for f in info.features] == two_feature_model.coefficients.tolist()
    assert info.intercept == two_feature_model.intercept
    assert info.checksum == two_feature_model.checksum
    assert info.limits.max_batch_records == BATCH_LIMIT
    assert info.limits.batch_chunk_records == CHUNK
    assert info.n_train == two_feature_model.interval.n_train


def test_health(client: PredictionClient):
    assert client.health() == "SERVING"
    assert client.health("") == "SERVING"
    with pytest.raises(PredictionError) as caught:
        client.health("no.such.Service")
    assert caught.value.code == grpc.StatusCode.NOT_FOUND


def test_server_errors_keep_code_and_message(client: PredictionClient):
    with pytest.raises(InvalidInputError) as caught:
        client.predict({"bmi": 0.01})
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.message == "record.bp is missing; this model needs bmi, bp"
    with pytest.raises(InvalidInputError, match=r"record\.bmi must be a finite number"):
        client.predict({"bmi": math.nan, "bp": 0.0})


def test_errors_in_a_later_call_say_where_that_call_starts(two_feature_server: ServerProcess):
    bmi = np.zeros(2_500)
    bmi[2_100] = math.inf
    with (
        PredictionClient(two_feature_server.target, max_records_per_call=1_000) as client,
        pytest.raises(InvalidInputError) as caught,
    ):
        client.predict_columns({"bmi": bmi, "bp": np.zeros(2_500)})
    assert caught.value.record_offset == 2_000
    assert caught.value.message == "columns.bmi[100] must be a finite number, got inf"
    assert "starting at record 2000" in str(caught.value)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"bmx": 0.1}, "unknown feature 'bmx'"),
        ({"bmi": "high"}, r"record\.bmi must be a number"),
        ({"bmi": [0.1]}, r"record\.bmi must be a number"),
    ],
)
def test_malformed_records_fail_before_sending(client: PredictionClient, record, message):
    with pytest.raises(ValueError, match=message):
        client.predict(record)


def test_malformed_batches_fail_before_sending(client: PredictionClient):
    with pytest.raises(ValueError, match=r"records\[1\]: unknown feature 'BMI'"):
        client.predict_batch([{"bmi": 0.1}, {"BMI": 0.1}])
    with pytest.raises(ValueError, match=r"columns\.bp has 1 values but columns\.bmi has 2"):
        client.predict_columns({"bmi": [0.1, 0.2], "bp": [0.1]})
    with pytest.raises(ValueError, match="empty"):
        client.predict_batch([])


def test_no_server_is_unavailable_after_retries():
    with (
        refusing_port() as port,
        PredictionClient(f"127.0.0.1:{port}", timeout=30) as client,
        pytest.raises(UnavailableError) as caught,
    ):
        client.predict({"bmi": 0.0})
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "127.0.0.1" in caught.value.message


def test_the_bundled_model(grpc_server: ServerProcess):
    model = load_artifact()
    X = np.random.default_rng(9).normal(0.0, 0.03, size=(1_000, len(model.features)))
    columns = {name: X[:, j] for j, name in enumerate(model.features)}
    with PredictionClient(grpc_server.target) as client:
        assert client.info().checksum == model.checksum
        batch = client.predict_columns(columns)
        one = client.predict({name: values[0] for name, values in columns.items()})
    assert np.array_equal(batch.predictions, model.predict(X))
    assert one.prediction == batch.predictions[0]
