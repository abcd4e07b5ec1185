"""Request bodies, written once per run to files the load generators send.

Every system gets the same BMI values (a fixed seed, inside the training range), so a
batch of n records is the same input for the service and for MLServer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from diabetes.inference import open_inference_grpc_pb2 as v2
from diabetes.v1 import prediction_pb2 as pb
from model.features import FEATURE_NAMES

BATCH_SIZES = (1, 100, 1_000, 10_000, 100_000)
ALL_FEATURES_RECORDS = 10_000
SINGLE_BMI = 0.0617


def bmi_values(n: int) -> list[float]:
    rng = np.random.default_rng(20_260_101)
    return [float(v) for v in np.round(rng.uniform(-0.08, 0.16, n), 6)]


def grpc_frame(message: bytes) -> bytes:
    """The gRPC length-prefixed message: no compression flag, 4-byte big-endian length."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def predict_request() -> bytes:
    return pb.PredictRequest(record=pb.Record(bmi=SINGLE_BMI)).SerializeToString()


def batch_records_request(n: int) -> bytes:
    records = [pb.Record(bmi=v) for v in bmi_values(n)]
    return pb.PredictBatchRequest(records=records).SerializeToString()


def batch_columns_request(n: int) -> bytes:
    request = pb.PredictBatchRequest()
    request.columns.bmi.extend(bmi_values(n))
    return request.SerializeToString()


def json_record() -> bytes:
    return json.dumps({"bmi": SINGLE_BMI}).encode()


def json_records(n: int) -> bytes:
    return json.dumps([{"bmi": v} for v in bmi_values(n)], separators=(",", ":")).encode()


def all_features_rows(n: int) -> list[list[float]]:
    """n rows of all ten features, in the contract's feature order (the same for every system)."""
    rng = np.random.default_rng(20_260_102)
    rows: list[list[float]] = np.round(
        rng.uniform(-0.05, 0.05, (n, len(FEATURE_NAMES))), 6
    ).tolist()
    return rows


def json_records_all_features(n: int) -> bytes:
    """n records of all ten features (the values of a model trained on all of them)."""
    records = [dict(zip(FEATURE_NAMES, row, strict=True)) for row in all_features_rows(n)]
    return json.dumps(records, separators=(",", ":")).encode()


def json_columns_all_features(n: int) -> bytes:
    columns = zip(*all_features_rows(n), strict=True)
    body = {name: list(column) for name, column in zip(FEATURE_NAMES, columns, strict=True)}
    return json.dumps(body, separators=(",", ":")).encode()


def batch_records_request_all_features(n: int) -> bytes:
    records = [
        pb.Record(**dict(zip(FEATURE_NAMES, row, strict=True))) for row in all_features_rows(n)
    ]
    return pb.PredictBatchRequest(records=records).SerializeToString()


def batch_columns_request_all_features(n: int) -> bytes:
    request = pb.PredictBatchRequest()
    for name, column in zip(FEATURE_NAMES, zip(*all_features_rows(n), strict=True), strict=True):
        getattr(request.columns, name).extend(column)
    return request.SerializeToString()


def json_columns(n: int) -> bytes:
    return json.dumps({"bmi": bmi_values(n)}, separators=(",", ":")).encode()


# The Open Inference Protocol (V2) rows: the batch sizes, and bodies shaped like the ones
# MLServer gets (one FP64 input "bmi" of shape [n, 1]), so the comparison is like for like.
# The ten-feature bodies are one [n, 10] input, the layout MLServer's sklearn runtime takes.
V2_SIZES = (10_000, 100_000)


def _v2_input(n: int, all_features: bool) -> tuple[str, list[int], list[float]]:
    if all_features:
        rows = all_features_rows(n)
        return "input-0", [n, len(FEATURE_NAMES)], [v for row in rows for v in row]
    return "bmi", [n, 1], bmi_values(n)


def v2_rest_body(n: int, all_features: bool = False) -> bytes:
    name, shape, data = _v2_input(n, all_features)
    tensor = {"name": name, "shape": shape, "datatype": "FP64", "data": data}
    return json.dumps({"inputs": [tensor]}, separators=(",", ":")).encode()


def v2_grpc_request(n: int, model_name: str, all_features: bool = False) -> bytes:
    name, shape, data = _v2_input(n, all_features)
    request = v2.ModelInferRequest(model_name=model_name)
    tensor = request.inputs.add(name=name, datatype="FP64", shape=shape)
    tensor.contents.fp64_contents.extend(data)
    return request.SerializeToString()


def write(directory: Path, name: str, body: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(body)
    return path
