"""Every validation error: INVALID_ARGUMENT with a message naming the field and index;
the server keeps serving afterwards."""

from __future__ import annotations

import grpc
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from tests.integration.conftest import BATCH_LIMIT
from tests.support.processes import ServerProcess

NAN, INF = float("nan"), float("inf")

PREDICT_CASES = [
    ("missing feature", pb.Record(bmi=0.05), "record.bp is missing; this model needs bmi, bp"),
    ("no record", None, "record.bmi is missing"),
    ("NaN", pb.Record(bmi=NAN, bp=0.0), "record.bmi must be a finite number, got nan"),
    ("infinity", pb.Record(bmi=0.0, bp=-INF), "record.bp must be a finite number, got -inf"),
]


@pytest.mark.parametrize(
    ("case", "record", "message"), PREDICT_CASES, ids=[case[0] for case in PREDICT_CASES]
)
def test_predict_rejects(
    stub: pb_grpc.PredictionServiceStub, case: str, record: pb.Record | None, message: str
) -> None:
    request = pb.PredictRequest() if record is None else pb.PredictRequest(record=record)
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()


def _records(count: int) -> list[pb.Record]:
    return [pb.Record(bmi=0.01, bp=0.02) for _ in range(count)]


BATCH_CASES = [
    ("empty", pb.PredictBatchRequest(), "records is empty: send at least one record"),
    (
        "empty columns",
        pb.PredictBatchRequest(columns=pb.FeatureColumns()),
        "columns is empty: send at least one record",
    ),
    (
        "missing feature at index",
        pb.PredictBatchRequest(records=[*_records(7), pb.Record(bmi=0.1), *_records(3)]),
        "records[7].bp is missing; this model needs bmi, bp",
    ),
    (
        "zero is not missing, absent is",
        pb.PredictBatchRequest(records=[pb.Record(bmi=0.0, bp=0.0), pb.Record(bp=0.0)]),
        "records[1].bmi is missing",
    ),
    (
        "several missing",
        pb.PredictBatchRequest(records=[pb.Record(bmi=1), pb.Record(bmi=2)]),
        "records[0].bp is missing (and 1 more records)",
    ),
    (
        "NaN at index",
        pb.PredictBatchRequest(records=[*_records(4), pb.Record(bmi=NAN, bp=0)]),
        "records[4].bmi must be a finite number, got nan",
    ),
    (
        "infinity in column",
        pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.0, 0.1], bp=[0.0, INF])),
        "columns.bp[1] must be a finite number, got inf",
    ),
    (
        "column missing",
        pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.1, 0.2])),
        "columns.bp is missing",
    ),
    (
        "columns of different lengths",
        pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.1, 0.2], bp=[0.1])),
        "columns.bp has 1 values but columns.bmi has 2",
    ),
    (
        "records and columns",
        pb.PredictBatchRequest(records=_records(1), columns=pb.FeatureColumns(bmi=[0.1], bp=[0.1])),
        "set either records or columns, not both",
    ),
    (
        "over the limit",
        pb.PredictBatchRequest(
            columns=pb.FeatureColumns(bmi=[0.1] * (BATCH_LIMIT + 1), bp=[0.1] * (BATCH_LIMIT + 1))
        ),
        f"batch of {BATCH_LIMIT + 1} records is over the limit of {BATCH_LIMIT} records per call",
    ),
]


@pytest.mark.parametrize(
    ("case", "request_", "message"), BATCH_CASES, ids=[case[0] for case in BATCH_CASES]
)
def test_batch_rejects_before_any_reply(
    stub: pb_grpc.PredictionServiceStub, case: str, request_: pb.PredictBatchRequest, message: str
) -> None:
    replies = stub.PredictBatch(request_)
    received = []
    with pytest.raises(grpc.RpcError) as error:
        received.extend(replies)
    assert received == []
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error.value.details()


def test_server_still_serves_after_bad_input(stub: pb_grpc.PredictionServiceStub) -> None:
    for _case, record, _message in PREDICT_CASES:
        with pytest.raises(grpc.RpcError):
            stub.Predict(pb.PredictRequest(record=record))
    reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.05, bp=0.01)))
    assert reply.prediction > 0


def test_oversized_message_is_refused_cleanly(two_feature_server: ServerProcess) -> None:
    # 34 MiB of packed doubles: over the server's 33 MiB receive limit.
    values = [0.1] * (34 * 1024 * 1024 // 8)
    with grpc.insecure_channel(
        two_feature_server.target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            list(stub.PredictBatch(pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=values))))
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.0, bp=0.0))).prediction
