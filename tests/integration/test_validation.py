"""Every validation error: INVALID_ARGUMENT with a message naming the field and index;
the server keeps serving afterwards."""

from __future__ import annotations

import math
import sys

import grpc
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from tests.integration.conftest import BATCH_LIMIT
from tests.support.processes import ServerProcess

NAN, INF, MAX = float("nan"), float("inf"), sys.float_info.max

PREDICT_CASES = [
    ("missing feature", pb.Record(bmi=0.05), "record.bp is missing; this model needs bmi, bp"),
    ("no record", None, "record.bmi is missing"),
    ("NaN", pb.Record(bmi=NAN, bp=0.0), "record.bmi must be a finite number, got nan"),
    ("infinity", pb.Record(bmi=0.0, bp=-INF), "record.bp must be a finite number, got -inf"),
    (
        "prediction overflows",
        pb.Record(bmi=1e308, bp=0.0),
        "record.bmi: 1e+308 is too large for a finite prediction and interval",
    ),
    ("interval overflows", pb.Record(bmi=0.0, bp=-1e200), "record.bp: -1e+200 is too large"),
    ("largest double", pb.Record(bmi=0.0, bp=MAX), "record.bp: 1.79769e+308 is too large"),
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
        "overflow at index",
        pb.PredictBatchRequest(records=[*_records(5), pb.Record(bmi=0.1, bp=-1e308)]),
        "records[5].bp: -1e+308 is too large for a finite prediction and interval",
    ),
    (
        "overflow in column, intervals not asked for",
        pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.0, 0.1, 1e300], bp=[0.0] * 3)),
        "columns.bmi[2]: 1e+300 is too large",
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


def test_values_within_the_model_limit_give_finite_answers(
    stub: pb_grpc.PredictionServiceStub, two_feature_model: LinearModel
) -> None:
    """The refusal is not a blanket one: the largest values the model takes are answered,
    and every number in the answer is finite."""
    limit = two_feature_model.input_limit
    assert 1e100 < limit < 1e200
    reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=limit, bp=-limit)))
    numbers = [reply.prediction, reply.interval.lower, reply.interval.upper]
    assert all(math.isfinite(n) for n in [*numbers, *reply.contributions.values()]), reply
    batch = pb.PredictBatchRequest(
        columns=pb.FeatureColumns(bmi=[limit, -limit, 0.0], bp=[limit, limit, -limit]),
        include_intervals=True,
    )
    (answer,) = stub.PredictBatch(batch)
    numbers = [*answer.predictions, *answer.lower, *answer.upper]
    assert len(numbers) == 9
    assert all(math.isfinite(n) for n in numbers), answer
    with pytest.raises(grpc.RpcError) as error:
        stub.Predict(pb.PredictRequest(record=pb.Record(bmi=limit * 1.01, bp=0.0)))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


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
