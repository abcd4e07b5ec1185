"""PredictBatch's replies written as wire bytes straight from the answer's arrays: each
chunk is one PredictBatchResponse message (offset, predictions, model_version, lower,
upper, out_of_range_indices, model_name, in field order, as protobuf writes them), so no
reply message is built and no Python float is made; grpc sends the bytes as they are."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from server.inference import BatchAnswer
from server.wire import packed_doubles_parts, packed_varints, string_field, varint_field

_NUMBERS = {field.name: field.number for field in pb.PredictBatchResponse.DESCRIPTOR.fields}
_OFFSET, _PREDICTIONS, _VERSION, _LOWER, _UPPER, _OUT_OF_RANGE, _NAME = (
    _NUMBERS[name]
    for name in (
        "offset",
        "predictions",
        "model_version",
        "lower",
        "upper",
        "out_of_range_indices",
        "model_name",
    )
)


def batch_replies(answer: BatchAnswer, chunk_records: int) -> Iterator[bytes]:
    """The answer's reply messages, `chunk_records` predictions each, in input order."""
    model, predictions = answer.model, answer.predictions
    version = string_field(_VERSION, model.version)
    name = string_field(_NAME, model.name)
    out_of_range = answer.out_of_range_indices()
    for start in range(0, len(predictions), chunk_records):
        end = min(start + chunk_records, len(predictions))
        parts: list[bytes | memoryview] = [varint_field(_OFFSET, start)]
        parts += packed_doubles_parts(_PREDICTIONS, predictions[start:end])
        parts.append(version)
        if answer.lower is not None and answer.upper is not None:
            parts += packed_doubles_parts(_LOWER, answer.lower[start:end])
            parts += packed_doubles_parts(_UPPER, answer.upper[start:end])
        first, last = np.searchsorted(out_of_range, (start, end))
        parts.append(packed_varints(_OUT_OF_RANGE, out_of_range[first:last]))
        parts.append(name)
        yield b"".join(parts)
