"""A face gets its metrics and access-log fields right by construction: a minimal face, a
decoder and an encoder around the inference core and nothing else (no reporting call of
its own), registered with `server.rpc.add_service` on a real grpc server, is logged and
counted with the model, version and records that answered, and feeds the drift metrics."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from server.faces.prediction_service import SERVICE
from server.inference import Inference, Limits, ModelRef
from server.logs import AccessLog
from server.metrics import ServerMetrics
from server.model_store import ModelStore
from server.rpc import CallObserver, add_service
from server.validation import Batch
from tests.support.artifacts import write_test_artifact


class MinimalFace:
    """PredictionService's two predicting RPCs as decode -> core -> encode, BMI only."""

    def __init__(self, core: Inference) -> None:
        self._core = core

    def Predict(  # noqa: N802 (the contract's method name)
        self, request: pb.PredictRequest, context: grpc.ServicerContext
    ) -> pb.PredictResponse:
        answer = self._core.record(
            ModelRef(request.model, request.version),
            lambda model: [(request.record.bmi, "record.bmi")],
        )
        return pb.PredictResponse(prediction=answer.result.prediction)

    def PredictBatch(  # noqa: N802
        self, request: pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        def decode(model: LinearModel) -> Batch:
            column = np.array([record.bmi for record in request.records])
            return Batch(len(column), "records", lambda: [(column, "records[{}].bmi")])

        answer = self._core.batch(ModelRef(request.model, request.version), decode)
        yield pb.PredictBatchResponse(predictions=answer.predictions.tolist())


@dataclass
class Served:
    stub: Any
    model: LinearModel
    metrics: ServerMetrics
    log: io.StringIO
    access_log: AccessLog

    def access_line(self) -> dict[str, Any]:
        self.access_log.close()
        [line] = [json.loads(line) for line in self.log.getvalue().splitlines()]
        return dict(line)

    def sample(self, metric: str, labels: tuple[str, ...]) -> list[float]:
        return list(self.metrics.samples()[metric][labels])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    store = ModelStore(write_test_artifact(tmp_path / "m.json", version="v7"))
    log = io.StringIO()
    access_log = AccessLog(stream=log)
    metrics = ServerMetrics(registry=None)
    observer = CallObserver(access_log=access_log, metrics=metrics)
    limits = Limits(max_batch_records=5, batch_chunk_records=5, max_receive_message_bytes=1 << 20)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    add_service(server, MinimalFace(Inference(store, limits, observer)), SERVICE, observer)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            yield Served(stub, store.current, metrics, log, access_log)
    finally:
        server.stop(None)


def test_a_record_is_logged_and_counted_with_the_model_that_answered(served: Served) -> None:
    reply = served.stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.05)))
    model = served.model
    assert reply.prediction == model.explain_one([0.05]).prediction
    line = served.access_line()
    assert (line["method"], line["code"], line["records"]) == ("Predict", "OK", 1)
    assert (line["model"], line["model_version"]) == (model.name, "v7")
    assert served.sample("diabetes_model_calls", (model.name, "v7", "OK")) == [1.0]
    assert served.sample("diabetes_call_records", ("Predict",))[-1] == 1.0
    assert served.sample("diabetes_input_feature_values", ("bmi",)) == [1.0]


def test_a_batch_is_logged_and_counted_with_its_records(served: Served) -> None:
    records = [pb.Record(bmi=value) for value in (0.01, 0.02, 0.03)]
    [reply] = served.stub.PredictBatch(pb.PredictBatchRequest(records=records))
    assert len(reply.predictions) == 3
    line = served.access_line()
    assert (line["method"], line["code"], line["records"]) == ("PredictBatch", "OK", 3)
    assert (line["model"], line["model_version"]) == (served.model.name, "v7")
    assert served.sample("diabetes_model_calls", (served.model.name, "v7", "OK")) == [1.0]
    assert served.sample("diabetes_call_records", ("PredictBatch",))[-1] == 3.0
    assert served.sample("diabetes_input_feature_values", ("bmi",)) == [3.0]


def test_a_refused_batch_names_the_model_and_the_core_s_message(served: Served) -> None:
    records = [pb.Record(bmi=0.0)] * 6
    with pytest.raises(grpc.RpcError) as caught:
        next(served.stub.PredictBatch(pb.PredictBatchRequest(records=records)))
    message = (
        "batch of 6 records is over the limit of 5 records per call; split it into several calls"
    )
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
    )
    line = served.access_line()
    assert (line["code"], line["records"], line["error"]) == ("INVALID_ARGUMENT", 0, message)
    assert (line["model"], line["model_version"]) == (served.model.name, "v7")
    assert served.sample("diabetes_model_calls", (served.model.name, "v7", "INVALID_ARGUMENT")) == [
        1.0
    ]


def test_a_non_finite_value_is_refused_by_the_core_naming_its_position(served: Served) -> None:
    records = [pb.Record(bmi=0.0), pb.Record(bmi=float("nan"))]
    with pytest.raises(grpc.RpcError) as caught:
        next(served.stub.PredictBatch(pb.PredictBatchRequest(records=records)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "records[1].bmi must be a finite number, got nan"
