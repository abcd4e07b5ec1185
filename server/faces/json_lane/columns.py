"""Decoded JSON bodies to the core's values (`server.validation`): the same checks and
messages as the typed gRPC face."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np
from msgspec.structs import astuple

from server.errors import InvalidInputError
from server.validation import Batch, Column, Field, feature_columns, needs


def record_columns(records: Sequence[Any], features: Sequence[str], intervals: bool) -> Batch:
    """One array per model feature from decoded records; an absent or null feature the
    model reads is an error naming the first such record."""
    return Batch(len(records), "records", lambda: _columns(records, features), intervals)


def _columns(records: Sequence[Any], features: Sequence[str]) -> Iterator[Column]:
    count = len(records)
    if count and type(records[0]).__struct_fields__ == tuple(features):
        # The model decoder's records (every value a float): one pass over all of them,
        # 1.2x faster for ten features. An absent or null value (a TypeError) leaves the
        # messages to the loop below.
        try:
            values = chain.from_iterable(map(astuple, records))
            table = np.fromiter(values, np.float64, count * len(features)).reshape(count, -1)
        except TypeError:
            pass
        else:
            for index, name in enumerate(features):
                yield table[:, index], f"records[{{}}].{name}"
            return
    for name in features:
        try:
            column = np.fromiter(map(attrgetter(name), records), np.float64, count=count)
        except TypeError:  # an UNSET among the values: find the first absent or null
            raise _absent_or_null(records, name, features) from None
        if np.isnan(column).any():  # a null (JSON has no NaN; overflow is refused)
            raise _absent_or_null(records, name, features)
        yield column, f"records[{{}}].{name}"


def record_values(record: Any, features: Sequence[str]) -> Iterator[Field]:
    """The model's features from one decoded record (`POST /stream`), in the model's order."""
    for name in features:
        value = getattr(record, name)
        if value is msgspec.UNSET:
            raise InvalidInputError(f"record.{name} is missing; {needs(features)}")
        if value is None:
            raise InvalidInputError(f"record.{name} is null; {needs(features)}")
        yield value, f"record.{name}"


def given_columns(columns: Any, features: Sequence[str], intervals: bool) -> Batch:
    """One array per model feature from a decoded columns object."""
    sent = [getattr(columns, name) for name in columns.__struct_fields__]
    return feature_columns(
        lambda name: getattr(columns, name) or (),
        features,
        any(value is not msgspec.UNSET for value in sent),
        intervals,
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
