"""The Open Inference Protocol over REST (`/v2/...`, KServe's "V2" JSON), reached through
Envoy's transcoder as `diabetes.v1.InferenceRestService`: every answer is an HttpBody with
the protocol's own JSON, and the inference request's body is parsed here with msgspec.
Tensors and outputs are `server.faces.oip_tensors`', as on the gRPC face, the inference
`server.inference`'s; a failure is a status (mapped by `server.errors`) that Envoy turns
into `{"error": ...}`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import msgspec
import numpy as np
import orjson
from google.api.httpbody_pb2 import HttpBody

from diabetes.v1 import inference_rest_pb2 as pb
from model.artifact import LinearModel
from model.linear import FloatArray
from server.bounds.json_bounds import count_bytes, quoted, shortened_backticks
from server.errors import InvalidInputError
from server.faces.oip_tensors import (
    INCLUDE_INTERVALS,
    RAW_DTYPES,
    SERVER_NAME,
    NotReadyError,
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
from server.inference import BatchAnswer, Inference, ModelRef
from server.validation import Batch

SERVICE = pb.DESCRIPTOR.services_by_name["InferenceRestService"]
SERVICE_NAME = SERVICE.full_name
JSON = "application/json"

Parameters = dict[str, str | int | float | bool]


class RequestInput(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    shape: list[int]
    datatype: str
    # Flat, or nested in the tensor's shape; numbers only (checked when read). Absent when
    # the values follow the JSON as bytes (`parameters.binary_data_size`, Triton's extension).
    data: list[Any] | None = None
    parameters: Parameters | None = None


class RequestOutput(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    parameters: Parameters | None = None


class InferenceRequest(msgspec.Struct, forbid_unknown_fields=True):
    inputs: list[RequestInput]
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[RequestOutput] | None = None


class WireInput(msgspec.Struct, forbid_unknown_fields=True):
    """A `RequestInput` as decoded: `shape` and `data` stay raw JSON (views of the body)
    until counted against the limits, then decoded typed (`_shape`, `_data_values`)."""

    name: str
    shape: msgspec.Raw
    datatype: str
    data: msgspec.Raw = msgspec.Raw()  # empty when absent
    parameters: Parameters | None = None


class WireRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An `InferenceRequest` as decoded."""

    inputs: list[WireInput]
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[RequestOutput] | None = None


class LiveResponse(msgspec.Struct):
    live: bool


class ReadyResponse(msgspec.Struct):
    ready: bool


class ServerMetadataResponse(msgspec.Struct):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(msgspec.Struct):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadataResponse(msgspec.Struct):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]


class ModelReadyResponse(msgspec.Struct):
    name: str
    ready: bool


class ResponseOutput(msgspec.Struct):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]


# `Infer`'s answer as the OpenAPI description shows it; `_inference_response` writes it
# (these fields, in this order) with orjson.
class InferenceResponse(msgspec.Struct, omit_defaults=True):
    model_name: str
    model_version: str
    outputs: list[ResponseOutput]
    # The request's id, when it had one.
    id: str | None = None


class ErrorResponse(msgspec.Struct):
    """What Envoy makes of a failed call on these routes (see envoy.yaml's v2_errors)."""

    error: str


# Each RPC's JSON body in and out, for the OpenAPI description (tools/docs/gen_openapi.py).
JSON_BODIES: dict[str, tuple[type | None, type]] = {
    "ServerLive": (None, LiveResponse),
    "ServerReady": (None, ReadyResponse),
    "ServerMetadata": (None, ServerMetadataResponse),
    "ModelMetadata": (None, ModelMetadataResponse),
    "ModelReady": (None, ModelReadyResponse),
    "Infer": (InferenceRequest, InferenceResponse),
}

_decode_request = msgspec.json.Decoder(WireRequest).decode
_decode_shape = msgspec.json.Decoder(list[int]).decode
_decode_flat = msgspec.json.Decoder(list[float]).decode
_decode_rows = msgspec.json.Decoder(list[list[float]]).decode
_encode = msgspec.json.Encoder().encode
NOT_V2 = "the body is not a V2 inference request"
# The JSON part's `{` and `:` (its objects and keys) are counted before it is decoded: with
# `shape` and `data` left raw, they bound how many objects the decode builds. A request
# has a few per input and output; tensor values (numbers) hold none.
MAX_OBJECTS_AND_KEYS = 1024
# A shape's JSON text: ample for the most dimensions a tensor may have (`check_rank`).
MAX_SHAPE_BYTES = 256


def _json(document: Any) -> HttpBody:
    return HttpBody(content_type=JSON, data=_encode(document))


class OpenInferenceRestServicer:
    """`is_ready` says whether the server takes calls (false while it drains)."""

    def __init__(self, core: Inference, is_ready: Callable[[], bool]) -> None:
        self._core = core
        self._is_ready = is_ready

    def ServerLive(self, request: pb.ServerLiveRequest, context: grpc.ServicerContext) -> HttpBody:
        return _json(LiveResponse(live=True))

    def ServerReady(
        self, request: pb.ServerReadyRequest, context: grpc.ServicerContext
    ) -> HttpBody:
        self._require_ready()
        return _json(ReadyResponse(ready=True))

    def ServerMetadata(
        self, request: pb.ServerMetadataRequest, context: grpc.ServicerContext
    ) -> HttpBody:
        return _json(
            ServerMetadataResponse(name=SERVER_NAME, version=server_version(), extensions=[])
        )

    def ModelMetadata(
        self, request: pb.ModelMetadataRequest, context: grpc.ServicerContext
    ) -> HttpBody:
        metadata = model_metadata(self._core.resolve(_named(request)))
        return _json(
            ModelMetadataResponse(
                name=metadata.name,
                versions=metadata.versions,
                platform=metadata.platform,
                inputs=[_tensor_metadata(t) for t in metadata.inputs],
                outputs=[_tensor_metadata(t) for t in metadata.outputs],
            )
        )

    def ModelReady(self, request: pb.ModelReadyRequest, context: grpc.ServicerContext) -> HttpBody:
        model = self._core.resolve(_named(request))
        self._require_ready()
        return _json(ModelReadyResponse(name=model.name, ready=True))

    def Infer(self, request: pb.InferRequest, context: grpc.ServicerContext) -> HttpBody:
        request_id: str | None = None
        outputs: tuple[str, ...] = ()

        def batch(model: LinearModel) -> Batch:
            nonlocal request_id, outputs
            header, binary = _split_body(request.body.data, context)
            document = _decode_document(header)
            check_id(document.id or "")
            request_id = document.id
            include_intervals = (document.parameters or {}).get(INCLUDE_INTERVALS, False)
            if not isinstance(include_intervals, bool):
                raise InvalidInputError(f"parameter {INCLUDE_INTERVALS} must be a bool")
            outputs = requested_outputs(
                [output.name for output in document.outputs or ()], include_intervals
            )
            specs = [
                TensorSpec(tensor.name, tensor.datatype, _shape(index, tensor))
                for index, tensor in enumerate(document.inputs)
            ]
            return tensor_batch(specs, _reader(document, specs, binary), model.features, outputs)

        answer = self._core.batch(_named(request), batch)
        return HttpBody(content_type=JSON, data=_inference_response(answer, outputs, request_id))

    def _require_ready(self) -> None:
        if not self._is_ready():
            raise NotReadyError("the server is not ready: it is shutting down")


def _inference_response(
    answer: BatchAnswer, outputs: Sequence[str], request_id: str | None
) -> bytes:
    """`InferenceResponse`'s JSON, its fields in the same order, written by orjson with each
    output's `data` straight from its array (shortest round-trip floats, no Python float per
    value; finite, as `output_values` says)."""
    document: dict[str, Any] = {
        "model_name": answer.model.name,
        "model_version": answer.model.version,
        "outputs": [
            {
                "name": name,
                "shape": [len(values)],
                "datatype": "FP64",
                "data": np.ascontiguousarray(values),
            }
            for name, values in output_values(answer, outputs).items()
        ],
    }
    if request_id is not None:
        document["id"] = request_id
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


def _named(request: pb.ModelMetadataRequest | pb.ModelReadyRequest | pb.InferRequest) -> ModelRef:
    return ModelRef(request.model_name, request.model_version, named=True)


def _tensor_metadata(tensor: TensorSpec) -> MetadataTensor:
    return MetadataTensor(name=tensor.name, datatype=tensor.datatype, shape=list(tensor.shape))


# Triton's binary tensor data extension: the JSON is the body's first N bytes (N in this
# header), each binary input's values follow in input order, little-endian.
BINARY_HEADER = "inference-header-content-length"


def _split_body(body: bytes, context: grpc.ServicerContext) -> tuple[bytes, bytes]:
    """The body's JSON and the binary tensor data after it (empty without the header)."""
    length = next(
        (value for key, value in context.invocation_metadata() if key == BINARY_HEADER), None
    )
    if length is None:
        return body, b""
    text = str(length)
    # ASCII digits only: str.isdigit also takes "²", which int() refuses.
    if not (0 < len(text) <= 10 and text.isascii() and text.isdigit()) or int(text) > len(body):
        raise InvalidInputError(
            f"{BINARY_HEADER} is {quoted(text)!r}: it must be the length of the body's JSON "
            f"part, 1 to 10 digits (the body has {len(body)} bytes)"
        )
    return body[: int(text)], body[int(text) :]


def _decode_document(header: bytes) -> WireRequest:
    """The request's JSON, its objects and keys counted first; `shape` and `data` raw."""
    if count_bytes(header, b"{:") > MAX_OBJECTS_AND_KEYS:
        raise InvalidInputError(
            f"{NOT_V2} this server takes: it holds more than {MAX_OBJECTS_AND_KEYS} objects "
            "and keys (inputs, outputs, parameters); tensor values go in data"
        )
    try:
        document: WireRequest = _decode_request(header)
    except msgspec.DecodeError as exc:
        raise InvalidInputError(f"{NOT_V2}: {shortened_backticks(str(exc))}") from None
    except RecursionError:  # skipping a raw value nested thousands deep
        raise InvalidInputError(f"{NOT_V2}: it nests arrays or objects too deeply") from None
    return document


def _shape(index: int, tensor: WireInput) -> tuple[int, ...]:
    """An input's shape, its JSON text bounded before it is decoded."""
    where = tensor_where(index, tensor.name)
    if len(tensor.shape) > MAX_SHAPE_BYTES:
        raise InvalidInputError(
            f"{where}: shape is {len(tensor.shape)} bytes of JSON; a shape is a short array "
            "of integers"
        )
    try:
        shape = tuple(_decode_shape(tensor.shape))
    except msgspec.ValidationError as exc:
        raise InvalidInputError(f"{NOT_V2}: {_at(str(exc), f'$.inputs[{index}].shape')}") from None
    check_rank(index, tensor.name, len(shape))
    return shape


def _at(error: str, prefix: str) -> str:
    """msgspec's error in a value decoded alone, its path placed in the whole body."""
    located = error.replace(" - at `$", f" - at `{prefix}")
    return shortened_backticks(located if located != error else f"{error} - at `{prefix}`")


def _reader(
    document: WireRequest, specs: list[TensorSpec], binary: bytes
) -> Callable[[int], FloatArray]:
    # Where each binary input's bytes start, in input order.
    offsets: dict[int, tuple[int, int]] = {}
    start = 0
    for index, tensor in enumerate(document.inputs):
        size = (tensor.parameters or {}).get("binary_data_size")
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInputError(
                f"{tensor_where(index, tensor.name)}: binary_data_size must be a byte count"
            )
        offsets[index] = (start, start + size)
        start += size
    if start != len(binary):
        raise InvalidInputError(
            f"the inputs' binary_data_size add up to {start} bytes but {len(binary)} bytes "
            f"follow the JSON ({BINARY_HEADER})"
        )

    def read(index: int) -> FloatArray:
        # Called once the shape is checked: `expected` is within the record limit.
        tensor, spec = document.inputs[index], specs[index]
        where = tensor_where(index, tensor.name)
        expected = math.prod(spec.shape)
        has_data = len(tensor.data) > 0 and not (
            len(tensor.data) == 4 and bytes(tensor.data) == b"null"
        )
        if index in offsets:
            if has_data:
                raise InvalidInputError(f"{where}: has data and binary_data_size; send one")
            first, last = offsets[index]
            dtype = RAW_DTYPES[tensor.datatype]
            if (last - first) % dtype.itemsize:
                raise InvalidInputError(
                    f"{where}: binary_data_size {last - first} is not a whole number of "
                    f"{quoted(tensor.datatype)} values"
                )
            count = (last - first) // dtype.itemsize
            if count != expected:
                raise InvalidInputError(needs_values(where, spec.shape, count))
            raw: FloatArray = np.frombuffer(binary[first:last], dtype=dtype).astype(np.float64)
            return raw
        if not has_data:
            raise InvalidInputError(f"{where}: data is missing")
        values = _data_values(index, tensor.data, spec.shape, where)
        if tensor.datatype == "FP32":
            values = values.astype(np.float32)
        flat: FloatArray = values.astype(np.float64).ravel()
        return flat

    return read


def _data_values(index: int, data: msgspec.Raw, shape: tuple[int, ...], where: str) -> FloatArray:
    """A tensor's `data` (flat, or nested one level as rows), its values counted by their
    commas against the shape before any of them is decoded."""
    expected = math.prod(shape)
    if count_bytes(data, b",") >= max(expected, 1):
        raise InvalidInputError(
            f"{where}: shape {list(shape)} needs {expected} values, data holds more"
        )
    opening = bytes(memoryview(data)[:64]).lstrip(b" \t\r\n")
    nested = opening[:1] == b"[" and opening[1:].lstrip(b" \t\r\n")[:1] == b"["
    try:
        values = _decode_rows(data) if nested else _decode_flat(data)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith("Number out of range") or not opening.startswith(b"["):
            raise InvalidInputError(
                f"{NOT_V2}: {_at(message, f'$.inputs[{index}].data')}"
            ) from None
        if "`array`" in message:  # a list where a number goes, or the other way round
            raise InvalidInputError(f"{where}: data is nested unevenly") from None
        raise InvalidInputError(f"{where}: data must hold numbers only") from None
    try:
        array: FloatArray = np.array(values, dtype=np.float64)
    except ValueError:
        raise InvalidInputError(f"{where}: data is nested unevenly") from None
    return array
