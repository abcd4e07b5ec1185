"""JsonPredictionService: one method per JSON route, each decode -> core -> encode.
Decoding is in `schema` and `columns`, the inference in `server.inference`, the answer's
bytes in `encode`."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
from google.api import httpbody_pb2

from diabetes.v1 import json_pb2
from model.artifact import LinearModel
from server.faces.json_lane.columns import given_columns, record_columns, record_values
from server.faces.json_lane.encode import answer_pieces, record_answer
from server.faces.json_lane.schema import JsonSchema
from server.inference import BatchAnswer, Inference, ModelRef
from server.validation import Batch

SERVICE = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"]
SERVICE_NAME = SERVICE.full_name
CONTENT_TYPE = "application/json"


class JsonPredictionServicer:
    def __init__(self, core: Inference, schema: JsonSchema) -> None:
        self._core = core
        self._schema = schema

    def PredictJsonRecords(
        self, request: json_pb2.PredictJsonRecordsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(model: LinearModel) -> Batch:
            limit = self._core.limits.max_batch_records
            records = self._schema.decode_records(request.body.data, limit, model.features)
            return record_columns(records, model.features, request.include_intervals)

        yield from self._answer(self._core.batch(ModelRef(request.model, request.version), columns))

    def PredictJsonRecord(
        self, request: json_pb2.PredictJsonRecordRequest, context: grpc.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        answer = self._core.record(
            ModelRef(request.model, request.version),
            lambda model: record_values(
                self._schema.decode_record(request.body.data), model.features
            ),
        )
        return httpbody_pb2.HttpBody(
            content_type=CONTENT_TYPE, data=record_answer(answer.model, answer.result)
        )

    def PredictJsonColumns(
        self, request: json_pb2.PredictJsonColumnsRequest, context: grpc.ServicerContext
    ) -> Iterator[httpbody_pb2.HttpBody]:
        def columns(model: LinearModel) -> Batch:
            limit = self._core.limits.max_batch_records
            decoded = self._schema.decode_columns(request.body.data, limit)
            return given_columns(decoded, model.features, request.include_intervals)

        yield from self._answer(self._core.batch(ModelRef(request.model, request.version), columns))

    def _answer(self, answer: BatchAnswer) -> Iterator[httpbody_pb2.HttpBody]:
        arrays = {"predictions": answer.predictions}
        if answer.lower is not None and answer.upper is not None:
            arrays["lower"] = answer.lower
            arrays["upper"] = answer.upper
        pieces = answer_pieces(
            answer.model.name,
            answer.model.version,
            arrays,
            answer.out_of_range_indices(),
            self._core.limits.batch_chunk_records,
        )
        # Up to `batch_chunk_records` records this is the one message (each costs a write).
        yield httpbody_pb2.HttpBody(content_type=CONTENT_TYPE, data=next(pieces))
        for piece in pieces:
            yield httpbody_pb2.HttpBody(data=piece)
