"""What the no-op server answers to a bulk call: ready-made replies the size of the
service's, chosen by the request's length alone (the handler never parses the request).

The bulk ceilings need the transport's whole cost, the request's bytes in and an answer's
bytes out, without any of the service's work. The bench's bodies are deterministic
(`bench.payloads`), so the no-op builds the same requests at start, notes their lengths, and
answers a request with the reply of the nearest length for its method: same bytes in, the
same amount of bytes out (answers in chunks of `CHUNK` records, as the service streams them).
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from google.api import httpbody_pb2

from bench import payloads
from diabetes.inference import open_inference_grpc_pb2 as v2
from diabetes.v1 import inference_rest_pb2, json_pb2
from diabetes.v1 import prediction_pb2 as pb

CHUNK = 10_000
SIZES = (10_000, 100_000)
ALL_FEATURES_SIZES = (payloads.ALL_FEATURES_RECORDS,)
MODEL_NAME = "noop"
# What a ten-feature V2 gRPC request names: 100,000 BMI values and 10,000 ten-feature rows
# are the same number of doubles, so only the name tells their requests' lengths apart.
MODEL_NAME_ALL = "noop-all10"
MODEL_VERSION = "v1"

PREDICTION = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
JSON_LANE = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"].full_name
V2_REST = inference_rest_pb2.DESCRIPTOR.services_by_name["InferenceRestService"].full_name
V2_GRPC = v2.DESCRIPTOR.services_by_name["GRPCInferenceService"].full_name


@dataclass(frozen=True)
class Replies:
    """The replies of one method, by the length of the request they answer."""

    lengths: tuple[int, ...]  # sorted
    answers: tuple[tuple[bytes, ...], ...]  # the reply messages for each length

    def for_request(self, request: bytes) -> tuple[bytes, ...]:
        if not self.lengths:
            return (b"",)
        at = bisect.bisect_left(self.lengths, len(request))
        nearby = [i for i in (at - 1, at) if 0 <= i < len(self.lengths)]
        best = min(nearby, key=lambda i: abs(self.lengths[i] - len(request)))
        return self.answers[best]


def predictions(n: int) -> list[float]:
    """Values shaped like real predictions (about 17 significant digits each)."""
    return [float(v) for v in 152.0 + 950.0 * np.array(payloads.bmi_values(n)) + 1e-9 / 3]


def _chunks(n: int) -> list[list[float]]:
    values = predictions(n)
    return [values[start : start + CHUNK] for start in range(0, n, CHUNK)]


def _batch_reply(n: int) -> tuple[bytes, ...]:
    return tuple(
        pb.PredictBatchResponse(predictions=chunk, model_version=MODEL_VERSION).SerializeToString()
        for chunk in _chunks(n)
    )


def _json_reply(n: int) -> tuple[bytes, ...]:
    """The JSON lane's answer, one HttpBody per chunk."""
    head = json.dumps({"model_name": MODEL_NAME, "model_version": MODEL_VERSION})[:-1]
    pieces = [",".join(map(repr, chunk)) for chunk in _chunks(n)]
    pieces[0] = f'{head},"predictions":[{pieces[0]}'
    pieces = [pieces[0], *("," + piece for piece in pieces[1:])]
    pieces[-1] += '],"out_of_range_indices":[]}'
    return tuple(
        httpbody_pb2.HttpBody(
            content_type="application/json", data=piece.encode()
        ).SerializeToString()
        for piece in pieces
    )


def _v2_rest_reply(n: int) -> tuple[bytes, ...]:
    output = {"name": "predict", "shape": [n, 1], "datatype": "FP64", "data": predictions(n)}
    document = {"model_name": MODEL_NAME, "model_version": MODEL_VERSION, "outputs": [output]}
    body = json.dumps(document, separators=(",", ":")).encode()
    return (httpbody_pb2.HttpBody(content_type="application/json", data=body).SerializeToString(),)


def _v2_grpc_reply(n: int) -> tuple[bytes, ...]:
    reply = v2.ModelInferResponse(model_name=MODEL_NAME, model_version=MODEL_VERSION)
    reply.outputs.add(name="predict", datatype="FP64", shape=[n, 1])
    reply.raw_output_contents.append(np.array(predictions(n), "<f8").tobytes())
    return (reply.SerializeToString(),)


def _lane_request(message: Callable[..., object], body: bytes) -> int:
    # Envoy adds the caller's content type; a typical one keeps the length close.
    request = message(body=httpbody_pb2.HttpBody(content_type="application/json", data=body))
    return len(request.SerializeToString())  # type: ignore[attr-defined]


def _v2_rest_request(body: bytes) -> int:
    request = inference_rest_pb2.InferRequest(
        model_name=MODEL_NAME,
        body=httpbody_pb2.HttpBody(content_type="application/json", data=body),
    )
    return len(request.SerializeToString())


def _table(entries: Sequence[tuple[int, tuple[bytes, ...]]]) -> Replies:
    ordered = sorted(entries)
    return Replies(tuple(e[0] for e in ordered), tuple(e[1] for e in ordered))


def build() -> dict[tuple[str, str], Replies]:
    """(service, method) -> replies, for every bulk body the bench sends."""
    n_all = ALL_FEATURES_SIZES
    grpc_batch = [(len(payloads.batch_records_request(n)), _batch_reply(n)) for n in SIZES]
    grpc_batch += [(len(payloads.batch_columns_request(n)), _batch_reply(n)) for n in SIZES]
    grpc_batch += [
        (len(payloads.batch_records_request_all_features(n)), _batch_reply(n)) for n in n_all
    ]
    grpc_batch += [
        (len(payloads.batch_columns_request_all_features(n)), _batch_reply(n)) for n in n_all
    ]
    records = json_pb2.PredictJsonRecordsRequest
    columns = json_pb2.PredictJsonColumnsRequest
    json_records = [
        (_lane_request(records, payloads.json_records(n)), _json_reply(n)) for n in SIZES
    ]
    json_records += [
        (_lane_request(records, payloads.json_records_all_features(n)), _json_reply(n))
        for n in n_all
    ]
    json_columns = [
        (_lane_request(columns, payloads.json_columns(n)), _json_reply(n)) for n in SIZES
    ]
    json_columns += [
        (_lane_request(columns, payloads.json_columns_all_features(n)), _json_reply(n))
        for n in n_all
    ]
    v2_rest = [(_v2_rest_request(payloads.v2_rest_body(n)), _v2_rest_reply(n)) for n in SIZES]
    v2_rest += [
        (_v2_rest_request(payloads.v2_rest_body(n, all_features=True)), _v2_rest_reply(n))
        for n in n_all
    ]
    v2_grpc = [(len(payloads.v2_grpc_request(n, MODEL_NAME)), _v2_grpc_reply(n)) for n in SIZES]
    v2_grpc += [
        (len(payloads.v2_grpc_request(n, MODEL_NAME_ALL, all_features=True)), _v2_grpc_reply(n))
        for n in n_all
    ]
    return {
        (PREDICTION, "PredictBatch"): _table(grpc_batch),
        (JSON_LANE, "PredictJsonRecords"): _table(json_records),
        (JSON_LANE, "PredictJsonColumns"): _table(json_columns),
        (V2_REST, "Infer"): _table(v2_rest),
        (V2_GRPC, "ModelInfer"): _table(v2_grpc),
    }
