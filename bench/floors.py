"""In-process floors of each bulk face: the least its own work could cost with no server and
no transport around it, stage by stage (decode the request's bytes to columns, predict,
encode the answer's bytes), with the ecosystem's fastest plain tools and no checks (JSON
answers: orjson straight from the array).

A face's measured rate over its floor and over its transport ceiling (the no-op servers)
says where its time goes: the stack, or the service's own work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
import orjson

from bench import payloads
from diabetes.inference import open_inference_grpc_pb2 as v2
from diabetes.v1 import prediction_pb2 as pb
from model.features import FEATURE_NAMES
from model.linear import FloatArray, predict_columns
from server.wire import packed_doubles

FLOOR_SIZES = (10_000, 100_000)
ALL10 = "-all10"
STAGES = ("decode", "predict", "encode")

Columns = list[FloatArray]


@dataclass(frozen=True)
class Face:
    """One face's body and its three stages, as plain as they can be."""

    path: str  # the bench's path name of the face ("json-batch", "v2-grpc-infer", ...)
    records: int
    body: bytes
    decode: Callable[[bytes], Columns]
    encode: Callable[[FloatArray], bytes]


class _V2Input(msgspec.Struct):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]


class _V2Request(msgspec.Struct):
    inputs: list[_V2Input]


_RECORD_FIELDS = {f.number: f.name for f in pb.Record.DESCRIPTOR.fields}
_COLUMN_FIELDS = {f.number: f.name for f in pb.FeatureColumns.DESCRIPTOR.fields}


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        value |= (byte & 0x7F) << shift
        offset += 1
        if byte < 0x80:
            return value, offset
        shift += 7


def _faces(n: int, features: Sequence[str]) -> list[Face]:
    all10 = len(features) > 1
    suffix = ALL10 if all10 else ""
    record = msgspec.defstruct("Record", [(name, float) for name in features])
    records_decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
    columns_decoder = msgspec.json.Decoder(dict[str, list[float]])
    v2_decoder = msgspec.json.Decoder(_V2Request)

    def grpc_records(body: bytes) -> Columns:
        # The bench's bodies are canonical: records only, each of one-byte tags and lengths,
        # its fields (tag + 8 bytes) in the order the first record has them.
        stride = body[1] + 2
        rows = np.frombuffer(body, np.uint8).reshape(-1, stride)
        at = {_RECORD_FIELDS[body[2 + 9 * j] >> 3]: 3 + 9 * j for j in range(body[1] // 9)}
        return [rows[:, at[f] : at[f] + 8].copy().view("<f8").ravel() for f in features]

    def grpc_columns(body: bytes) -> Columns:
        # One columns field holding one packed run per feature.
        _, start = _varint(body, 0)
        size, start = _varint(body, start)
        packed: dict[str, FloatArray] = {}
        offset, end = start, start + size
        while offset < end:
            tag, offset = _varint(body, offset)
            size, offset = _varint(body, offset)
            packed[_COLUMN_FIELDS[tag >> 3]] = np.frombuffer(body, "<f8", size // 8, offset)
            offset += size
        return [packed[f] for f in features]

    def grpc_encode(predictions: FloatArray) -> bytes:
        return packed_doubles(2, predictions)

    def json_records(body: bytes) -> Columns:
        rows = records_decoder.decode(body)
        return [np.fromiter((getattr(r, f) for r in rows), np.float64, len(rows)) for f in features]

    def json_columns(body: bytes) -> Columns:
        given = columns_decoder.decode(body)
        return [np.array(given[f]) for f in features]

    def json_encode(predictions: FloatArray) -> bytes:
        return orjson.dumps({"predictions": predictions}, option=orjson.OPT_SERIALIZE_NUMPY)

    def v2_rest(body: bytes) -> Columns:
        tensor = np.array(v2_decoder.decode(body).inputs[0].data)
        return list(tensor.reshape(-1, len(features)).T)

    def v2_rest_encode(predictions: FloatArray) -> bytes:
        output = {"name": "predict", "shape": [len(predictions), 1], "datatype": "FP64"}
        document = {"outputs": [{**output, "data": predictions}]}
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)

    def v2_grpc(body: bytes) -> Columns:
        tensor = v2.ModelInferRequest.FromString(body).inputs[0].contents.fp64_contents
        return list(np.array(tensor).reshape(-1, len(features)).T)

    def v2_grpc_encode(predictions: FloatArray) -> bytes:
        reply = v2.ModelInferResponse()
        reply.outputs.add(name="predict", datatype="FP64", shape=[len(predictions), 1])
        reply.raw_output_contents.append(predictions.astype("<f8", copy=False).tobytes())
        return reply.SerializeToString()

    if all10:
        bodies = (
            payloads.batch_records_request_all_features(n),
            payloads.batch_columns_request_all_features(n),
            payloads.json_records_all_features(n),
            payloads.json_columns_all_features(n),
            payloads.v2_rest_body(n, all_features=True),
            payloads.v2_grpc_request(n, "m", all_features=True),
        )
    else:
        bodies = (
            payloads.batch_records_request(n),
            payloads.batch_columns_request(n),
            payloads.json_records(n),
            payloads.json_columns(n),
            payloads.v2_rest_body(n),
            payloads.v2_grpc_request(n, "m"),
        )
    shapes = (
        ("grpc-batch-records", grpc_records, grpc_encode),
        ("grpc-batch-columns", grpc_columns, grpc_encode),
        ("json-batch", json_records, json_encode),
        ("json-batch-columns", json_columns, json_encode),
        ("v2-rest-infer", v2_rest, v2_rest_encode),
        ("v2-grpc-infer", v2_grpc, v2_grpc_encode),
    )
    return [
        Face(path + suffix, n, body, decode, encode)
        for (path, decode, encode), body in zip(shapes, bodies, strict=True)
    ]


def faces(sizes: Sequence[int] = FLOOR_SIZES) -> list[Face]:
    """Every face at every size with the BMI model's one feature, and at the ten-feature
    size with all ten."""
    out = [face for n in sizes for face in _faces(n, ("bmi",))]
    return out + _faces(payloads.ALL_FEATURES_RECORDS, FEATURE_NAMES)


def measure_face(
    face: Face,
    coefficients: FloatArray,
    intercept: float,
    best_seconds: Callable[[Callable[[], object]], float],
) -> dict[str, float]:
    """Seconds per call of each stage, and the records/s of the three together."""
    columns = face.decode(face.body)
    if len(columns) != len(coefficients) or len(columns[0]) != face.records:
        raise ValueError(f"{face.path}: decoded {len(columns)} columns of {len(columns[0])}")
    predictions = predict_columns(columns, coefficients, intercept)
    seconds = {
        "decode": best_seconds(lambda: face.decode(face.body)),
        "predict": best_seconds(lambda: predict_columns(columns, coefficients, intercept)),
        "encode": best_seconds(lambda: face.encode(predictions)),
    }
    return {
        **{f"{stage}_ms": value * 1e3 for stage, value in seconds.items()},
        "records_per_s": face.records / sum(seconds.values()),
    }


def measure(
    bmi_coefficients: FloatArray,
    intercept: float,
    best_seconds: Callable[[Callable[[], object]], float],
    sizes: Sequence[int] = FLOOR_SIZES,
) -> dict[str, dict[str, dict[str, float]]]:
    """{path: {str(records): {decode_ms, predict_ms, encode_ms, records_per_s}}}."""
    ten = np.linspace(-500.0, 500.0, len(FEATURE_NAMES))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for face in faces(sizes):
        coefficients = ten if face.path.endswith(ALL10) else bmi_coefficients
        figures = measure_face(face, coefficients, intercept, best_seconds)
        out.setdefault(face.path, {})[str(face.records)] = figures
    return out
