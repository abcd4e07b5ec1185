"""PredictBatch's request decoded from its wire bytes into what the face needs: the model
asked for and, once the model is known, its batch (`server.validation.Batch`).

Two layouts standard serializers write are read straight from the bytes with numpy, never
as a Python object per record or value:

- canonical records: every `records` element is a one-byte tag, a one-byte length and the
  same fields (each a one-byte tag and 8 little-endian bytes) in the same order. The first
  record's tags are the template; one strided comparison proves every record of the run has
  exactly those bytes at those places, and each column is then a strided copy of the body;
- packed columns: one `columns` field whose features are packed `repeated double` runs.

What follows the records (or surrounds the columns) is parsed by protobuf, so the model,
version and include_intervals keep protobuf's semantics (last one wins, unknown fields
ignored). Anything else (a record that differs, records or columns appearing twice,
unpacked columns, bytes that do not parse) takes the exact path, protobuf's parse of the
whole message, so every answer and refusal is the one that parse gives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import cast

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import LinearModel
from server.bounds.wire_count import WireError, walk
from server.errors import InvalidInputError
from server.inference import ModelRef
from server.validation import Batch, Column, feature_columns, needs

_I64, _LEN = 1, 2
_RECORDS = pb.PredictBatchRequest.DESCRIPTOR.fields_by_name["records"].number
_COLUMNS = pb.PredictBatchRequest.DESCRIPTOR.fields_by_name["columns"].number
_RECORDS_TAG = _RECORDS << 3 | _LEN
_RECORD_FIELDS = {field.number: field.name for field in pb.Record.DESCRIPTOR.fields}
_COLUMN_FIELDS = {field.number: field.name for field in pb.FeatureColumns.DESCRIPTOR.fields}
# A field of a canonical record: its one-byte tag and 8 value bytes.
_FIELD_BYTES = 9
# Most top-level fields around packed columns, or after a records run, walked here: a
# request sets each of its few fields once; more is not a layout this path takes.
_MOST_OTHER_FIELDS = 16


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A decoded PredictBatchRequest: the model it asks for, and `batch(model)`, its
    records or columns as that model's features (raising the caller's error, as the
    exact path words it, when they are not there)."""

    ref: ModelRef
    batch: Callable[[LinearModel], Batch]


def decode_batch_request(data: bytes) -> BatchRequest:
    """The request in `data`, from the wire where its layout is proven, else from protobuf's
    parse (raising protobuf's DecodeError for bytes that are not the message)."""
    decoded = wire_batch_request(data)
    return decoded if decoded is not None else exact_batch_request(data)


def exact_batch_request(data: bytes) -> BatchRequest:
    """The request as protobuf parses it (DecodeError for bytes that are not the message)."""
    return from_message(pb.PredictBatchRequest.FromString(data))


def from_message(request: pb.PredictBatchRequest) -> BatchRequest:
    return BatchRequest(
        ModelRef(request.model, request.version), lambda model: batch_of(request, model)
    )


def wire_batch_request(data: bytes) -> BatchRequest | None:
    """The request read from the wire, or None when its layout is not one proven here."""
    if data[:1] == bytes((_RECORDS_TAG,)):
        return _canonical_records(data)
    return _packed_columns(data)


def batch_of(request: pb.PredictBatchRequest, model: LinearModel) -> Batch:
    """The model's features from a parsed batch (records or columns), one array per feature."""
    if request.HasField("columns"):
        if len(request.records):
            raise InvalidInputError("set either records or columns, not both")
        columns = request.columns
        return feature_columns(
            lambda name: getattr(columns, name),
            model.features,
            bool(columns.ListFields()),
            request.include_intervals,
        )
    records = request.records
    return Batch(
        len(records),
        "records",
        lambda: _record_columns(records, model.features),
        request.include_intervals,
    )


def _record_columns(records: Sequence[pb.Record], features: Sequence[str]) -> Iterator[Column]:
    count = len(records)
    for name in features:
        column = np.fromiter(map(attrgetter(name), records), dtype=np.float64, count=count)
        # An absent optional field reads as 0.0: only zeros need a presence check.
        absent = [
            i for i in np.flatnonzero(column == 0.0).tolist() if not records[i].HasField(name)
        ]
        if absent:
            raise InvalidInputError(_missing(absent[0], name, len(absent), features))
        yield column, f"records[{{}}].{name}"


def _missing(first: int, name: str, absent: int, features: Sequence[str]) -> str:
    more = f" (and {absent - 1} more records)" if absent > 1 else ""
    return f"records[{first}].{name} is missing{more}; {needs(features)}"


# Canonical records


def _canonical_records(data: bytes) -> BatchRequest | None:
    length = data[1] if len(data) > 1 else 0
    if length >= 0x80 or length == 0 or length % _FIELD_BYTES:
        return None
    stride = length + 2
    tags = data[2:stride:_FIELD_BYTES]
    numbers = [tag >> 3 for tag in tags]
    if (
        any(tag & 7 != _I64 for tag in tags)
        or len(set(numbers)) != len(numbers)
        or not _RECORD_FIELDS.keys() >= set(numbers)
    ):
        return None
    rows = len(data) // stride
    if rows == 0:
        return None
    grid = np.frombuffer(data, dtype=np.uint8, count=rows * stride).reshape(rows, stride)
    # The element's tag and length, and each field's tag: the same bytes as the first's.
    places = [0, 1, *range(2, stride, _FIELD_BYTES)]
    by_place = grid[:, places].T
    matches = np.equal(by_place, by_place[:, :1]).all(axis=0)
    run = rows if bool(matches.all()) else int(np.argmin(matches))
    rest = _rest(memoryview(data)[run * stride :])
    if rest is None:
        return None
    at = {_RECORD_FIELDS[number]: 3 + _FIELD_BYTES * i for i, number in enumerate(numbers)}

    def batch(model: LinearModel) -> Batch:
        return Batch(
            run,
            "records",
            lambda: _wire_record_columns(data, run, stride, at, model.features),
            rest.include_intervals,
        )

    return BatchRequest(ModelRef(rest.model, rest.version), batch)


def _rest(view: memoryview) -> pb.PredictBatchRequest | None:
    """The fields after a records run, parsed, when they hold no more records or columns."""
    try:
        fields = _fields(view, 0, len(view))
    except WireError:
        return None
    if fields is None or any(number in (_RECORDS, _COLUMNS) for number, *_ in fields):
        return None
    return pb.PredictBatchRequest.FromString(cast(bytes, view))  # protobuf takes any buffer


def _wire_record_columns(
    data: bytes, rows: int, stride: int, at: Mapping[str, int], features: Sequence[str]
) -> Iterator[Column]:
    for name in features:
        offset = at.get(name)
        if offset is None:  # no record of the run has it: every one is missing it
            raise InvalidInputError(_missing(0, name, rows, features))
        values = np.ndarray((rows,), dtype="<f8", buffer=data, offset=offset, strides=(stride,))
        yield values.astype(np.float64), f"records[{{}}].{name}"


# Packed columns


def _packed_columns(data: bytes) -> BatchRequest | None:
    view = memoryview(data)
    try:
        fields = _fields(view, 0, len(view))
    except WireError:
        return None
    if fields is None:
        return None
    columns = [field for field in fields if field[0] == _COLUMNS]
    if len(columns) != 1 or any(number == _RECORDS for number, *_ in fields):
        return None
    _, wire_type, start, end = columns[0]
    packed = _packed(view, start, end) if wire_type == _LEN else None
    if packed is None:
        return None
    # The other fields, each from its tag to its end (fields follow one another).
    starts = [0, *(field[3] for field in fields)]
    rest = pb.PredictBatchRequest.FromString(
        b"".join(
            view[begin : field[3]]
            for begin, field in zip(starts, fields, strict=False)
            if field[0] != _COLUMNS
        )
    )
    sent = any(len(values) for values in packed.values())
    empty = np.empty(0)

    def batch(model: LinearModel) -> Batch:
        return feature_columns(
            lambda name: packed.get(name, empty), model.features, sent, rest.include_intervals
        )

    return BatchRequest(ModelRef(rest.model, rest.version), batch)


def _packed(view: memoryview, start: int, end: int) -> dict[str, np.ndarray] | None:
    """The columns message in view[start:end] as one float64 view per feature sent, when
    each feature is one packed run of doubles and nothing else is there."""
    found: dict[str, np.ndarray] = {}
    try:
        fields = _fields(view, start, end)
    except WireError:
        return None
    for number, wire_type, value, stop in fields or ():
        name = _COLUMN_FIELDS.get(number)
        if name is None or name in found or wire_type != _LEN or (stop - value) % 8:
            return None
        found[name] = np.frombuffer(view, dtype="<f8", count=(stop - value) // 8, offset=value)
    return found if fields is not None else None


_Field = tuple[int, int, int, int]


def _fields(view: memoryview, start: int, end: int) -> list[_Field] | None:
    """The fields of the message in view[start:end] (number, wire type, value start, end);
    None when there are more than this path walks."""
    fields = []
    for field in walk(view, start, end):
        fields.append(field)
        if len(fields) > _MOST_OTHER_FIELDS:
            return None
    return fields
