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

from model.linear import FloatArray

_ENCODER = msgspec.json.Encoder()


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
