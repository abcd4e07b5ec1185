"""What both Open Inference Protocol faces share, whatever the transport (gRPC or REST
JSON): input tensors in, the core's batch out (`server.inference`), which outputs go back,
and the model's metadata. The size limit and the finite-value check are the core's
(`server.validation`), so the messages read like the typed RPCs'.

Inputs come in one of two layouts:
- one tensor per feature, named as the model's features, shape `[N]` or `[N, 1]`;
- one `[N, k]` tensor (any name), its k columns in the model's feature order.
Datatypes FP64 and FP32 (widened to float64 exactly).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import grpc
import numpy as np

from model.artifact import LinearModel
from model.linear import FloatArray
from server.bounds.json_bounds import quoted
from server.errors import InvalidInputError, ServiceError
from server.inference import BatchAnswer
from server.validation import Batch, Column

DATATYPES = ("FP64", "FP32")
# Tensor bytes (gRPC raw contents, REST binary data) are little-endian, as the protocol says.
RAW_DTYPES: dict[str, np.dtype[np.floating[Any]]] = {
    "FP64": np.dtype("<f8"),
    "FP32": np.dtype("<f4"),
}
PREDICT, LOWER, UPPER = "predict", "lower", "upper"
OUTPUTS = (PREDICT, LOWER, UPPER)
# The request parameter that asks for the interval bounds as outputs.
INCLUDE_INTERVALS = "include_intervals"
# The most dimensions an input's shape may have, checked before the shape is copied (the
# layouts take 1 or 2; more is refused by `tensor_batch`, with the shape quoted).
MAX_RANK = 8
# The longest request id, which the answer echoes.
MAX_ID_LENGTH = 1024


class NotReadyError(ServiceError):
    """The server is draining: readiness probes must fail (HTTP 503 on the REST face)."""

    code = grpc.StatusCode.UNAVAILABLE


SERVER_NAME = "diabetes-serving"


def server_version() -> str:
    try:
        return metadata.version(SERVER_NAME)
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class TensorSpec:
    """An input tensor's header: what the caller says it sends."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class ModelMetadata:
    """A model's metadata as the protocol describes it; each face encodes it."""

    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


def model_metadata(model: LinearModel) -> ModelMetadata:
    """The model's metadata: one FP64 input per feature (the `[N, k]` layout is also
    accepted) and the three outputs."""
    return ModelMetadata(
        name=model.name,
        versions=[model.version],
        platform="numpy_linear",
        inputs=[TensorSpec(name, "FP64", (-1,)) for name in model.features],
        outputs=[TensorSpec(name, "FP64", (-1,)) for name in OUTPUTS],
    )


def tensor_batch(
    inputs: Sequence[TensorSpec],
    read: Callable[[int], FloatArray],
    features: Sequence[str],
    outputs: Sequence[str],
) -> Batch:
    """The model's feature columns from the input tensors, asking for the intervals when
    `outputs` names a bound. `read(i)` gives input i's values as a flat float64 array; it
    is called only once the headers are checked and the batch is within the record limit."""
    intervals = LOWER in outputs or UPPER in outputs
    if not inputs:
        raise InvalidInputError(f"inputs is empty; {_layouts(features)}")
    for index, spec in enumerate(inputs):
        if spec.datatype not in DATATYPES:
            raise InvalidInputError(
                f"{_where(index, spec)}: datatype {quoted(spec.datatype)} is not supported; "
                f"send {' or '.join(DATATYPES)}"
            )
    if len(inputs) == 1 and inputs[0].name not in features and len(inputs[0].shape) == 2:
        spec = inputs[0]
        _check_matrix(spec, features)
        return Batch(
            spec.shape[0], quoted(spec.name), lambda: _matrix(spec, read, features), intervals
        )
    index_of = _feature_tensors(inputs, features)
    count = inputs[index_of[features[0]]].shape[0]
    return Batch(
        count, "inputs", lambda: _feature_columns(inputs, index_of, read, features), intervals
    )


def _check_matrix(spec: TensorSpec, features: Sequence[str]) -> None:
    if len(spec.shape) != 2 or spec.shape[1] != len(features):
        raise InvalidInputError(
            f"{_where(0, spec)}: shape {list(spec.shape)} is not [N, {len(features)}]; "
            f"{_layouts(features)}"
        )


def _matrix(
    spec: TensorSpec, read: Callable[[int], FloatArray], features: Sequence[str]
) -> Iterator[Column]:
    matrix = _values(0, spec, read).reshape(spec.shape[0], len(features))
    # The caller's name goes through str.format with the index: its braces are escaped.
    template = quoted(spec.name).replace("{", "{{").replace("}", "}}")
    for j, name in enumerate(features):
        yield matrix[:, j].copy(), f"{template}[{{}}, {j}] ({name})"


def _feature_tensors(inputs: Sequence[TensorSpec], features: Sequence[str]) -> dict[str, int]:
    """Which input holds each feature, the headers checked: one input per feature, each
    `[N]` or `[N, 1]`, all of one N."""
    index_of: dict[str, int] = {}
    for index, spec in enumerate(inputs):
        if spec.name not in features:
            raise InvalidInputError(
                f'{_where(index, spec)}: no feature is named "{quoted(spec.name)}"; '
                f"{_layouts(features)}"
            )
        if spec.name in index_of:
            raise InvalidInputError(f"{_where(index, spec)}: input {spec.name} is sent twice")
        if len(spec.shape) not in (1, 2) or (len(spec.shape) == 2 and spec.shape[1] != 1):
            raise InvalidInputError(
                f"{_where(index, spec)}: shape {list(spec.shape)} is not [N] or [N, 1]"
            )
        index_of[spec.name] = index
    for name in features:
        if name not in index_of:
            raise InvalidInputError(f"input {name} is missing; {_layouts(features)}")
    counts = {inputs[i].shape[0] for i in index_of.values()}
    first = inputs[index_of[features[0]]]
    if len(counts) > 1:
        other = next(inputs[i] for i in index_of.values() if inputs[i].shape[0] != first.shape[0])
        raise InvalidInputError(
            f"input {other.name} has {other.shape[0]} values but input {first.name} has "
            f"{first.shape[0]}; every input needs one value per record"
        )
    return index_of


def _feature_columns(
    inputs: Sequence[TensorSpec],
    index_of: dict[str, int],
    read: Callable[[int], FloatArray],
    features: Sequence[str],
) -> Iterator[Column]:
    for name in features:
        index = index_of[name]
        yield _values(index, inputs[index], read), f"input {name}[{{}}]"


def _values(index: int, spec: TensorSpec, read: Callable[[int], FloatArray]) -> FloatArray:
    if any(size < 0 for size in spec.shape):
        raise InvalidInputError(f"{_where(index, spec)}: shape {list(spec.shape)} is negative")
    values = read(index)
    if len(values) != math.prod(spec.shape):
        raise InvalidInputError(needs_values(_where(index, spec), spec.shape, len(values)))
    return values


def needs_values(where: str, shape: Sequence[int], count: int) -> str:
    """The message for a tensor whose values do not fill its shape."""
    return f"{where}: shape {list(shape)} needs {math.prod(shape)} values, got {count}"


def check_id(request_id: str) -> None:
    """A request id the answer can echo at little cost: at most `MAX_ID_LENGTH` characters."""
    if len(request_id) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"id is {len(request_id)} characters long; at most {MAX_ID_LENGTH}: "
            f'"{quoted(request_id)}"'
        )


def check_rank(index: int, name: str, rank: int) -> None:
    """A shape of at most `MAX_RANK` dimensions (checked before it is copied)."""
    if rank > MAX_RANK:
        raise InvalidInputError(
            f"{tensor_where(index, name)}: shape has {rank} dimensions; at most {MAX_RANK}"
        )


def requested_outputs(names: Sequence[str], include_intervals: bool) -> tuple[str, ...]:
    """The outputs to answer with: those named (in the protocol's order), or `predict`
    (and the bounds when `include_intervals`) when none are named."""
    for name in names:
        if name not in OUTPUTS:
            raise InvalidInputError(
                f'output "{quoted(name)}" is not produced by this model; '
                f"it produces {', '.join(OUTPUTS)}"
            )
    if names:
        return tuple(name for name in OUTPUTS if name in names)
    return OUTPUTS if include_intervals else (PREDICT,)


def output_values(answer: BatchAnswer, outputs: Sequence[str]) -> dict[str, FloatArray]:
    """The requested outputs of the core's answer, in the protocol's order; finite, since
    the core admitted only values within the model's input limit."""
    values = {PREDICT: answer.predictions}
    if answer.lower is not None and answer.upper is not None:
        values[LOWER], values[UPPER] = answer.lower, answer.upper
    return {name: values[name] for name in outputs}


def _where(index: int, spec: TensorSpec) -> str:
    return tensor_where(index, spec.name)


def tensor_where(index: int, name: str) -> str:
    """How messages name input `index`: `inputs[0] (bmi)`, the name cut short."""
    return f"inputs[{index}] ({quoted(name)})"


def _layouts(features: Sequence[str]) -> str:
    return (
        f"this model needs one FP64 or FP32 input per feature ({', '.join(features)}), "
        f"shape [N] or [N, 1], or one [N, {len(features)}] input with the features as columns"
    )
