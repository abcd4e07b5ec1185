"""Request validation, whatever the face: decoded values in, checked numpy feature columns
out. A face's decoder turns its request into values that each carry the position that names
them (`records[3].bmi`, `columns.bmi[2]`, `input bmi[0]`); the checks here never see
protobuf or JSON.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from model.linear import FloatArray
from server.errors import InvalidInputError

# One value and the field path that names it (`record.bmi`).
Field = tuple[float, str]
# One feature's column and its field path with `{}` for the record index (`records[{}].bmi`).
Column = tuple[FloatArray, str]


@dataclass(frozen=True, slots=True)
class Batch:
    """A decoded batch, not yet checked: how many records it holds (`field` names it in
    the size messages), its columns, one per model feature in the model's order, and
    whether it asks for the prediction intervals. `columns()` is called only once `count`
    is within the record limit, so a decoder builds no per-record arrays for a batch that
    is refused for its size."""

    count: int
    field: str
    columns: Callable[[], Iterable[Column]]
    intervals: bool = False


def checked_record(fields: Iterable[Field], limit: float) -> list[float]:
    """One record's values, each within [-limit, limit] (checked inline: Predict's path)."""
    values = []
    for value, where in fields:
        if not -limit <= value <= limit:
            raise InvalidInputError(_out_of_limit(where, value, limit))
        values.append(value)
    return values


def checked_columns(batch: Batch, limit: float, max_records: int) -> list[FloatArray]:
    """A batch's columns: at least one record and at most `max_records`, every value
    within [-limit, limit]."""
    check_size(batch.count, max_records, batch.field)
    columns = []
    for column, where in batch.columns():
        check_within_limit(column, limit, where)
        columns.append(column)
    return columns


def feature_columns(
    column_of: Callable[[str], Sequence[float] | FloatArray],
    features: Sequence[str],
    anything_sent: bool,
    intervals: bool,
) -> Batch:
    """A batch sent as one sequence per feature (`column_of(name)`, empty when not sent):
    every needed column present and all of one length. `anything_sent` tells "no columns
    at all" from "not the needed ones"."""
    arrays = [np.array(column_of(name), dtype=np.float64) for name in features]
    count = max(len(array) for array in arrays)
    if count == 0 and anything_sent:  # values sent, none for this model's features
        raise InvalidInputError(f"columns.{features[0]} is missing; {needs(features)}")

    def columns() -> Iterator[Column]:
        for name, array in zip(features, arrays, strict=True):
            if len(array) == 0:
                raise InvalidInputError(f"columns.{name} is missing; {needs(features)}")
            if len(array) != count:
                longest = features[[len(a) for a in arrays].index(count)]
                raise InvalidInputError(
                    f"columns.{name} has {len(array)} values but columns.{longest} has "
                    f"{count}; every column needs one value per record"
                )
            yield array, f"columns.{name}[{{}}]"

    return Batch(count, "columns", columns, intervals)


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
