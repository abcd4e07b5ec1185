"""Counting repeated fields on the protobuf wire (`server.bounds.wire_count`) agrees with what
protobuf parses, for any message, and stops at the limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diabetes.v1 import prediction_pb2 as pb
from server.bounds.wire_count import WireError, count_fields

RECORDS = frozenset({pb.PredictBatchRequest.DESCRIPTOR.fields_by_name["records"].number})
FEATURES = [field.name for field in pb.Record.DESCRIPTOR.fields]

records = st.lists(
    st.dictionaries(
        st.sampled_from(FEATURES), st.floats(allow_nan=False, width=64), max_size=len(FEATURES)
    ),
    max_size=60,
)


@given(  # type: ignore[untyped-decorator]
    records=records,
    model=st.text(max_size=70),
    intervals=st.booleans(),
    column=st.lists(st.floats(allow_nan=False), max_size=5),
)
@settings(max_examples=300, deadline=None)  # type: ignore[untyped-decorator]
def test_the_count_is_protobufs_for_any_batch(
    records: list[dict[str, float]], model: str, intervals: bool, column: list[float]
) -> None:
    request = pb.PredictBatchRequest(
        records=[pb.Record(**values) for values in records],
        model=model,
        include_intervals=intervals,
        columns=pb.FeatureColumns(bmi=column) if column else None,
    )
    data = request.SerializeToString()
    found = count_fields(data, RECORDS, stop_after=1000)
    assert found.count == len(pb.PredictBatchRequest.FromString(data).records)
    # Counting stops once past the limit: the count then only says "more than".
    limit = max(len(records) - 1, 0)
    assert (count_fields(data, RECORDS, stop_after=limit).count > limit) == (len(records) > limit)


def test_the_equal_sized_run_is_counted_then_the_rest_walked() -> None:
    same = [pb.Record(bmi=0.01 * i + 0.5) for i in range(5000)]
    odd = [pb.Record(bmi=0.1, bp=0.2), pb.Record()]
    data = pb.PredictBatchRequest(records=[*same, *odd, *same], model="m").SerializeToString()
    assert count_fields(data, RECORDS, stop_after=100_000).count == 10_002
    assert count_fields(data, RECORDS, stop_after=100_000).others == 1


def test_records_out_of_order_are_counted_where_they_are() -> None:
    head = pb.PredictBatchRequest(model="m", include_intervals=True).SerializeToString()
    body = pb.PredictBatchRequest(records=[pb.Record(bmi=0.1)] * 7).SerializeToString()
    data = head + body + head
    assert count_fields(data, RECORDS, stop_after=10).count == 7
    assert len(pb.PredictBatchRequest.FromString(data).records) == 7


def test_a_body_of_millions_of_empty_records_stops_just_past_the_limit() -> None:
    found = count_fields(b"\x0a\x00" * 3_000_000, RECORDS, stop_after=100_000)
    assert found.count == 100_001


def test_many_fields_that_are_not_records_stop_the_walk_too() -> None:
    found = count_fields(b"\x22\x00" * 300_000, RECORDS, stop_after=100_000)
    assert (found.count, found.others) == (0, 100_001)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x0a\x05abc", "field 1 runs past the end of the message (5 bytes)"),
        (b"\x0a\x80", "truncated or over-long varint at byte 1"),
        (b"\x0b\x00", "wire type 3 (groups are not taken) at byte 1"),
        (b"\x00\x00", "field number 0 at byte 0"),
    ],
)
def test_bytes_that_are_not_a_message_say_where(data: bytes, message: str) -> None:
    with pytest.raises(WireError) as raised:
        count_fields(data, RECORDS, stop_after=10)
    assert str(raised.value) == message
