"""The JSON lane's decoder (built from the contract) and answer writer, in process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from server.errors import InvalidInputError
from server.json_lane.columns import given_columns, record_columns
from server.json_lane.encode import answer_pieces
from server.json_lane.schema import JsonSchema, record_fields
from tests.support.artifacts import make_test_model

SCHEMA = JsonSchema.from_contract()
FEATURES = ("bmi", "bp")
MODEL = make_test_model(FEATURES)
LIMIT = 100


def records(body: str | bytes) -> list[np.ndarray]:
    raw = body.encode() if isinstance(body, str) else body
    return record_columns(SCHEMA.decode_records(raw, LIMIT), MODEL, LIMIT)


def columns(body: str) -> list[np.ndarray]:
    return given_columns(SCHEMA.decode_columns(body.encode(), LIMIT), MODEL, LIMIT)


def test_the_schema_is_the_contracts_record() -> None:
    assert SCHEMA.fields == tuple(field.name for field in pb.Record.DESCRIPTOR.fields)
    with pytest.raises(TypeError, match="not an optional double"):
        record_fields(pb.PredictRequest.DESCRIPTOR)


def test_records_and_columns_give_the_same_arrays() -> None:
    by_records = records('[{"bmi": 0.1, "bp": -0.2, "age": 0.3}, {"bmi": 1, "bp": 0}]')
    by_columns = columns('{"bmi": [0.1, 1], "bp": [-0.2, 0], "age": null}')
    for mine, theirs in zip(by_records, by_columns, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(by_records[0], [0.1, 1.0])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[{"bmi": 0.1, "bp": 0}, {"bmi": "abc", "bp": 0}]',
            'records[1].bmi: expected a number, got "abc"',
        ),
        ('[{"bmi": "0.05", "bp": 0}]', 'records[0].bmi: expected a number, got "0.05"'),
        ('[{"bmi": 0.1, "bp": 0, "BMI": 1}]', 'records[0]: unknown field "BMI"'),
        ('[{"bmi": 0.1}]', "records[0].bp is missing; this model needs bmi, bp"),
        ('[{"bmi": 0.1, "bp": 0}, {"bmi": null, "bp": 0}]', "records[1].bmi is null"),
        ('[{"bmi": 1e999, "bp": 0}]', "records[0].bmi: expected a finite number"),
        # A wrong type before a syntax error: the type is named, the value cannot be.
        ('[{"bmi": [0.0}]', "records[0].bmi: expected a number, got an array"),
        ('{"bmi": 0.1}', "must be a JSON array of records"),
        ("", "got an empty body"),
        ("[]", "records is empty"),
        ("[{]", "is not valid JSON"),
        (b'[{"\xff": 1}]', "is not valid UTF-8"),
        ("[" + ",".join(["{}"] * (LIMIT + 1)) + "]", f"over the limit of {LIMIT} records"),
    ],
)
def test_bad_records_name_the_record_and_field(body: str | bytes, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        records(body)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"bmi": [0.1, null], "bp": [0, 0]}', "columns.bmi[1]: expected a number, got null"),
        ('{"bmi": [0.1]}', "columns.bp is missing"),
        ('{"bmi": [0.1], "bp": [0, 1]}', "columns.bmi has 1 values but columns.bp has 2"),
        ('{"bmi": [0.1], "bp": [0], "x": []}', 'columns: unknown field "x"'),
        ("[]", "must be a JSON object of one array per feature"),
        ("{}", "columns is empty"),
    ],
)
def test_bad_columns_name_the_column_and_index(body: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        columns(body)
    assert message in str(error.value)


def test_the_answer_is_one_document_in_pieces_with_exact_floats() -> None:
    values = np.random.default_rng(5).normal(0, 1e3, 25) ** 3
    pieces = list(
        answer_pieces("m", "v1", {"predictions": values, "lower": values - 1}, [3, 7], chunk=10)
    )
    assert len(pieces) == 7  # three pieces per array (10 + 10 + 5), then the closing
    answer = json.loads(b"".join(pieces))
    assert answer == {
        "model_name": "m",
        "model_version": "v1",
        "predictions": values.tolist(),
        "lower": (values - 1).tolist(),
        "out_of_range_indices": [3, 7],
    }
