"""The JSON lane's decoder (built from the contract) and answer writer, in process."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import numpy as np
import pytest
from google.protobuf import json_format

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from server.errors import InvalidInputError
from server.faces.json_lane.columns import given_columns, record_columns, record_values
from server.faces.json_lane.encode import answer_pieces, record_answer
from server.faces.json_lane.schema import COLUMNS, RECORD, JsonSchema, count_byte, record_fields
from server.validation import checked_columns, checked_record
from tests.support.artifacts import make_test_model

SCHEMA = JsonSchema.from_contract()
FEATURES = ("bmi", "bp")
MODEL = make_test_model(FEATURES)
LIMIT = 100


@functools.cache
def _model(features: tuple[str, ...]) -> LinearModel:
    return MODEL if features == FEATURES else make_test_model(features)


def records(body: str | bytes, features: tuple[str, ...] = FEATURES) -> list[np.ndarray]:
    """Decoded as the servicer does: the model's decoder first, the full schema on error."""
    raw = body.encode() if isinstance(body, str) else body
    decoded = SCHEMA.decode_records(raw, LIMIT, features)
    return checked_columns(
        record_columns(decoded, features, False), _model(features).input_limit, LIMIT
    )


def full_schema_records(body: bytes, features: tuple[str, ...]) -> list[np.ndarray]:
    decoded = SCHEMA.decode_records(body, LIMIT)
    return checked_columns(
        record_columns(decoded, features, False), _model(features).input_limit, LIMIT
    )


def columns(body: str) -> list[np.ndarray]:
    decoded = SCHEMA.decode_columns(body.encode(), LIMIT)
    return checked_columns(given_columns(decoded, FEATURES, False), MODEL.input_limit, LIMIT)


def record(body: bytes, model: LinearModel) -> list[float]:
    fields = record_values(SCHEMA.decode_record(body), model.features)
    return checked_record(fields, model.input_limit)


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


# Bodies at the edge of what the model's decoder accepts: each must come out exactly as
# the full schema has it (the same arrays, or the same error message).
EDGE_BODIES = [
    '[{"bmi": 0.1, "bp": 2}]',
    '[{"bp": 2, "bmi": 0.1}]',
    '[ { "bmi" : -0 , "bp" : 1e-400 } ]\n',
    '[{"bmi": 123456789012345678901234567890, "bp": 5e-324}]',
    '[{"bmi": 1.00000000000000011102230246251565404236316680908203125, "bp": 9007199254740993}]',
    '[{"bmi": 0.1, "bp": 0, "age": 0.3}]',
    '[{"bmi": 0.1, "bp": 0, "age": null}]',
    '[{"bmi": 0.1, "bp": 0, "age": "x"}]',
    '[{"bmi": 0.1, "bp": 0, "bmi": 0.2}]',
    '[{"bmi": 0.1, "bp": 0}, {"bmi": null, "bp": 0}]',
    '[{"bmi": 0.1, "bp": 0}, {"bp": 0}]',
    '[{"bmi": 0.1, "bp": 0}, {"bmi": "0.1", "bp": 0}]',
    '[{"bmi": 0.1, "bp": 0}, {"bmi": 1e400, "bp": 0}]',
    '[{"bmi": 0.1, "bp": 0}, {"bmi": 0.1, "bp": 0, "BMI": 0}]',
    '[{"bmi": 0.1, "bp": [0]}]',
    '[{"bmi": 0.1, "bp": 0}',
    '[{"bmi": 0.1, "bp": 0}]]',
    '{"bmi": 0.1, "bp": 0}',
    "[]",
    "[{}]",
    "[0.1]",
]


@pytest.mark.parametrize("body", EDGE_BODIES)
@pytest.mark.parametrize("features", [("bmi",), FEATURES, SCHEMA.fields])
def test_the_models_decoder_agrees_with_the_full_schema(
    body: str, features: tuple[str, ...]
) -> None:
    def outcome(decode: Callable[[bytes, tuple[str, ...]], list[np.ndarray]]) -> list[bytes] | str:
        try:  # the bits, not just equal numbers (-0.0, 5e-324)
            return [column.tobytes() for column in decode(body.encode(), features)]
        except InvalidInputError as error:
            return str(error)

    assert outcome(records) == outcome(full_schema_records)


def test_records_of_only_the_models_features_take_the_models_decoder() -> None:
    decoded = SCHEMA.decode_records(b'[{"bp": 1, "bmi": 2}]', LIMIT, FEATURES)
    assert type(decoded[0]).__struct_fields__ == FEATURES
    with_other_field = SCHEMA.decode_records(b'[{"bp": 1, "bmi": 2, "s1": 3}]', LIMIT, FEATURES)
    assert type(with_other_field[0]).__struct_fields__ == SCHEMA.fields


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"bmi": [0.1, null], "bp": [0, 0]}', "columns.bmi[1]: expected a number, got null"),
        ('{"bmi": [0.1]}', "columns.bp is missing"),
        ('{"bmi": [0.1], "bp": [0, 1]}', "columns.bmi has 1 values but columns.bp has 2"),
        ('{"bmi": [0.1], "bp": [0], "x": []}', 'columns: unknown field "x"'),
        ("[]", "must be a JSON object of one array per feature"),
        ("{}", "columns is empty"),
        (
            '{"bp": [0], "bmi": [' + ", ".join(["0.1"] * (LIMIT + 1)) + "]}",
            f"columns.bmi holds more than {LIMIT} values: over the limit of {LIMIT} records",
        ),
        ('{"bmi": [' + ", ".join(["0.1"] * LIMIT) + "]}", "columns.bp is missing"),
    ],
)
def test_bad_columns_name_the_column_and_index(body: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        columns(body)
    assert message in str(error.value)


def test_the_answer_is_one_document_in_pieces_with_exact_floats() -> None:
    values = np.random.default_rng(5).normal(0, 1e3, 25) ** 3
    pieces = list(
        answer_pieces(
            "m", "v1", {"predictions": values, "lower": values - 1}, np.array([3, 7]), chunk=10
        )
    )
    # 10 | 10 | 5 + 10 lower | 10 | 5 + the indices: a new piece only where an array would
    # put more than 10 numbers in one.
    assert len(pieces) == 5
    answer = json.loads(b"".join(pieces))
    assert answer == {
        "model_name": "m",
        "model_version": "v1",
        "predictions": values.tolist(),
        "lower": (values - 1).tolist(),
        "out_of_range_indices": [3, 7],
    }


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 5])
def test_count_byte_counts_like_bytes_count(size: int) -> None:
    data = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()
    assert count_byte(data, b"{") == data.count(b"{")
    assert count_byte(data, b",") == data.count(b",")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"bmi": "abc", "bp": 0}', 'record.bmi: expected a number, got "abc"'),
        ('{"bmi": "0.05", "bp": 0}', 'record.bmi: expected a number, got "0.05"'),
        ('{"bmi": 0.1, "bp": 0, "BMI": 1}', 'record: unknown field "BMI"'),
        ('{"bmi": 0.1}', "record.bp is missing; this model needs bmi, bp"),
        ('{"bmi": null, "bp": 0}', "record.bmi is null; this model needs bmi, bp"),
        ('{"bmi": 1e999, "bp": 0}', "record.bmi: expected a finite number"),
        ('[{"bmi": 0.1, "bp": 0}]', "must be a JSON record"),
        ("", "got an empty body"),
        ('{"bmi": 0.1, "bp": 0', "is not valid JSON"),
    ],
)
def test_a_bad_record_names_the_field(body: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        record(body.encode(), MODEL)
    assert message in str(error.value)


def test_one_records_answer_is_predicts_response_as_the_transcoder_printed_it() -> None:
    model = load_artifact(BUNDLED_ARTIFACT)
    for bmi in (-0.09, 0.0, 0.0617, 0.2):
        values = record(json.dumps({"bmi": bmi}).encode(), model)
        result = model.explain_one(values)
        typed = pb.PredictResponse(
            prediction=result.prediction,
            model_name=model.name,
            model_version=model.version,
            interval=pb.PredictionInterval(
                lower=result.lower, upper=result.upper, confidence=model.interval.confidence
            ),
            baseline=model.baseline,
            contributions=result.contributions,
            out_of_range_features=result.out_of_range_features,
        )
        printed = json_format.MessageToDict(
            typed, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        answer = json.loads(record_answer(model, result))
        assert answer == printed
        # Keys in field-number order, as protobuf's JSON printer writes every field.
        by_number = pb.PredictResponse.DESCRIPTOR.fields_by_number
        assert list(answer) == [by_number[number].name for number in sorted(by_number)]


DEEP = 3_000
HUGE = "[" + ",".join(["0.1"] * 200_000) + "]"


@pytest.mark.parametrize(
    ("decode", "body", "message"),
    [
        ("record", '{"bmi": ' + HUGE + "}", "record.bmi: expected a number, got an array"),
        (
            "record",
            '{"bmi": ' + "[" * DEEP + "]" * DEEP + "}",
            "record.bmi: expected a number, got an array",
        ),
        ("record", "[" * DEEP, f"the body of POST /stream must be {RECORD.example}; got an array"),
        ("records", "[" * DEEP, "records[0]: expected an object, got an array"),
        (
            "records",
            '[{"bmi": 0.1, "bp": 0}, ' + "[" * DEEP,
            "records[1]: expected an object, got an array",
        ),
        (
            "records",
            '[{"bmi": 0.1, "bp": 0}, {"bp": 1, "bmi": ' + "[" * DEEP,
            "records[1].bmi: expected a number, got an array",
        ),
        ("records", "[" + "{" * DEEP, f"the body holds more than {LIMIT} records"),
        (
            "columns",
            "[" * DEEP,
            f"the body of POST /batch/columns must be {COLUMNS.example}; got an array",
        ),
        (
            "columns",
            '{"bp": [0, 1], "bmi": [0.1, ' + "[" * DEEP + "]" * DEEP + "]}",
            "columns.bmi[1]: expected a number, got an array",
        ),
        (
            "columns",
            '{"bp": [0, 1, 2], "bmi": [0.1, 0.2, "' + "x" * 1_000 + '"]}',
            'columns.bmi[2]: expected a number, got "' + "x" * 36 + "...",
        ),
        (
            "records",
            '[{"bmi": 1, "bp": 0}, {"bp": 2, "bmi": 3}, {"bmi": 1' + "0" * 1_000 + "}]",
            "records[2].bmi: expected a finite number, got one out of range",
        ),
        (
            "records",
            '[{"bmi": 1, "bp": 0}, {"bp": 2, "bmi": 3}, {"bp": 0, "bmi": true}]',
            "records[2].bmi: expected a number, got true",
        ),
        (
            "records",
            "[0." + "1" * 1_000 + "]",
            "records[0]: expected an object, got 0." + "1" * 35 + "...",
        ),
        (
            "record",
            '{"' + "z" * 1_000 + '": 1}',
            'record: unknown field "' + "z" * 61 + '..."; the fields are age, sex, bmi',
        ),
        # A duplicate key: the window finds the first, valid, value and names the kind.
        ("record", '{"bmi": 0.1, "bmi": "x"}', "record.bmi: expected a number, got a string"),
    ],
)
def test_a_hostile_body_is_refused_naming_where_with_a_short_quote(
    decode: str, body: str, message: str
) -> None:
    decoders: dict[str, Callable[[bytes], object]] = {
        "record": SCHEMA.decode_record,
        "records": lambda raw: SCHEMA.decode_records(raw, LIMIT, FEATURES),
        "columns": lambda raw: SCHEMA.decode_columns(raw, LIMIT),
    }
    with pytest.raises(InvalidInputError) as error:
        decoders[decode](body.encode())
    assert str(error.value).startswith(message)
    assert len(str(error.value)) < 250
