"""Validation refuses values whose prediction or interval would not be finite, naming the
field (and record index); values within the model's limit pass unchanged."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import LinearModel, load_artifact
from server.errors import InvalidInputError
from tests.support.artifacts import write_test_artifact
from tests.support.decoded import batch_columns, record_values

MODEL = load_artifact()  # the bundled bmi model
LIMIT = MODEL.input_limit


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            1e308,
            f"record.bmi: 1e+308 is too large for a finite prediction and interval "
            f"(this model takes values between -{LIMIT:.3g} and {LIMIT:.3g})",
        ),
        (-1e200, "record.bmi: -1e+200 is too large"),
        (math.nan, "record.bmi must be a finite number, got nan"),
        (-math.inf, "record.bmi must be a finite number, got -inf"),
    ],
)
def test_record_out_of_the_limit_is_refused_by_name(value: float, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        record_values(pb.Record(bmi=value), MODEL)
    assert message in str(error.value)


@given(st.floats(min_value=-LIMIT, max_value=LIMIT))
def test_record_within_the_limit_passes_unchanged(value):
    assert record_values(pb.Record(bmi=value), MODEL) == [value]


def _batch(form: str, values: list[float]) -> pb.PredictBatchRequest:
    if form == "records":
        return pb.PredictBatchRequest(records=[pb.Record(bmi=v) for v in values])
    return pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=values))


@pytest.mark.parametrize(
    ("form", "where"), [("records", "records[3].bmi"), ("columns", "columns.bmi[3]")]
)
@pytest.mark.parametrize("bad", [1e308, -1e300, math.nan, math.inf])
def test_batch_names_the_first_bad_index(form: str, where: str, bad: float) -> None:
    values = [0.0, LIMIT, -LIMIT, bad, 0.1, bad]
    with pytest.raises(InvalidInputError) as error:
        batch_columns(_batch(form, values), MODEL, 100)
    message = str(error.value)
    assert message.startswith(where), message
    expected = "is too large" if math.isfinite(bad) else "must be a finite number"
    assert expected in message


@pytest.mark.parametrize("form", ["records", "columns"])
def test_batch_within_the_limit_passes_unchanged(form: str) -> None:
    values = [0.0, LIMIT, -LIMIT, 1e100, -0.05]
    (column,) = batch_columns(_batch(form, values), MODEL, 100)
    np.testing.assert_array_equal(column, values)


def test_a_model_with_several_features_checks_each(tmp_path: Path) -> None:
    two_feature_model: LinearModel = load_artifact(
        write_test_artifact(tmp_path / "model.json", features=("bmi", "bp"))
    )
    limit = two_feature_model.input_limit
    with pytest.raises(InvalidInputError, match=r"^record\.bp: 1e\+300 is too large"):
        record_values(pb.Record(bmi=limit, bp=1e300), two_feature_model)
    with pytest.raises(InvalidInputError, match=r"^columns\.bp\[1\]: -1e\+300 is too large"):
        batch_columns(
            pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0, 0], bp=[0, -1e300])),
            two_feature_model,
            100,
        )
