"""Native gRPC through Envoy's public port, a 10-feature model at the size caps, and the
JSON error when no server is up."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel, load_artifact
from model.features import FEATURE_NAMES
from server.contract import SERVICE_NAME
from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.stack import running_stack


def test_native_grpc_passes_through_envoy(stack: Stack, bundled_model: LinearModel) -> None:
    with grpc.insecure_channel(stack.grpc_target) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.03)), timeout=10)
        assert reply.prediction == bundled_model.predict(np.array([[0.03]]))[0]
        values = np.linspace(-0.1, 0.2, 30_000)
        chunks = list(
            stub.PredictBatch(
                pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=values.tolist())), timeout=30
            )
        )
        assert [chunk.offset for chunk in chunks] == [0, 10_000, 20_000]
        np.testing.assert_array_equal(
            np.concatenate([chunk.predictions for chunk in chunks]),
            bundled_model.predict(values[:, None]),
        )
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert SERVICE_NAME in services
        assert "diabetes.v1.JsonPredictionService" in services
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(pb.PredictRequest(record=pb.Record(bp=0.03)), timeout=10)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "record.bmi is missing" in (error.value.details() or "")


def test_100k_records_of_all_ten_features_fit_the_caps(tmp_path: Path) -> None:
    artifact = write_test_artifact(tmp_path / "all.json", features=FEATURE_NAMES)
    model = load_artifact(artifact)
    inputs = np.random.default_rng(3).normal(0, 0.05, size=(100_000, 10))
    body = json.dumps([dict(zip(FEATURE_NAMES, row, strict=True)) for row in inputs.tolist()])
    assert 20 << 20 < len(body) < 32 << 20  # about 27 MiB of JSON, under the 32 MiB cap
    with running_stack(model=artifact) as stack:
        reply = requests.post(
            f"{stack.http_url}/batch?include_intervals=true", data=body, timeout=120
        )
        assert reply.status_code == 200, reply.text[:300]
        answer = reply.json()
    np.testing.assert_array_equal(answer["predictions"], model.predict(inputs))
    assert len(answer["upper"]) == 100_000


def test_upstream_down_is_503_json(tmp_path: Path) -> None:
    with running_stack(model=write_test_artifact(tmp_path / "m.json")) as stack:
        for server in stack.servers:
            server.terminate()
            server.wait(30)
        reply = requests.post(f"{stack.http_url}/stream", data='{"bmi": 0.1}', timeout=30)
        assert reply.status_code == 503
        error = reply.json()
        assert error["code"] == 14
        assert error["message"].startswith("service unavailable")
        assert error["details"] == []
