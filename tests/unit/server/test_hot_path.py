"""Regression guards that need no timing: the batch path calls the model once per batch
(vectorised), never once per record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from server.app import RunningServer
from server.config import ServerConfig
from server.model_store import ModelStore
from tests.support.artifacts import write_test_artifact


class CallCounter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def wrap(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        original = getattr(LinearModel, name)

        def counted(model: LinearModel, *args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return original(model, *args, **kwargs)

        monkeypatch.setattr(LinearModel, name, counted)


@pytest.fixture
def in_process_stub(tmp_path: Path) -> Iterator[pb_grpc.PredictionServiceStub]:
    artifact = write_test_artifact(tmp_path / "model.json", features=("bmi", "bp"))
    config = ServerConfig(port=0, model_path=artifact, batch_chunk_records=1000, access_log=False)
    running = RunningServer(config, ModelStore(artifact))
    running.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            yield pb_grpc.PredictionServiceStub(channel)
    finally:
        running.stop(grace=1)


@pytest.mark.parametrize("form", ["records", "columns"])
def test_batch_calls_the_model_once_per_batch(
    monkeypatch: pytest.MonkeyPatch, in_process_stub: pb_grpc.PredictionServiceStub, form: str
) -> None:
    counter = CallCounter()
    for name in ("predict_columns", "interval_half_width", "out_of_range", "explain_one"):
        counter.wrap(monkeypatch, name)
    values = np.linspace(-0.05, 0.05, 5000)
    if form == "records":
        request = pb.PredictBatchRequest(
            records=[pb.Record(bmi=v, bp=v) for v in values.tolist()], include_intervals=True
        )
    else:
        request = pb.PredictBatchRequest(
            columns=pb.FeatureColumns(bmi=values.tolist(), bp=values.tolist()),
            include_intervals=True,
        )
    replies = list(in_process_stub.PredictBatch(request))
    assert len(replies) == 5  # chunks of 1000
    assert counter.calls == {"predict_columns": 1, "interval_half_width": 1, "out_of_range": 1}


def test_predict_takes_the_scalar_path(
    monkeypatch: pytest.MonkeyPatch, in_process_stub: pb_grpc.PredictionServiceStub
) -> None:
    counter = CallCounter()
    for name in ("predict_columns", "explain_one"):
        counter.wrap(monkeypatch, name)
    in_process_stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.01, bp=0.02)))
    assert counter.calls == {"explain_one": 1}
