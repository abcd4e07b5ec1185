"""The Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, KServe's "V2"),
served beside the typed PredictionService: transport only. Tensors are checked and turned
into feature columns by `server.inference_tensors`; registered with `add_service`, so calls
are logged, counted and mapped to statuses like every other RPC."""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib import metadata

import grpc
import numpy as np

from diabetes.inference import open_inference_grpc_pb2 as pb
from model.artifact import LinearModel
from model.linear import FloatArray
from server.errors import InvalidInputError
from server.inference_tensors import (
    INCLUDE_INTERVALS,
    OUTPUTS,
    RAW_DTYPES,
    TensorSpec,
    check_id,
    check_rank,
    infer,
    needs_values,
    requested_outputs,
    served_model,
    tensor_where,
)
from server.json_bounds import quoted
from server.model_store import ModelStore
from server.shadow import Shadows
from server.telemetry import InputStats

SERVICE = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
SERVICE_NAME = SERVICE.full_name
SERVER_NAME = "diabetes-serving"
_CONTENTS_FIELDS = {"FP64": "fp64_contents", "FP32": "fp32_contents"}


def server_version() -> str:
    try:
        return metadata.version(SERVER_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


def model_metadata(model: LinearModel) -> pb.ModelMetadataResponse:
    """The model's metadata: one FP64 input per feature (the `[N, k]` layout is also
    accepted) and the three outputs."""
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=model.name,
        versions=[model.version],
        platform="numpy_linear",
        inputs=[tensor(name=name, datatype="FP64", shape=[-1]) for name in model.features],
        outputs=[tensor(name=name, datatype="FP64", shape=[-1]) for name in OUTPUTS],
    )


class InferenceProtocolServicer:
    """`is_ready` says whether the server takes calls (false while it drains)."""

    def __init__(
        self,
        store: ModelStore,
        max_batch_records: int,
        inputs: InputStats,
        is_ready: Callable[[], bool],
        shadows: Shadows | None = None,
    ) -> None:
        self._store = store
        self._max_batch_records = max_batch_records
        self._inputs = inputs
        self._is_ready = is_ready
        self._shadows = shadows if shadows is not None else Shadows(store)

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
        served_model(self._store, request.name, request.version)
        return pb.ModelReadyResponse(ready=self._is_ready())

    def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.ServicerContext
    ) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name=SERVER_NAME, version=server_version())

    def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.ServicerContext
    ) -> pb.ModelMetadataResponse:
        return model_metadata(served_model(self._store, request.name, request.version))

    def ModelInfer(
        self, request: pb.ModelInferRequest, context: grpc.ServicerContext
    ) -> pb.ModelInferResponse:
        model = served_model(self._store, request.model_name, request.model_version)
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
        answer = infer(
            model,
            specs,
            _reader(request),
            outputs,
            self._max_batch_records,
            self._inputs,
            self._shadows,
        )
        reply = pb.ModelInferResponse(
            model_name=model.name, model_version=model.version, id=request.id
        )
        for name, values in answer.items():
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
