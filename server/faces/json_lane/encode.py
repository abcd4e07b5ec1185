"""The JSON lane's answer: one JSON document, in one piece up to `chunk` records, else in
pieces as it is encoded (one reply message each).

    {"model_name":"...","model_version":"...","predictions":[...],"lower":[...],"upper":[...],
     "out_of_range_indices":[...]}

The arrays are written by orjson straight from numpy (no Python float per value), each
float in its shortest round-trip form, so parsing the answer gives back exactly the float64
values the model computed (exponents as `1e+22`, valid JSON). No piece holds more than
`chunk` numbers of any one array, so no answer is ever held as one string beyond that.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import orjson

from model.artifact import LinearModel, SinglePrediction
from model.linear import FloatArray
from server.inference import IndexArray

_ENCODER = msgspec.json.Encoder()
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class Interval(msgspec.Struct):
    lower: float
    upper: float
    confidence: float


class RecordAnswer(msgspec.Struct):
    """`POST /stream`'s answer: the fields of `PredictResponse` as the transcoder printed
    them (proto field names, every field present)."""

    prediction: float
    model_version: str
    interval: Interval
    baseline: float
    contributions: dict[str, float]
    out_of_range_features: list[str]
    model_name: str


def record_answer(model: LinearModel, result: SinglePrediction) -> bytes:
    """One record's answer. Every number must be finite (msgspec writes NaN and infinity
    as null): the caller checks first. msgspec, not orjson: for a document this small its
    typed Struct encodes faster than orjson's dict (bench/json_lane_micro.py)."""
    return _ENCODER.encode(
        RecordAnswer(
            prediction=result.prediction,
            model_version=model.version,
            interval=Interval(result.lower, result.upper, model.interval.confidence),
            baseline=model.baseline,
            contributions=result.contributions,
            out_of_range_features=result.out_of_range_features,
            model_name=model.name,
        )
    )


def answer_pieces(
    model_name: str,
    model_version: str,
    arrays: dict[str, FloatArray],
    out_of_range_indices: IndexArray,
    chunk: int,
) -> Iterator[bytes]:
    """The document's bytes, one piece per reply message: no piece holds more than `chunk`
    numbers of any one array, and a new piece starts only where one would, so an answer of
    at most `chunk` records is one piece. Every value must be finite (JSON has no NaN;
    orjson writes it as null): the caller checks before the first piece is sent."""
    if all(len(values) <= chunk for values in arrays.values()) and (
        len(out_of_range_indices) <= chunk
    ):
        # The same bytes as the pieces below would join to, in one pass.
        document: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
        document.update((name, _contiguous(values)) for name, values in arrays.items())
        document["out_of_range_indices"] = _contiguous(out_of_range_indices)
        yield orjson.dumps(document, option=_NUMPY)
        return
    held: list[bytes] = []
    held_arrays: set[int] = set()
    for array, fragment in _fragments(
        model_name, model_version, arrays, out_of_range_indices, chunk
    ):
        if array in held_arrays:
            yield b"".join(held)
            held.clear()
            held_arrays.clear()
        held.append(fragment)
        if array is not None:
            held_arrays.add(array)
    yield b"".join(held)


def _fragments(
    model_name: str,
    model_version: str,
    arrays: dict[str, FloatArray],
    out_of_range_indices: IndexArray,
    chunk: int,
) -> Iterator[tuple[int | None, bytes]]:
    """The document in order as (which array, bytes): each array's items in slices of at
    most `chunk`, and the text between them (array None)."""
    opening = orjson.dumps({"model_name": model_name, "model_version": model_version})[:-1]
    named = [*arrays.items(), ("out_of_range_indices", out_of_range_indices)]
    for array, (name, values) in enumerate(named):
        yield None, opening + b"," + orjson.dumps(name) + b":["
        for piece in _array_pieces(values, chunk):
            yield array, piece
        opening = b"]"
    yield None, b"]}"


def _array_pieces(values: npt.NDArray[Any], chunk: int) -> Iterator[bytes]:
    """`a,b,c`, `,d,e,f`, ...: the array's items without brackets (one empty piece for
    an empty array)."""
    if not len(values):
        yield b""
        return
    for start in range(0, len(values), chunk):
        text = orjson.dumps(_contiguous(values[start : start + chunk]), option=_NUMPY)[1:-1]
        yield (b"," + text) if start else text


def _contiguous(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The array itself when C-contiguous (orjson writes no other), else a copy."""
    return np.ascontiguousarray(values)
