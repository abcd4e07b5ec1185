"""Registers JsonPredictionService on a grpc server like `server.registration` does for
PredictionService: malformed request bytes answered INVALID_ARGUMENT, every call
observed. (Until registration is generic over service descriptors.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
from google.api import httpbody_pb2
from google.protobuf.message import Message

from diabetes.v1 import json_pb2
from server.errors import InvalidInputError
from server.json_lane.servicer import SERVICE_NAME, JsonPredictionServicer
from server.registration import MalformedRequest, _lenient_parser
from server.telemetry import CallObserver


def add_json_prediction_service(
    servicer: JsonPredictionServicer, observer: CallObserver, server: grpc.Server
) -> None:
    def handler(method: str, request_type: type[Message]) -> grpc.RpcMethodHandler:
        implementation = getattr(servicer, method)

        def call(request: Any, context: grpc.ServicerContext) -> Iterator[httpbody_pb2.HttpBody]:
            if isinstance(request, MalformedRequest):
                with observer.call(method, context):
                    raise InvalidInputError(request.error)
            yield from implementation(request, context)

        return grpc.unary_stream_rpc_method_handler(
            call,
            request_deserializer=_lenient_parser(request_type),
            response_serializer=httpbody_pb2.HttpBody.SerializeToString,
        )

    methods = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"].methods
    handlers = {
        method.name: handler(method.name, getattr(json_pb2, method.input_type.name))
        for method in methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)
