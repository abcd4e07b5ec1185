"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, KServe's "V2"),
served beside the typed PredictionService: decode -> core (`server.inference`) -> encode.
Tensors become the core's batch in `server.faces.oip_tensors`, shared with the REST face;
registered with `server.rpc.add_service`, so calls are logged, counted and mapped to
statuses like every other RPC."""

from __future__ import annotations

import math
from collections.abc import Callable

import grpc
import numpy as np

from diabetes.inference import open_inference_grpc_pb2 as pb
from model.artifact import LinearModel
from model.linear import FloatArray
from server.bounds.json_bounds import quoted
from server.errors import InvalidInputError
from server.faces.oip_tensors import (
    INCLUDE_INTERVALS,
    RAW_DTYPES,
    SERVER_NAME,
    TensorSpec,
    check_id,
    check_rank,
    model_metadata,
    needs_values,
    output_values,
    requested_outputs,
    server_version,
    tensor_batch,
    tensor_where,
)
from server.inference import Inference, ModelRef
from server.validation import Batch

SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
SERVICE_NAME = SERVICE.full_name
_CONTENTS_FIELDS = {"FP64": "fp64_contents", "FP32": "fp32_contents"}


def metadata_response(model: LinearModel) -> pb.ModelMetadataResponse:
    """The model's metadata as this face's message."""
    described = model_metadata(model)
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=described.name,
        versions=described.versions,
        platform=described.platform,
        inputs=[tensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in described.inputs],
        outputs=[
            tensor(name=t.name, datatype=t.datatype, shape=t.shape) for t in described.outputs
        ],
    )


class OpenInferenceGrpcServicer:
    """`is_ready` says whether the server takes calls (false while it drains)."""

    def __init__(self, core: Inference, is_ready: Callable[[], bool]) -> None:
        self._core = core
        self._is_ready = is_ready

    def ServerLive(
        self, request: pb.ServerLiveRequest, context: grpc.ServicerContext
    ) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.ServicerContext
    ) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self._is_ready())

    def ModelReady(
        self, request: pb.ModelReadyRequest, context: grpc.ServicerContext
    ) -> pb.ModelReadyResponse:
        self._core.resolve(ModelRef(request.name, request.version, named=True))
        return pb.ModelReadyResponse(ready=self._is_ready())

    def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=server_version())

    def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.ServicerContext
    ) -> pb.ModelMetadataResponse:
        return metadata_response(
            self._core.resolve(ModelRef(request.name, request.version, named=True))
        )

    def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.ServicerContext
    ) -> pb.ModelInferResponse:
        outputs: tuple[str, ...] = ()

        def batch(model: LinearModel) -> Batch:
            nonlocal outputs
            outputs = requested_outputs(
                [output.name for output in request.outputs], _include_intervals(request)
            )
            check_id(request.id)
            for index, tensor in enumerate(request.inputs):
                check_rank(index, tensor.name, len(tensor.shape))
            specs = [
                TensorSpec(tensor.name, tensor.datatype, tuple(tensor.shape))
                for tensor in request.inputs
            ]
            return tensor_batch(specs, _reader(request), model.features, outputs)

        answer = self._core.batch(
            ModelRef(request.model_name, request.model_version, named=True), batch
        )
        model = answer.model
        reply = pb.ModelInferResponse(
            model_name=model.name, model_version=model.version, id=request.id
        )
        for name, values in output_values(answer, outputs).items():
            reply.outputs.add(name=name, datatype="FP64", shape=[len(values)])
            reply.raw_output_contents.append(values.astype("<f8", copy=False).tobytes())
        return reply


def _include_intervals(request: pb.ModelInferRequest) -> bool:
    if INCLUDE_INTERVALS not in request.parameters:
        return False
    parameter = request.parameters[INCLUDE_INTERVALS]
    if parameter.WhichOneof("parameter_choice") != "bool_param":
        raise InvalidInputError(f"parameter {INCLUDE_INTERVALS} must be a bool")
    return parameter.bool_param


def _reader(request: pb.ModelInferRequest) -> Callable[[int], FloatArray]:
    """Reads input i's values from `raw_input_contents` or from its `contents`."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise InvalidInputError(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one per input, or none and the values in contents"
        )

    def read(index: int) -> FloatArray:
        # Called once the shape is checked: its product is within the record limit, and
        # the values are counted against it before they are copied.
        tensor = request.inputs[index]
        where, expected = tensor_where(index, tensor.name), math.prod(tensor.shape)
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInputError(
                    f"{where} has contents and raw_input_contents; send one or the other"
                )
            dtype = RAW_DTYPES[tensor.datatype]
            data = raw[index]
            if len(data) % dtype.itemsize:
                raise InvalidInputError(
                    f"raw_input_contents[{index}] ({quoted(tensor.name)}) has {len(data)} "
                    f"bytes, not a whole number of {tensor.datatype} values"
                )
            if len(data) // dtype.itemsize != expected:
                raise InvalidInputError(
                    needs_values(where, tensor.shape, len(data) // dtype.itemsize)
                )
            values: FloatArray = np.frombuffer(data, dtype=dtype).astype(np.float64)
            return values
        contents = getattr(tensor.contents, _CONTENTS_FIELDS[tensor.datatype])
        if len(contents) != expected:
            raise InvalidInputError(needs_values(where, tensor.shape, len(contents)))
        return np.array(contents, dtype=np.float64)

    return read
