"""Packed doubles written from numpy read back as the repeated field, byte for byte
what protobuf itself writes."""

from __future__ import annotations

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from server.wire import packed_doubles


def test_packed_doubles_decode_as_the_repeated_field() -> None:
    values = np.array([1.5, -2.25, 1e-300, 0.0])
    reply = pb.PredictBatchResponse.FromString(packed_doubles(2, values))
    assert list(reply.predictions) == values.tolist()
    big = np.linspace(-1, 1, 20_000)  # a length that needs a multi-byte varint
    reply = pb.PredictBatchResponse.FromString(packed_doubles(2, big))
    assert np.array_equal(np.array(reply.predictions), big)


def test_same_bytes_as_protobuf() -> None:
    values = np.random.default_rng(0).normal(size=1234)
    expected = pb.PredictBatchResponse(
        predictions=values.tolist(), lower=(values - 1).tolist(), upper=(values + 1).tolist()
    ).SerializeToString()
    written = (
        packed_doubles(2, values) + packed_doubles(4, values - 1) + packed_doubles(5, values + 1)
    )
    assert written == expected
