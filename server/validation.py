"""Request validation: protobuf requests in, numpy feature columns out.

Every problem is an `InvalidInputError` whose message names the field and, in a batch, the
record index. A whole batch is checked before any prediction is sent, so a bad record
yields a clean error and never a partial answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from model.linear import FloatArray
from server.errors import InvalidInputError


def record_values(record: pb.Record, features: Sequence[str]) -> list[float]:
    """The model's features from one record, in the model's order."""
    values = []
    for name in features:
        if not record.HasField(name):
            raise InvalidInputError(f"record.{name} is missing; {_needs(features)}")
        value = getattr(record, name)
        if not math.isfinite(value):
            raise InvalidInputError(f"record.{name} must be a finite number, got {value}")
        values.append(value)
    return values


def batch_columns(
    request: pb.PredictBatchRequest, features: Sequence[str], max_records: int
) -> list[FloatArray]:
    """The model's features from a batch (records or columns), one array per feature."""
    if request.HasField("columns"):
        if len(request.records):
            raise InvalidInputError("set either records or columns, not both")
        return _from_columns(request.columns, features, max_records)
    return _from_records(request.records, features, max_records)


def _from_records(
    records: Sequence[pb.Record], features: Sequence[str], max_records: int
) -> list[FloatArray]:
    count = len(records)
    _check_size(count, max_records, "records")
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
                f"records[{absent[0]}].{name} is missing{more}; {_needs(features)}"
            )
        _check_finite(column, f"records[{{}}].{name}")
        columns.append(column)
    return columns


def _from_columns(
    columns: pb.FeatureColumns, features: Sequence[str], max_records: int
) -> list[FloatArray]:
    arrays = [np.array(getattr(columns, name), dtype=np.float64) for name in features]
    count = max(len(array) for array in arrays)
    if count == 0 and columns.ListFields():  # values sent, none for this model's features
        raise InvalidInputError(f"columns.{features[0]} is missing; {_needs(features)}")
    _check_size(count, max_records, "columns")
    for name, array in zip(features, arrays, strict=True):
        if len(array) == 0:
            raise InvalidInputError(f"columns.{name} is missing; {_needs(features)}")
        if len(array) != count:
            longest = features[[len(a) for a in arrays].index(count)]
            raise InvalidInputError(
                f"columns.{name} has {len(array)} values but columns.{longest} has {count}; "
                "every column needs one value per record"
            )
        _check_finite(array, f"columns.{name}[{{}}]")
    return arrays


def _check_size(count: int, max_records: int, field: str) -> None:
    if count == 0:
        raise InvalidInputError(f"{field} is empty: send at least one record")
    if count > max_records:
        raise InvalidInputError(
            f"batch of {count} records is over the limit of {max_records} records per call; "
            "split it into several calls"
        )


def _check_finite(column: FloatArray, where: str) -> None:
    """`where` is the field path with `{}` for the record index."""
    bad = np.flatnonzero(~np.isfinite(column))
    if bad.size:
        index = int(bad[0])
        raise InvalidInputError(
            f"{where.format(index)} must be a finite number, got {column[index]}"
        )


def _needs(features: Sequence[str]) -> str:
    return f"this model needs {', '.join(features)}"


# The same checks (and messages) for the Open Inference Protocol's tensors
# (`server.inference_tensors`).
check_batch_size = _check_size
check_finite_values = _check_finite
