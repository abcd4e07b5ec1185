"""Registers PredictionService on a grpc server, parsing requests leniently: bytes that
are not a valid message are answered INVALID_ARGUMENT (logged and counted like any call)
where grpc's generated registration would answer INTERNAL with a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from diabetes.v1 import prediction_pb2 as pb
from server.errors import InvalidInputError
from server.servicer import SERVICE_NAME, PredictionServicer
from server.telemetry import CallObserver


class MalformedRequest:
    """What a request that is not a valid protobuf message parses to. grpc would answer
    INTERNAL and log a traceback; the handler answers INVALID_ARGUMENT instead."""

    __slots__ = ("error",)

    def __init__(self, error: str) -> None:
        self.error = error


def _lenient_parser(message_type: type[Message]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return message_type.FromString(data)
        except DecodeError as exc:
            name = message_type.DESCRIPTOR.full_name
            return MalformedRequest(f"the request is not a valid {name} message: {exc}")

    return parse


def add_prediction_service(
    servicer: PredictionServicer, observer: CallObserver, server: grpc.Server
) -> None:
    """Register the servicer like the generated `add_PredictionServiceServicer_to_server`,
    but with malformed request bytes answered as INVALID_ARGUMENT (logged and counted)."""

    def refuse(method: str, request: MalformedRequest, context: grpc.ServicerContext) -> None:
        with observer.call(method, context):
            raise InvalidInputError(request.error)

    def predict(request: Any, context: grpc.ServicerContext) -> pb.PredictResponse:
        if isinstance(request, MalformedRequest):
            refuse("Predict", request, context)
        return servicer.Predict(request, context)

    def predict_batch(
        request: Any, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        if isinstance(request, MalformedRequest):
            refuse("PredictBatch", request, context)
        yield from servicer.PredictBatch(request, context)

    def model_info(request: Any, context: grpc.ServicerContext) -> pb.GetModelInfoResponse:
        if isinstance(request, MalformedRequest):
            refuse("GetModelInfo", request, context)
        return servicer.GetModelInfo(request, context)

    handlers = {
        "Predict": grpc.unary_unary_rpc_method_handler(
            predict,
            request_deserializer=_lenient_parser(pb.PredictRequest),
            response_serializer=pb.PredictResponse.SerializeToString,
        ),
        "PredictBatch": grpc.unary_stream_rpc_method_handler(
            predict_batch,
            request_deserializer=_lenient_parser(pb.PredictBatchRequest),
            response_serializer=pb.PredictBatchResponse.SerializeToString,
        ),
        "GetModelInfo": grpc.unary_unary_rpc_method_handler(
            model_info,
            request_deserializer=_lenient_parser(pb.GetModelInfoRequest),
            response_serializer=pb.GetModelInfoResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
