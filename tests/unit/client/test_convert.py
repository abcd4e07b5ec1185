"""Input checks, splitting and reassembly shared by the sync and asyncio clients."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes_client import FEATURES, PredictionError
from diabetes_client.convert import (
    BatchAssembler,
    BatchCall,
    column_arrays,
    column_calls,
    record_calls,
    record_message,
)


def test_features_are_the_contracts():
    assert FEATURES == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def test_record_message_keeps_presence():
    message = record_message({"bmi": 0.0, "s5": -0.25})
    assert message.HasField("bmi")
    assert message.s5 == -0.25
    assert not message.HasField("bp")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"BMI": 1.0}, "record: unknown feature 'BMI'; the features are age, sex, bmi"),
        ({"bmi": "1.0"}, r"record\.bmi must be a number, got '1\.0'"),
        ([("bmi", 1.0)], "record must be a mapping"),
    ],
)
def test_record_message_refuses_malformed_records(record, message):
    with pytest.raises(ValueError, match=message):
        record_message(record)


def test_record_calls_split_lazily_with_offsets():
    records = ({"bmi": float(i)} for i in range(2_500))
    calls = list(record_calls(records, 1_000, include_intervals=True))
    assert [(c.start, c.count) for c in calls] == [(0, 1_000), (1_000, 1_000), (2_000, 500)]
    assert calls[2].request.records[0].bmi == 2_000.0
    assert all(c.request.include_intervals for c in calls)


def test_record_calls_name_the_bad_record_by_input_index():
    records = [{"bmi": 0.1}] * 1_500 + [{"bmx": 0.1}]
    with pytest.raises(ValueError, match=r"records\[1500\]: unknown feature 'bmx'"):
        list(record_calls(records, 1_000, include_intervals=False))


def test_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="records is empty"):
        list(record_calls([], 10, include_intervals=False))
    with pytest.raises(ValueError, match="columns is empty"):
        column_arrays({"bmi": []})


def test_column_calls_slice_every_column():
    arrays, count = column_arrays({"bmi": np.arange(5.0), "bp": [9.0, 8.0, 7.0, 6.0, 5.0]})
    calls = list(column_calls(arrays, count, 2, include_intervals=False))
    assert [(c.start, c.count) for c in calls] == [(0, 2), (2, 2), (4, 1)]
    assert list(calls[1].request.columns.bmi) == [2.0, 3.0]
    assert list(calls[1].request.columns.bp) == [7.0, 6.0]
    assert calls[2].request.HasField("columns")


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"glucose": [1.0]}, "unknown feature 'glucose'"),
        ({"bmi": [[1.0, 2.0]]}, r"columns\.bmi must be one-dimensional"),
        ({"bmi": ["a"]}, r"columns\.bmi must hold numbers"),
        ({"bmi": [1.0, 2.0], "bp": [1.0]}, r"columns\.bp has 1 values but columns\.bmi has 2"),
    ],
)
def test_column_arrays_refuse_malformed_columns(columns, message):
    with pytest.raises(ValueError, match=message):
        column_arrays(columns)


def test_max_records_per_call_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        list(record_calls([{"bmi": 1.0}], 0, include_intervals=False))


def reply(offset: int, values: list[float], version: str = "v1", out_of_range=()):
    return pb.PredictBatchResponse(
        offset=offset,
        predictions=values,
        lower=[v - 1 for v in values],
        upper=[v + 1 for v in values],
        model_version=version,
        out_of_range_indices=list(out_of_range),
    )


def call(start: int, count: int) -> BatchCall:
    return BatchCall(start, count, pb.PredictBatchRequest())


def test_assembler_places_replies_by_offset_whatever_their_order():
    assembler = BatchAssembler(include_intervals=True)
    first, second = call(0, 3), call(3, 2)
    assembler.expect(first)
    assembler.expect(second)
    assembler.add(second, reply(1, [5.0], out_of_range=[1]))
    assembler.add(first, reply(2, [3.0]))
    assembler.add(first, reply(0, [1.0, 2.0], out_of_range=[0]))
    assembler.add(second, reply(0, [4.0]))
    result = assembler.result()
    assert result.predictions.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.lower is not None
    assert result.lower.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert result.out_of_range_indices.tolist() == [0, 4]
    assert result.model_version == "v1"


def test_assembler_refuses_gaps_and_overlaps():
    assembler = BatchAssembler(include_intervals=False)
    assembler.expect(call(0, 4))
    assembler.add(call(0, 4), reply(0, [1.0, 2.0]))
    with pytest.raises(PredictionError, match="got 2 predictions for 4 records"):
        assembler.result()
    assembler.add(call(0, 4), reply(1, [2.0, 3.0]))
    with pytest.raises(PredictionError, match="do not cover record 2 exactly once"):
        assembler.result()
    with pytest.raises(PredictionError, match="of a call of 4 records"):
        assembler.add(call(0, 4), reply(3, [4.0, 5.0]))


def test_assembler_refuses_results_of_two_models():
    assembler = BatchAssembler(include_intervals=False)
    for start, version in [(0, "v1"), (2, "v2")]:
        assembler.expect(call(start, 2))
        assembler.add(call(start, 2), reply(0, [1.0, 2.0], version))
    with pytest.raises(PredictionError) as caught:
        assembler.result()
    assert caught.value.code == grpc.StatusCode.ABORTED
    assert "'v2' from record 2" in caught.value.message
