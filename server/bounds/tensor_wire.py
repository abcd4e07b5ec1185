"""Open Inference Protocol tensors checked on the wire before a ModelInfer parse: the parse
turns a tensor's repeated fields into arrays and objects (a `shape` of 30M packed zeros is
30 MiB on the wire and 240 MiB parsed, and a tuple of 30M ints after), so each input or
output tensor may declare at most `MAX_DIMS` dimensions and `MAX_PARAMETERS` parameters,
and an input's contents hold at most `max_values` values of every type together. Field
numbers and types come from the descriptors."""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from diabetes.inference import open_inference_grpc_pb2 as oip
from server.bounds.wire_count import walk

MAX_DIMS = 8
MAX_PARAMETERS = 64
_LEN = 2

_REQUEST = oip.ModelInferRequest.DESCRIPTOR
_INPUT = oip.ModelInferRequest.InferInputTensor.DESCRIPTOR
_OUTPUT = oip.ModelInferRequest.InferRequestedOutputTensor.DESCRIPTOR
_TENSORS = {
    _REQUEST.fields_by_name["inputs"].number: ("inputs", _INPUT),
    _REQUEST.fields_by_name["outputs"].number: ("outputs", _OUTPUT),
}
_SHAPE = _INPUT.fields_by_name["shape"].number
_INPUT_CONTENTS = _INPUT.fields_by_name["contents"].number


def tensor_problem(data: bytes, max_values: int) -> str | None:
    """What makes the ModelInferRequest `data` too big to parse, or None. Raises WireError
    when it is not well formed."""
    view = memoryview(data)
    index = dict.fromkeys(_TENSORS, 0)
    for number, wire_type, value, end in walk(view, 0, len(view)):
        if number not in _TENSORS or wire_type != _LEN:
            continue
        field, descriptor = _TENSORS[number]
        problem = _tensor_problem(view, value, end, descriptor, max_values)
        if problem is not None:
            return f"{field}[{index[number]}]: {problem}"
        index[number] += 1
    return None


def _tensor_problem(
    view: memoryview, start: int, end: int, descriptor: Descriptor | Any, max_values: int
) -> str | None:
    parameters = descriptor.fields_by_name["parameters"].number
    is_input = descriptor is _INPUT
    dims = counted_parameters = 0
    for number, wire_type, value, field_end in walk(view, start, end):
        if is_input and number == _SHAPE:
            # Packed: one dimension per varint, i.e. per byte below 0x80.
            packed = np.frombuffer(view[value:field_end], dtype=np.uint8)
            dims += int(np.count_nonzero(packed < 0x80)) if wire_type == _LEN else 1
            if dims > MAX_DIMS:
                return f"shape has more than {MAX_DIMS} dimensions"
        elif number == parameters:
            counted_parameters += 1
            if counted_parameters > MAX_PARAMETERS:
                return f"more than {MAX_PARAMETERS} parameters"
        elif (
            is_input
            and number == _INPUT_CONTENTS
            and wire_type == _LEN
            and _values_over(view, value, field_end, max_values)
        ):
            return f"contents has more than {max_values} values"
    return None


def _values_over(view: memoryview, start: int, end: int, most: int) -> bool:
    """Whether the InferTensorContents in view[start:end] holds more than `most` values:
    a packed field holds one per 8 or 4 bytes (doubles, floats), or one per varint (each
    parses to 1 to 8 bytes); any other field holds one."""
    values = 0
    for number, wire_type, value, field_end in walk(view, start, end):
        width = _PACKED_WIDTH.get(number)
        if wire_type != _LEN or width is None:  # one value: unpacked, or a byte string
            values += 1
        elif width:
            values += (field_end - value) // width
        else:
            packed = np.frombuffer(view[value:field_end], dtype=np.uint8)
            values += int(np.count_nonzero(packed < 0x80))
        if values > most:
            return True
    return False


def _packed_widths() -> dict[int, int]:
    """Bytes per value of each packable contents field: 8 or 4 for fixed-size types, 0 for
    varints (bools and integers); byte strings are not packable."""
    fixed = {FieldDescriptor.TYPE_DOUBLE: 8, FieldDescriptor.TYPE_FLOAT: 4}
    return {
        field.number: fixed.get(field.type, 0)
        for field in oip.InferTensorContents.DESCRIPTOR.fields
        if field.type != FieldDescriptor.TYPE_BYTES
    }


_PACKED_WIDTH = _packed_widths()
