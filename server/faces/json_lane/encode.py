"""The JSON lane's answer: one JSON document written in pieces as it is encoded.

    {"model_name":"...","model_version":"...","predictions":[...],"lower":[...],"upper":[...],
     "out_of_range_indices":[...]}

Floats are written by msgspec in their shortest round-trip form, so parsing the answer
gives back exactly the float64 values the model computed. Each piece holds at most
`chunk` numbers, so no answer is ever held as one string.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from model.artifact import LinearModel, SinglePrediction
from model.linear import FloatArray

_ENCODER = msgspec.json.Encoder()


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
    as null): the caller checks first."""
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
    out_of_range_indices: list[int],
    chunk: int,
) -> Iterator[bytes]:
    """The document's bytes in pieces of at most `chunk` numbers each. Every value must
    be finite (JSON has no NaN): the caller checks before the first piece is sent."""
    opening = (
        b'{"model_name":'
        + _ENCODER.encode(model_name)
        + b',"model_version":'
        + _ENCODER.encode(model_version)
    )
    for name, values in arrays.items():
        pieces = _array_pieces(values, chunk)
        yield opening + b"," + _ENCODER.encode(name) + b":[" + next(pieces)
        yield from pieces
        opening = b"]"
    yield b'],"out_of_range_indices":' + _ENCODER.encode(out_of_range_indices) + b"}"


def _array_pieces(values: FloatArray, chunk: int) -> Iterator[bytes]:
    """`a,b,c`, `,d,e,f`, ...: the array's items without brackets (one empty piece for
    an empty array)."""
    if not len(values):
        yield b""
        return
    for start in range(0, len(values), chunk):
        text = _ENCODER.encode(values[start : start + chunk].tolist())[1:-1]
        yield (b"," + text) if start else text
