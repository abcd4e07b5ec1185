"""JsonPredictionService: one method per JSON route, transport only. Decoding is in
`schema` and `columns`, the arithmetic in `model`, the answer's bytes in `encode`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import grpc
import numpy as np
from google.api import httpbody_pb2

from diabetes.v1 import json_pb2
from model.artifact import LinearModel, SinglePrediction
from model.linear import FloatArray
from server.errors import InvalidInputError
from server.json_lane.columns import given_columns, record_columns, record_values
from server.json_lane.encode import answer_pieces, first_not_finite, record_answer
from server.json_lane.schema import JsonSchema
from server.model_store import ModelStore
from server.servicer import Limits
from server.telemetry import InputStats, count_records

SERVICE = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"]
SERVICE_NAME = SERVICE.full_name
CONTENT_TYPE = "application/json"


class JsonPredictionServicer:
    def __init__(
        self, store: ModelStore, limits: Limits, inputs: InputStats, schema: JsonSchema
    ) -> None:
        self._store = store
        self._limits = limits
        self._inputs = inputs
        self._schema = schema

    def PredictJsonRecords(  # noqa: N802 (the contract's method name)
        self, request: json_pb2.PredictJsonRecordsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(features: Sequence[str]) -> list[FloatArray]:
            limit = self._limits.max_batch_records
            records = self._schema.decode_records(request.body.data, limit, features)
            return record_columns(records, features, limit)

        yield from self._predict(request, columns, "records")

    def PredictJsonRecord(  # noqa: N802
        self, request: json_pb2.PredictJsonRecordRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        model = self._store.current
        values = record_values(self._schema.decode_record(request.body.data), model.features)
        result = model.explain_one(values)
        _require_finite_record(model, values, result)
        count_records(1)
        self._inputs.record_seen(model, values)
        return httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=record_answer(model, result))

    def PredictJsonColumns(  # noqa: N802
        self, request: json_pb2.PredictJsonColumnsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(features: Sequence[str]) -> list[FloatArray]:
            limit = self._limits.max_batch_records
            decoded = self._schema.decode_columns(request.body.data, limit)
            return given_columns(decoded, features, limit)

        yield from self._predict(request, columns, "columns")

    def _predict(
        self,
        request: json_pb2.PredictJsonRecordsRequest | json_pb2.PredictJsonColumnsRequest,
        columns_of: Callable[[Sequence[str]], list[FloatArray]],
        root: str,
    ) -> Iterator[httpbody_pb2.HttpBody]:
        model = self._store.current
        columns = columns_of(model.features)
        count_records(len(columns[0]))
        arrays = {"predictions": model.predict_columns(columns)}
        if request.include_intervals:
            half_width = model.interval_half_width(columns)
            arrays["lower"] = arrays["predictions"] - half_width
            arrays["upper"] = arrays["predictions"] + half_width
        for name, values in arrays.items():
            _require_finite(model, columns, values, name, root)
        # Only inputs that passed every check reach the drift statistics.
        self._inputs.inputs_seen(model, columns)
        out_of_range = np.flatnonzero(model.out_of_range(columns).any(axis=0)).tolist()
        # Everything is checked: from here on the answer is sent.
        pieces = answer_pieces(
            model.version, arrays, out_of_range, self._limits.batch_chunk_records
        )
        yield httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=next(pieces))
        for piece in pieces:
            yield httpbody_pb2.HttpBody(data=piece)


def _require_finite(
    model: LinearModel, columns: Sequence[FloatArray], values: FloatArray, what: str, root: str
) -> None:
    """Finite inputs can still overflow (e.g. `1e306`): name the record and its largest
    term, before any byte of the answer is sent."""
    index = first_not_finite(values)
    if index is None:
        return
    terms = [
        abs(float(c) * column[index]) for c, column in zip(model.coefficients, columns, strict=True)
    ]
    name = model.features[int(np.argmax(terms))]
    place = f"records[{index}].{name}" if root == "records" else f"columns.{name}[{index}]"
    singular = what.rstrip("s") if what == "predictions" else f"{what} bound"
    raise InvalidInputError(
        f"{place}: {float(columns[model.features.index(name)][index])!r} is too large; the "
        f"{singular} of this record is not a finite number"
    )


def _require_finite_record(
    model: LinearModel, values: Sequence[float], result: SinglePrediction
) -> None:
    """A finite record can still overflow (e.g. `{"bmi": 1.7e308}`): name its largest term."""
    numbers = (result.prediction, result.lower, result.upper, *result.contributions.values())
    if all(math.isfinite(number) for number in numbers):
        return
    terms = [abs(float(c) * value) for c, value in zip(model.coefficients, values, strict=True)]
    index = int(np.argmax(terms))
    raise InvalidInputError(
        f"record.{model.features[index]}: {values[index]!r} is too large; the prediction of "
        "this record is not a finite number"
    )
