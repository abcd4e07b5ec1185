"""Request validation: protobuf requests (and the JSON lane's decoded bodies) in, numpy
feature columns out.

Every problem is an `InvalidInputError` whose message names the field and, in a batch, the
record index. A whole batch is checked before any prediction is sent, so a bad record
yields a clean error and never a partial answer.

A value must lie within the model's `input_limit` (`model.limits`): NaN, infinities and
values so large that the prediction, its interval or a contribution would not be finite are
refused here, before the model or the drift metrics see them. The check is one comparison
per value, the cost of the plain finiteness check it replaces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from operator import attrgetter

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import LinearModel
from model.linear import FloatArray
from server.errors import InvalidInputError


def record_values(record: pb.Record, model: LinearModel) -> list[float]:
    """The model's features from one record, in the model's order."""
    values = []
    for name in model.features:
        if not record.HasField(name):
            raise InvalidInputError(f"record.{name} is missing; {needs(model.features)}")
        value = getattr(record, name)
        check_value_within_limit(value, model.input_limit, f"record.{name}")
        values.append(value)
    return values


def batch_columns(
    request: pb.PredictBatchRequest, model: LinearModel, max_records: int
) -> list[FloatArray]:
    """The model's features from a batch (records or columns), one array per feature."""
    if request.HasField("columns"):
        if len(request.records):
            raise InvalidInputError("set either records or columns, not both")
        columns = request.columns
        return feature_columns(
            lambda name: getattr(columns, name), model, max_records, bool(columns.ListFields())
        )
    return _from_records(request.records, model, max_records)


def _from_records(
    records: Sequence[pb.Record], model: LinearModel, max_records: int
) -> list[FloatArray]:
    features = model.features
    count = len(records)
    check_size(count, max_records, "records")
    columns = []
    for name in features:
        column = np.fromiter(map(attrgetter(name), records), dtype=np.float64, count=count)
        # An absent optional field reads as 0.0: only zeros need a presence check.
        absent = [
            i for i in np.flatnonzero(column == 0.0).tolist() if not records[i].HasField(name)
        ]
        if absent:
            more = f" (and {len(absent) - 1} more records)" if len(absent) > 1 else ""
            raise InvalidInputError(
                f"records[{absent[0]}].{name} is missing{more}; {needs(features)}"
            )
        check_within_limit(column, model.input_limit, f"records[{{}}].{name}")
        columns.append(column)
    return columns


def feature_columns(
    column_of: Callable[[str], Sequence[float]],
    model: LinearModel,
    max_records: int,
    anything_sent: bool,
) -> list[FloatArray]:
    """The model's features from one sequence per feature (`column_of(name)`, empty when
    not sent), checked: every needed column present, all of one length, within the model's
    input limit, within the record limit. `anything_sent` tells "no columns at all" from
    "not the needed ones"."""
    features = model.features
    arrays = [np.array(column_of(name), dtype=np.float64) for name in features]
    count = max(len(array) for array in arrays)
    if count == 0 and anything_sent:  # values sent, none for this model's features
        raise InvalidInputError(f"columns.{features[0]} is missing; {needs(features)}")
    check_size(count, max_records, "columns")
    for name, array in zip(features, arrays, strict=True):
        if len(array) == 0:
            raise InvalidInputError(f"columns.{name} is missing; {needs(features)}")
        if len(array) != count:
            longest = features[[len(a) for a in arrays].index(count)]
            raise InvalidInputError(
                f"columns.{name} has {len(array)} values but columns.{longest} has {count}; "
                "every column needs one value per record"
            )
        check_within_limit(array, model.input_limit, f"columns.{name}[{{}}]")
    return arrays


def check_size(count: int, max_records: int, field: str) -> None:
    """A batch holds at least one record and at most `max_records`."""
    if count == 0:
        raise InvalidInputError(f"{field} is empty: send at least one record")
    if count > max_records:
        raise InvalidInputError(
            f"batch of {count} records is over the limit of {max_records} records per call; "
            "split it into several calls"
        )


def check_within_limit(column: FloatArray, limit: float, where: str) -> None:
    """Every value within [-limit, limit]; `where` is the field path with `{}` for the
    record index."""
    # min and max propagate NaN, which fails both comparisons.
    if -limit <= column.min() and column.max() <= limit:
        return
    index = int(np.flatnonzero(~(np.abs(column) <= limit))[0])
    raise InvalidInputError(_out_of_limit(where.format(index), float(column[index]), limit))


def check_value_within_limit(value: float, limit: float, where: str) -> None:
    """One value within [-limit, limit]; `where` names the field."""
    if not -limit <= value <= limit:
        raise InvalidInputError(_out_of_limit(where, value, limit))


def _out_of_limit(where: str, value: float, limit: float) -> str:
    if not math.isfinite(value):
        return f"{where} must be a finite number, got {value}"
    return (
        f"{where}: {value:g} is too large for a finite prediction and interval "
        f"(this model takes values between -{limit:.3g} and {limit:.3g})"
    )


def needs(features: Sequence[str]) -> str:
    """The end of a "missing feature" message: which features the model reads."""
    return f"this model needs {', '.join(features)}"
