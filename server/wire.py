"""Protobuf wire format written straight from numpy arrays and Python values.

A packed `repeated double` field is its tag, its byte length and the array's
little-endian bytes. Writing it from the array avoids a Python float per value, which
is most of the cost of a large PredictBatch reply. Fields are written as protobuf writes
them for proto3: a scalar or string at its default value, or an empty repeated field, is
not written at all.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from model.linear import FloatArray

_VARINT, _LEN = 0, 2
# A varint's 7-bit groups, for packed varints written from an array (values below 2**35).
_GROUP_SHIFTS = np.arange(0, 35, 7, dtype=np.uint64)


def packed_doubles(field_number: int, values: FloatArray) -> bytes:
    """A packed `repeated double` field in wire format, straight from the array's bytes."""
    return b"".join(packed_doubles_parts(field_number, values))


def packed_doubles_parts(field_number: int, values: FloatArray) -> tuple[bytes, memoryview]:
    """A packed `repeated double` field as its header and a view of the array's bytes, for
    `b"".join` to copy once into the message."""
    body = np.ascontiguousarray(values, dtype="<f8").data.cast("B")
    return _varint(field_number << 3 | _LEN) + _varint(len(body)), body


def packed_varints(field_number: int, values: npt.NDArray[np.integer]) -> bytes:
    """A packed `repeated int32`/`int64` field of values that are not negative (empty: b"")."""
    if len(values) == 0:
        return b""
    wide = values.astype(np.uint64)
    groups = (wide[:, None] >> _GROUP_SHIFTS) & 0x7F
    sizes = 1 + (wide[:, None] >= (np.uint64(1) << _GROUP_SHIFTS[1:])).sum(axis=1)
    index = np.arange(len(_GROUP_SHIFTS))
    groups |= (index < (sizes - 1)[:, None]) * np.uint64(0x80)
    body: bytes = groups.astype(np.uint8)[index < sizes[:, None]].tobytes()
    return _varint(field_number << 3 | _LEN) + _varint(len(body)) + body


def varint_field(field_number: int, value: int) -> bytes:
    """A varint field of a value that is not negative (0: not written)."""
    return _varint(field_number << 3 | _VARINT) + _varint(value) if value else b""


def string_field(field_number: int, value: str) -> bytes:
    """A string field (empty: not written)."""
    if not value:
        return b""
    encoded = value.encode()
    return _varint(field_number << 3 | _LEN) + _varint(len(encoded)) + encoded


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)
