"""Decoded JSON bodies to the model's feature columns, checked with the same rules as the
typed gRPC path (`server.validation`)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from model.artifact import LinearModel
from model.linear import FloatArray
from server.errors import InvalidInputError
from server.validation import (
    check_size,
    check_value_within_limit,
    check_within_limit,
    feature_columns,
    needs,
)


def record_columns(
    records: Sequence[Any], model: LinearModel, max_records: int
) -> list[FloatArray]:
    """One array per model feature from decoded records; an absent or null feature the
    model reads is an error naming the first such record."""
    features = model.features
    count = len(records)
    check_size(count, max_records, "records")
    columns = []
    for name in features:
        try:
            column = np.fromiter(map(attrgetter(name), records), np.float64, count=count)
        except TypeError:  # an UNSET among the values: find the first absent or null
            raise _absent_or_null(records, name, features) from None
        if np.isnan(column).any():  # a null (JSON has no NaN; overflow is refused)
            raise _absent_or_null(records, name, features)
        check_within_limit(column, model.input_limit, f"records[{{}}].{name}")
        columns.append(column)
    return columns


def record_values(record: Any, model: LinearModel) -> list[float]:
    """The model's features from one decoded record (`POST /stream`), in the model's order,
    each within the model's input limit."""
    values = []
    for name in model.features:
        value = getattr(record, name)
        if value is msgspec.UNSET:
            raise InvalidInputError(f"record.{name} is missing; {needs(model.features)}")
        if value is None:
            raise InvalidInputError(f"record.{name} is null; {needs(model.features)}")
        check_value_within_limit(value, model.input_limit, f"record.{name}")
        values.append(value)
    return values


def given_columns(columns: Any, model: LinearModel, max_records: int) -> list[FloatArray]:
    """One array per model feature from a decoded columns object."""
    sent = [getattr(columns, name) for name in columns.__struct_fields__]
    return feature_columns(
        lambda name: getattr(columns, name) or (),
        model,
        max_records,
        any(value is not msgspec.UNSET for value in sent),
    )


def _absent_or_null(
    records: Sequence[Any], name: str, features: Sequence[str]
) -> InvalidInputError:
    for index, record in enumerate(records):
        value = getattr(record, name)
        if value is msgspec.UNSET:
            return InvalidInputError(f"records[{index}].{name} is missing; {needs(features)}")
        if value is None:
            return InvalidInputError(f"records[{index}].{name} is null; {needs(features)}")
    raise AssertionError(f"no record lacks {name}")
