"""Protobuf wire format written straight from numpy arrays.

A packed `repeated double` field is its tag, its byte length and the array's
little-endian bytes. Writing it from the array avoids a Python float per value, which
is most of the cost of a large PredictBatch reply; protobuf parses it back with a copy.
"""

from __future__ import annotations

import numpy as np

from model.linear import FloatArray


def packed_doubles(field_number: int, values: FloatArray) -> bytes:
    """A packed `repeated double` field in wire format, straight from the array's bytes."""
    body = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return _varint(field_number << 3 | 2) + _varint(len(body)) + body


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
