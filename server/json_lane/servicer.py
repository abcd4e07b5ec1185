"""JsonPredictionService: one method per JSON route, transport only. Decoding is in
`schema` and `columns`, the arithmetic in `model`, the answer's bytes in `encode`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import numpy as np
from google.api import httpbody_pb2

from diabetes.v1 import json_pb2
from model.artifact import LinearModel
from model.linear import FloatArray
from server.json_lane.columns import given_columns, record_columns, record_values
from server.json_lane.encode import answer_pieces, record_answer
from server.json_lane.schema import JsonSchema
from server.model_store import ModelStore
from server.servicer import Limits
from server.shadow import Shadows
from server.telemetry import InputStats, answered_by, count_records

SERVICE = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"]
SERVICE_NAME = SERVICE.full_name
CONTENT_TYPE = "application/json"


class JsonPredictionServicer:
    def __init__(
        self,
        store: ModelStore,
        limits: Limits,
        inputs: InputStats,
        schema: JsonSchema,
        shadows: Shadows | None = None,
    ) -> None:
        self._store = store
        self._limits = limits
        self._inputs = inputs
        self._schema = schema
        self._shadows = shadows if shadows is not None else Shadows(store)

    def PredictJsonRecords(  # noqa: N802 (the contract's method name)
        self, request: json_pb2.PredictJsonRecordsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(model: LinearModel) -> list[FloatArray]:
            limit = self._limits.max_batch_records
            records = self._schema.decode_records(request.body.data, limit, model.features)
            return record_columns(records, model, limit)

        yield from self._predict(request, columns)

    def PredictJsonRecord(  # noqa: N802
        self, request: json_pb2.PredictJsonRecordRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        model = self._store.resolve(request.model, request.version)
        answered_by(model)
        values = record_values(self._schema.decode_record(request.body.data), model)
        result = model.explain_one(values)
        count_records(1)
        self._inputs.record_seen(model, values)
        self._shadows.compare_record(model, values, result)
        return httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=record_answer(model, result))

    def PredictJsonColumns(  # noqa: N802
        self, request: json_pb2.PredictJsonColumnsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(model: LinearModel) -> list[FloatArray]:
            limit = self._limits.max_batch_records
            decoded = self._schema.decode_columns(request.body.data, limit)
            return given_columns(decoded, model, limit)

        yield from self._predict(request, columns)

    def _predict(
        self,
        request: json_pb2.PredictJsonRecordsRequest | json_pb2.PredictJsonColumnsRequest,
        columns_of: Callable[[LinearModel], list[FloatArray]],
    ) -> Iterator[httpbody_pb2.HttpBody]:
        model = self._store.resolve(request.model, request.version)
        answered_by(model)
        # Checked in full (within the model's input limit, so every output is finite)
        # before any byte of the answer is sent.
        columns = columns_of(model)
        count_records(len(columns[0]))
        self._inputs.inputs_seen(model, columns)
        arrays = {"predictions": model.predict_columns(columns)}
        self._shadows.compare(model, columns, arrays["predictions"])
        if request.include_intervals:
            half_width = model.interval_half_width(columns)
            arrays["lower"] = arrays["predictions"] - half_width
            arrays["upper"] = arrays["predictions"] + half_width
        out_of_range = np.flatnonzero(model.out_of_range(columns).any(axis=0)).tolist()
        pieces = answer_pieces(
            model.name, model.version, arrays, out_of_range, self._limits.batch_chunk_records
        )
        yield httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=next(pieces))
        for piece in pieces:
            yield httpbody_pb2.HttpBody(data=piece)
