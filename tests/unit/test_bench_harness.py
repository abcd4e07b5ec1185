"""The benchmark's plumbing that needs no load: bodies, generator output parsing, process
accounting, the no-op servers' ready-made replies and the in-process floors' decoders."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from google.api import httpbody_pb2

from bench import floors, noop_replies, payloads
from bench.loadgen import _parse_h2load
from bench.procs import cpu_seconds, process_tree, rss_bytes
from diabetes.inference import open_inference_grpc_pb2 as v2
from diabetes.v1 import json_pb2
from diabetes.v1 import prediction_pb2 as pb

H2LOAD_OUTPUT = """\
finished in 504.23ms, 7278.00 req/s, 455.26KB/s
requests: 3639 total, 3640 started, 3639 done, 3637 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 3637 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 227.63KB (233091) total, 10.73KB (10992) headers (space savings 96.27%), \
17.77KB (18195) data
"""


def test_h2load_output_is_read_with_units_and_failures() -> None:
    result = _parse_h2load(H2LOAD_OUTPUT, np.array([100.0, 200.0, 300.0]))
    assert result.requests == 3637
    assert result.failed == 2
    assert result.seconds == pytest.approx(0.50423)
    assert result.data_bytes == 18195
    assert result.p50_ms == 0.2


def test_grpc_bodies_are_length_prefixed_messages() -> None:
    framed = payloads.grpc_frame(payloads.batch_columns_request(100))
    assert framed[0] == 0
    assert int.from_bytes(framed[1:5], "big") == len(framed) - 5
    request = pb.PredictBatchRequest.FromString(framed[5:])
    assert list(request.columns.bmi) == payloads.bmi_values(100)


def test_every_form_carries_the_same_values() -> None:
    records = pb.PredictBatchRequest.FromString(payloads.batch_records_request(50))
    assert [r.bmi for r in records.records] == payloads.bmi_values(50)
    assert payloads.json_columns(3).startswith(b'{"bmi":[')


def test_process_accounting_reads_this_process() -> None:
    pid = os.getpid()
    assert process_tree(pid)[0] == pid
    assert cpu_seconds([pid]) > 0
    assert rss_bytes([pid]) > 1024 * 1024
    assert cpu_seconds([2**22 + 7]) == 0  # a pid that does not exist counts nothing


def test_noop_replies_answer_each_bulk_body_with_as_many_predictions() -> None:
    replies = noop_replies.build()
    batch = replies[(noop_replies.PREDICTION, "PredictBatch")]
    for n, body in (
        (10_000, payloads.batch_records_request(10_000)),
        (100_000, payloads.batch_columns_request(100_000)),
        (10_000, payloads.batch_columns_request_all_features(10_000)),
    ):
        chunks = [pb.PredictBatchResponse.FromString(c) for c in batch.for_request(body)]
        assert sum(len(c.predictions) for c in chunks) == n
        assert max(len(c.predictions) for c in chunks) == noop_replies.CHUNK
    infer = replies[(noop_replies.V2_GRPC, "ModelInfer")]
    for n, body in (
        (100_000, payloads.v2_grpc_request(100_000, noop_replies.MODEL_NAME)),
        (10_000, payloads.v2_grpc_request(10_000, noop_replies.MODEL_NAME_ALL, True)),
    ):
        (reply,) = infer.for_request(body)
        answer = v2.ModelInferResponse.FromString(reply)
        assert len(answer.raw_output_contents[0]) == 8 * n
    lane = replies[(noop_replies.JSON_LANE, "PredictJsonRecords")]
    request = json_pb2.PredictJsonRecordsRequest(
        body=httpbody_pb2.HttpBody(
            content_type="application/x-www-form-urlencoded", data=payloads.json_records(10_000)
        )
    )
    pieces = lane.for_request(request.SerializeToString())
    document = json.loads(b"".join(httpbody_pb2.HttpBody.FromString(p).data for p in pieces))
    assert len(document["predictions"]) == 10_000


def test_floors_decode_every_face_to_the_bodies_values() -> None:
    values = payloads.bmi_values(100)
    rows = payloads.all_features_rows(payloads.ALL_FEATURES_RECORDS)
    for face in floors.faces((100,)):
        columns = face.decode(face.body)
        if face.path.endswith(floors.ALL10):
            assert [c[0] for c in columns] == rows[0]
        else:
            assert columns[0].tolist() == values
        assert face.encode(np.array(values)) != b""
