"""The Open Inference Protocol's tensors, whatever the transport (gRPC or REST JSON): which
model a call names, input tensors in, the model's feature columns out, and which outputs go
back. The size limit and the finite-value check are `server.validation`'s, so the messages
read like the typed RPCs'; the arithmetic stays in `model`.

Inputs come in one of two layouts:
- one tensor per feature, named as the model's features, shape `[N]` or `[N, 1]`;
- one `[N, k]` tensor (any name), its k columns in the model's feature order.
Datatypes FP64 and FP32 (widened to float64 exactly).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

from model.artifact import LinearModel
from model.linear import FloatArray
from server.errors import InvalidInputError, ModelNotFoundError, ServiceError
from server.json_bounds import quoted
from server.model_store import ModelStore, check_request_names
from server.shadow import Shadows
from server.telemetry import InputStats, answered_by, count_records
from server.validation import check_size, check_within_limit

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
# layouts take 1 or 2; more is refused by `feature_columns`, with the shape quoted).
MAX_RANK = 8
# The longest request id, which the answer echoes.
MAX_ID_LENGTH = 1024


class NotReadyError(ServiceError):
    """The server is draining: readiness probes must fail (HTTP 503 on the REST face)."""

    code = grpc.StatusCode.UNAVAILABLE


@dataclass(frozen=True)
class TensorSpec:
    """An input tensor's header: what the caller says it sends."""

    name: str
    datatype: str
    shape: tuple[int, ...]


def served_model(store: ModelStore, name: str, version: str) -> LinearModel:
    """The model version a call names (an empty version means the stable one, or the
    canary's share); INVALID_ARGUMENT for a name or version that is not a valid one,
    NOT_FOUND naming every model and version served otherwise. The protocol always names
    the model: an empty name is not the default model here."""
    check_request_names(name, version)
    repository = store.repository
    found = repository.models.get(name)
    if found is not None:
        with contextlib.suppress(ModelNotFoundError):
            return store.resolve(name, version)
    asked = f'model "{quoted(name)}"' + (f' version "{quoted(version)}"' if version else "")
    served = ", ".join(
        f'model "{model}" version "{each}"'
        for model, entry in sorted(repository.models.items())
        for each in sorted(entry.versions)
    )
    raise ModelNotFoundError(f"{asked} is not served here; this server serves {served}")


def feature_columns(
    inputs: Sequence[TensorSpec],
    read: Callable[[int], FloatArray],
    model: LinearModel,
    max_records: int,
) -> list[FloatArray]:
    """The model's feature columns from the input tensors. `read(i)` gives input i's
    values as a flat float64 array; it is called only once the headers are checked and the
    batch is within `max_records`. Values must lie within the model's input limit."""
    features = model.features
    if not inputs:
        raise InvalidInputError(f"inputs is empty; {_layouts(features)}")
    for index, spec in enumerate(inputs):
        if spec.datatype not in DATATYPES:
            raise InvalidInputError(
                f"{_where(index, spec)}: datatype {quoted(spec.datatype)} is not supported; "
                f"send {' or '.join(DATATYPES)}"
            )
    if len(inputs) == 1 and inputs[0].name not in features and len(inputs[0].shape) == 2:
        return _from_matrix(inputs[0], read, model, max_records)
    return _from_feature_tensors(inputs, read, model, max_records)


def _from_matrix(
    spec: TensorSpec,
    read: Callable[[int], FloatArray],
    model: LinearModel,
    max_records: int,
) -> list[FloatArray]:
    features = model.features
    where = _where(0, spec)
    if len(spec.shape) != 2 or spec.shape[1] != len(features):
        raise InvalidInputError(
            f"{where}: shape {list(spec.shape)} is not [N, {len(features)}]; {_layouts(features)}"
        )
    count = spec.shape[0]
    check_size(count, max_records, quoted(spec.name))
    matrix = _values(0, spec, read).reshape(count, len(features))
    columns = [matrix[:, j].copy() for j in range(len(features))]
    # The caller's name goes through str.format with the index: its braces are escaped.
    template = quoted(spec.name).replace("{", "{{").replace("}", "}}")
    for j, (name, column) in enumerate(zip(features, columns, strict=True)):
        check_within_limit(column, model.input_limit, f"{template}[{{}}, {j}] ({name})")
    return columns


def _from_feature_tensors(
    inputs: Sequence[TensorSpec],
    read: Callable[[int], FloatArray],
    model: LinearModel,
    max_records: int,
) -> list[FloatArray]:
    features = model.features
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
    check_size(first.shape[0], max_records, "inputs")
    columns = []
    for name in features:
        index = index_of[name]
        column = _values(index, inputs[index], read)
        check_within_limit(column, model.input_limit, f"input {name}[{{}}]")
        columns.append(column)
    return columns


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


def infer(
    model: LinearModel,
    inputs: Sequence[TensorSpec],
    read: Callable[[int], FloatArray],
    outputs: Sequence[str],
    max_records: int,
    seen: InputStats,
    shadows: Shadows,
) -> dict[str, FloatArray]:
    """One inference call of either face (gRPC `ModelInfer`, REST `/infer`): the inputs
    checked, the call reported (records, the model that answered, drift inputs), the
    requested outputs computed, the shadow (or stable, for a canary) compared."""
    answered_by(model)
    columns = feature_columns(inputs, read, model, max_records)
    count_records(len(columns[0]))
    seen.inputs_seen(model, columns)
    answer = predict_outputs(model, columns, outputs)
    shadows.compare(model, columns, answer.get(PREDICT))
    return answer


def predict_outputs(
    model: LinearModel, columns: Sequence[FloatArray], outputs: Sequence[str]
) -> dict[str, FloatArray]:
    """The requested outputs, computed by the model (as the typed batch RPC does); finite,
    since `feature_columns` admitted only values within the model's input limit."""
    predictions = model.predict_columns(columns)
    answer = {PREDICT: predictions}
    if LOWER in outputs or UPPER in outputs:
        half_width = model.interval_half_width(columns)
        answer[LOWER] = predictions - half_width
        answer[UPPER] = predictions + half_width
    return {name: answer[name] for name in outputs}


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
