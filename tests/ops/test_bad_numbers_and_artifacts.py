"""Against the real server: overflowing inputs are refused before the drift metrics see
them (the gauges stay finite), and a file watcher fed undecodable artifacts keeps serving the
old model, counts each refusal, and still picks up the next good file."""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import grpc
import pytest

from bench.procs import free_port
from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from tests.ops.test_metrics_and_logs import scrape, value
from tests.support.artifacts import write_test_artifact
from tests.support.ops import replace_artifact
from tests.support.processes import running_server, wait_until

OVERFLOWING = [
    pb.PredictRequest(record=pb.Record(bmi=1e308)),
    pb.PredictRequest(record=pb.Record(bmi=-1e200)),
]
OVERFLOWING_BATCHES = [
    pb.PredictBatchRequest(records=[pb.Record(bmi=0.01), pb.Record(bmi=1e308)]),
    pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.01, 1e300, -1e300])),
    pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[1e308] * 1000), include_intervals=True),
]


def test_overflowing_inputs_leave_the_drift_gauges_finite(tmp_path: Path) -> None:
    model = write_test_artifact(tmp_path / "model.json")
    port = free_port()
    with (
        running_server("--metrics-port", str(port), model=model) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = pb_grpc.PredictionServiceStub(channel)
        for request in OVERFLOWING:
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(request, timeout=5)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "is too large for a finite prediction" in error.value.details()
        for batch in OVERFLOWING_BATCHES:
            with pytest.raises(grpc.RpcError) as error:
                list(stub.PredictBatch(batch, timeout=5))
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        accepted = [0.01, 0.02, -0.03]
        for bmi in accepted:
            reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=bmi)), timeout=5)
            assert math.isfinite(reply.prediction)
        wait_until(
            lambda: value(scrape(port), "diabetes_input_feature_values_total", feature="bmi") == 3,
            10,
            "the drift statistics of the accepted calls",
        )
        samples = scrape(port)
        total = value(samples, "diabetes_input_feature_sum", feature="bmi")
        assert math.isfinite(total)
        assert total == pytest.approx(sum(accepted))
        assert (
            value(samples, "diabetes_calls_total", method="Predict", code="INVALID_ARGUMENT") == 2
        )
        assert (
            value(samples, "diabetes_calls_total", method="PredictBatch", code="INVALID_ARGUMENT")
            == 3
        )


def _version(target: str) -> str:
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        return str(
            stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.02)), timeout=5).model_version
        )


def _reloads(port: int, result: str) -> float:
    return value(scrape(port), "diabetes_model_reloads_total", result=result)


def _reloaded_at_least(port: int, result: str, count: int) -> bool:
    return _reloads(port, result) >= count


BAD_ARTIFACTS = [
    ("non-UTF-8", b'{"name": "\xff\xfe\xfd"}'),
    ("deeply nested", b"[" * 200_000 + b"]" * 200_000),
    ("huge integer", b'{"n_train": ' + b"9" * 10_000 + b"}"),
    ("empty", b""),
]


def test_watcher_survives_undecodable_artifacts_and_reloads_the_next_good_one(
    tmp_path: Path,
) -> None:
    v1 = write_test_artifact(tmp_path / "v1.json", version="watch-v1")
    v2 = write_test_artifact(tmp_path / "v2.json", version="watch-v2", scale=2.0)
    serving = tmp_path / "serving" / "model.json"
    serving.parent.mkdir()
    replace_artifact(serving, v1)
    port = free_port()
    with running_server(
        "--watch-model", "true", "--metrics-port", str(port), model=serving
    ) as server:
        assert _version(server.target) == "watch-v1"
        for refused, (case, content) in enumerate(BAD_ARTIFACTS, start=1):
            serving.write_bytes(content)  # in place, as a careless copy would
            wait_until(
                partial(_reloaded_at_least, port, "refused", refused),
                20,
                f"the {case} artifact to be refused",
            )
            assert _version(server.target) == "watch-v1", case
            assert server.alive()
        # At least one refusal each: the watcher may also catch a file half written.
        assert _reloads(port, "refused") >= len(BAD_ARTIFACTS)
        assert _reloads(port, "ok") == 0

        replace_artifact(serving, v2)
        wait_until(lambda: _reloads(port, "ok") == 1, 20, "the good artifact to be loaded")
        assert _version(server.target) == "watch-v2"
        log = server.log_text()
    assert log.count("model reload refused; still serving watch-v1") >= len(BAD_ARTIFACTS)
    assert "is not UTF-8 text" in log
    assert "is nested too deeply" in log
    assert "Traceback" not in log
