"""Triton's own gRPC client (`tritonclient`, from PyPI) against the real server through a
real Envoy: health, metadata, and predictions equal to the model's, bit for bit; its
errors come back as protocol errors with the service's messages."""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from model.artifact import LinearModel
from server.stack.stack import Stack
from tests.oip.conftest import BATCH_LIMIT

CALLS = "tests.oip.triton_grpc_calls"


def _run(function: str, *args: Any, **kwargs: Any) -> Any:
    """In the child: call one function of the Triton calls module."""
    return getattr(importlib.import_module(CALLS), function)(*args, **kwargs)


@pytest.fixture(scope="module")
def triton() -> Iterator[ProcessPoolExecutor]:
    """A spawned child for tritonclient.grpc (see the calls module for why)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture
def call(triton: ProcessPoolExecutor, oip_stack: Stack) -> Any:
    def run(function: str, *args: Any, **kwargs: Any) -> Any:
        return triton.submit(_run, function, oip_stack.grpc_target, *args, **kwargs).result(60)

    return run


def _features(rows: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, size=(rows, 2))


def test_health_and_metadata(call: Any, oip_model: LinearModel) -> None:
    answer = call("health", oip_model.name)
    assert answer["live"] is True
    assert answer["ready"] is True
    assert answer["model_ready"] is True
    assert answer["server"]["name"] == "diabetes-serving"
    model = answer["model"]
    assert model["name"] == oip_model.name
    assert model["versions"] == [oip_model.version]
    assert [(t["name"], t["datatype"], t["shape"]) for t in model["inputs"]] == [
        ("bmi", "FP64", ["-1"]),
        ("bp", "FP64", ["-1"]),
    ]
    assert [t["name"] for t in model["outputs"]] == ["predict", "lower", "upper"]
    assert call("health", oip_model.name, oip_model.version)["model_ready"] is True


def test_one_fp64_input_per_feature_gives_the_models_numbers(
    call: Any, oip_model: LinearModel
) -> None:
    X = _features(5_00)
    answer = call("infer", oip_model.name, [("bmi", "FP64", X[:, 0]), ("bp", "FP64", X[:, 1])])
    assert "error" not in answer
    assert answer["predict"].dtype == np.float64
    assert answer["predict"].tolist() == oip_model.predict(X).tolist()
    assert set(answer) == {"predict", "_response"}
    response = answer["_response"]
    assert response["model_name"] == oip_model.name
    assert response["model_version"] == oip_model.version
    assert response["id"] == "call-1"


def test_one_n_by_k_tensor_in_feature_order(call: Any, oip_model: LinearModel) -> None:
    X = _features(1_000, seed=2)  # exactly the limit
    answer = call("infer", oip_model.name, [("input-0", "FP64", X)], oip_model.version)
    assert answer["predict"].tolist() == oip_model.predict(X).tolist()


def test_fp32_inputs_of_shape_n_by_1(call: Any, oip_model: LinearModel) -> None:
    X = _features(64, seed=3).astype(np.float32)
    inputs = [("bp", "FP32", X[:, 1:2]), ("bmi", "FP32", X[:, 0:1])]
    answer = call("infer", oip_model.name, inputs)
    assert answer["predict"].tolist() == oip_model.predict(X.astype(np.float64)).tolist()


def test_interval_bounds_when_asked(call: Any, oip_model: LinearModel) -> None:
    X = _features(50, seed=4)
    columns = [X[:, 0], X[:, 1]]
    half = oip_model.interval_half_width(columns)
    predictions = oip_model.predict_columns(columns)
    inputs = [("input-0", "FP64", X)]
    by_parameter = call("infer", oip_model.name, inputs, parameters={"include_intervals": True})
    assert by_parameter["lower"].tolist() == (predictions - half).tolist()
    assert by_parameter["upper"].tolist() == (predictions + half).tolist()
    assert by_parameter["predict"].tolist() == predictions.tolist()
    by_name = call("infer", oip_model.name, inputs, outputs=["upper"])
    assert set(by_name) == {"upper", "_response"}
    assert by_name["upper"].tolist() == (predictions + half).tolist()


@pytest.mark.parametrize(
    ("inputs", "status", "message"),
    [
        (
            [("input-0", "INT32", np.ones((3, 2), dtype=np.int32))],
            "INVALID_ARGUMENT",
            "inputs[0] (input-0): datatype INT32 is not supported; send FP64 or FP32",
        ),
        (
            [("input-0", "FP64", np.ones((3, 3)))],
            "INVALID_ARGUMENT",
            "inputs[0] (input-0): shape [3, 3] is not [N, 2]",
        ),
        (
            [("bmi", "FP64", np.ones(3))],
            "INVALID_ARGUMENT",
            "input bp is missing",
        ),
        (
            [("input-0", "FP64", np.ones((BATCH_LIMIT + 1, 2)))],
            "INVALID_ARGUMENT",
            f"batch of {BATCH_LIMIT + 1} records is over the limit of {BATCH_LIMIT} records",
        ),
        (
            [("bmi", "FP64", np.array([0.1, np.nan])), ("bp", "FP64", np.zeros(2))],
            "INVALID_ARGUMENT",
            "input bmi[1] must be a finite number, got nan",
        ),
        (
            [("input-0", "FP64", np.array([[0.1, 0.2], [0.3, np.inf]]))],
            "INVALID_ARGUMENT",
            "input-0[1, 1] (bp) must be a finite number, got inf",
        ),
    ],
)
def test_bad_inputs_are_invalid_argument_with_a_located_message(
    call: Any, oip_model: LinearModel, inputs: list[Any], status: str, message: str
) -> None:
    answer = call("infer", oip_model.name, inputs)
    got_status, got_message = answer["error"]
    assert got_status == f"StatusCode.{status}"
    assert message in got_message


def test_an_unknown_model_or_version_is_not_found_naming_the_served_one(
    call: Any, oip_model: LinearModel
) -> None:
    inputs = [("input-0", "FP64", np.ones((2, 2)))]
    for name, version in (("other", ""), (oip_model.name, "v0")):
        status, message = call("infer", name, inputs, version)["error"]
        assert status == "StatusCode.NOT_FOUND"
        assert f'this server serves model "{oip_model.name}" version "{oip_model.version}"' in (
            message
        )
    status, message = call("health", "other")["error"]
    assert status == "StatusCode.NOT_FOUND"
    # The service keeps serving.
    assert call("health", oip_model.name)["ready"] is True


def test_health_and_reflection_name_both_protocol_services(oip_stack: Stack) -> None:
    services = ("inference.GRPCInferenceService", "diabetes.v1.InferenceRestService")
    with grpc.insecure_channel(oip_stack.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in services:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        assert set(services) <= set(ProtoReflectionDescriptorDatabase(channel).get_services())
