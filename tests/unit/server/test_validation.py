"""Every message the typed face's decoders and `server.validation` can give a caller, in
process (the same messages reach callers through the real server in
tests/integration/test_validation.py)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from server.errors import InvalidInputError
from tests.support.artifacts import make_test_model
from tests.support.decoded import batch_columns, record_values

FEATURES = ("bmi", "bp")
MODEL = make_test_model(FEATURES)
NEEDS = "this model needs bmi, bp"


def refused(message: str) -> Any:
    return pytest.raises(InvalidInputError, match=f"^{re.escape(message)}$")


def batch(max_records: int = 100, **fields: object) -> list[np.ndarray]:
    return batch_columns(pb.PredictBatchRequest(**fields), MODEL, max_records)  # type: ignore[arg-type]


# One record (Predict)


def test_a_record_gives_its_values_in_the_models_order() -> None:
    assert record_values(pb.Record(bp=0.2, bmi=0.1, age=9.0), MODEL) == [0.1, 0.2]


def test_zero_is_a_value_not_a_missing_feature() -> None:
    assert record_values(pb.Record(bmi=0.0, bp=-0.0), MODEL) == [0.0, 0.0]


def test_a_missing_feature_is_named_with_what_the_model_needs() -> None:
    with refused(f"record.bp is missing; {NEEDS}"):
        record_values(pb.Record(bmi=0.1), MODEL)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_is_refused(value: float) -> None:
    with refused(f"record.bmi must be a finite number, got {value}"):
        record_values(pb.Record(bmi=value, bp=0.0), MODEL)


# A batch of records


def test_records_become_one_column_per_feature() -> None:
    columns = batch(records=[pb.Record(bmi=0.1, bp=0.2), pb.Record(bmi=0.0, bp=0.4)])
    assert [column.tolist() for column in columns] == [[0.1, 0.0], [0.2, 0.4]]


def test_an_empty_batch_is_refused() -> None:
    with refused("records is empty: send at least one record"):
        batch()


def test_a_batch_over_the_limit_is_refused() -> None:
    records = [pb.Record(bmi=0.0, bp=0.0)] * 3
    with refused(
        "batch of 3 records is over the limit of 2 records per call; split it into several calls"
    ):
        batch(max_records=2, records=records)


def test_a_missing_feature_names_the_first_record() -> None:
    records = [pb.Record(bmi=0.1, bp=0.1), pb.Record(bp=0.2)]
    with refused(f"records[1].bmi is missing; {NEEDS}"):
        batch(records=records)


def test_several_records_missing_a_feature_are_counted() -> None:
    records = [pb.Record(bmi=0.1, bp=0.1), pb.Record(bp=0.2), pb.Record(bp=0.3), pb.Record()]
    with refused(f"records[1].bmi is missing (and 2 more records); {NEEDS}"):
        batch(records=records)


def test_a_non_finite_value_in_a_record_names_its_index() -> None:
    records = [pb.Record(bmi=0.1, bp=0.1), pb.Record(bmi=0.1, bp=math.nan)]
    with refused("records[1].bp must be a finite number, got nan"):
        batch(records=records)


def test_records_and_columns_together_are_refused() -> None:
    with refused("set either records or columns, not both"):
        batch(records=[pb.Record(bmi=0.1, bp=0.1)], columns=pb.FeatureColumns(bmi=[0.1], bp=[0.1]))


# A batch of columns


def test_columns_are_taken_as_they_are() -> None:
    columns = batch(columns=pb.FeatureColumns(bmi=[0.1, 0.2], bp=[0.3, 0.4], age=[1.0]))
    assert [column.tolist() for column in columns] == [[0.1, 0.2], [0.3, 0.4]]


def test_columns_with_none_of_the_models_features_are_refused() -> None:
    with refused(f"columns.bmi is missing; {NEEDS}"):
        batch(columns=pb.FeatureColumns(age=[0.1]))


def test_empty_columns_are_refused() -> None:
    with refused("columns is empty: send at least one record"):
        batch(columns=pb.FeatureColumns())


def test_a_missing_column_is_named() -> None:
    with refused(f"columns.bp is missing; {NEEDS}"):
        batch(columns=pb.FeatureColumns(bmi=[0.1, 0.2]))


def test_columns_of_different_lengths_are_refused() -> None:
    with refused(
        "columns.bmi has 1 values but columns.bp has 3; every column needs one value per record"
    ):
        batch(columns=pb.FeatureColumns(bmi=[0.1], bp=[0.1, 0.2, 0.3]))


def test_columns_over_the_limit_are_refused() -> None:
    with refused(
        "batch of 3 records is over the limit of 2 records per call; split it into several calls"
    ):
        batch(max_records=2, columns=pb.FeatureColumns(bmi=[0.0] * 3, bp=[0.0] * 3))


def test_a_non_finite_value_in_a_column_names_its_index() -> None:
    with refused("columns.bp[2] must be a finite number, got -inf"):
        batch(columns=pb.FeatureColumns(bmi=[0.0] * 3, bp=[0.0, 0.0, -math.inf]))
