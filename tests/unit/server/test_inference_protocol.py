"""The Open Inference Protocol servicer in process, on a real grpc server (add_service,
real metrics and access log): the `*_contents` and raw layouts, readiness while draining,
and the records counted like the typed RPCs'. Triton's client is exercised against the
real stack in tests/oip."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from diabetes.inference import open_inference_grpc_pb2 as pb
from model.artifact import LinearModel
from server.faces.oip_grpc import SERVICE, OpenInferenceGrpcServicer
from server.inference import Inference, Limits
from server.logs import AccessLog
from server.metrics import ServerMetrics
from server.model_store import ModelStore
from server.rpc import CallObserver, add_service
from tests.support.artifacts import write_test_artifact


@dataclass
class Served:
    channel: grpc.Channel
    model: LinearModel
    ready: threading.Event
    metrics: ServerMetrics
    log: io.StringIO
    access_log: AccessLog

    def call(self, method: str, request: Any) -> Any:
        reply_type: Any = {
            "ModelInfer": pb.ModelInferResponse,
            "ServerReady": pb.ServerReadyResponse,
            "ModelReady": pb.ModelReadyResponse,
        }[method]
        rpc = self.channel.unary_unary(
            f"/{SERVICE.full_name}/{method}",
            request_serializer=type(request).SerializeToString,
            response_deserializer=reply_type.FromString,
        )
        return rpc(request, timeout=10)


def _limits(max_batch_records: int) -> Limits:
    return Limits(max_batch_records, batch_chunk_records=1000, max_receive_message_bytes=1 << 20)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    store = ModelStore(write_test_artifact(tmp_path / "m.json", features=("bmi", "bp")))
    log = io.StringIO()
    access_log = AccessLog(stream=log)
    metrics = ServerMetrics(registry=None)
    observer = CallObserver(access_log=access_log, metrics=metrics)
    ready = threading.Event()
    ready.set()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    core = Inference(store, _limits(100), observer)
    add_service(server, OpenInferenceGrpcServicer(core, ready.is_set), SERVICE, observer)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(channel, store.current, ready, metrics, log, access_log)
    finally:
        server.stop(None)


def _request(model: LinearModel, **fields: Any) -> pb.ModelInferRequest:
    return pb.ModelInferRequest(model_name=model.name, **fields)


def _tensor(name: str, datatype: str, shape: list[int], **contents: Any) -> Any:
    return pb.ModelInferRequest.InferInputTensor(
        name=name,
        datatype=datatype,
        shape=shape,
        contents=pb.InferTensorContents(**contents) if contents else None,
    )


def _predictions(reply: pb.ModelInferResponse, index: int = 0) -> list[float]:
    values: list[float] = np.frombuffer(reply.raw_output_contents[index], dtype="<f8").tolist()
    return values


def test_fp64_contents_per_feature(served: Served) -> None:
    X = np.array([[0.01, -0.02], [0.05, 0.03], [-0.04, 0.0]])
    request = _request(
        served.model,
        inputs=[
            _tensor("bmi", "FP64", [3], fp64_contents=X[:, 0].tolist()),
            _tensor("bp", "FP64", [3, 1], fp64_contents=X[:, 1].tolist()),
        ],
    )
    reply = served.call("ModelInfer", request)
    assert [(o.name, o.datatype, list(o.shape)) for o in reply.outputs] == [
        ("predict", "FP64", [3])
    ]
    assert _predictions(reply) == served.model.predict(X).tolist()


def test_fp32_contents_as_one_matrix(served: Served) -> None:
    X = np.array([[0.01, -0.02], [0.05, 0.03]], dtype=np.float32)
    request = _request(
        served.model,
        inputs=[_tensor("x", "FP32", [2, 2], fp32_contents=X.ravel().tolist())],
    )
    reply = served.call("ModelInfer", request)
    assert _predictions(reply) == served.model.predict(X.astype(np.float64)).tolist()


def test_raw_little_endian_contents(served: Served) -> None:
    X = np.array([[0.01, -0.02], [0.05, 0.03]])
    request = _request(
        served.model,
        inputs=[_tensor("x", "FP64", [2, 2])],
        raw_input_contents=[X.astype("<f8").tobytes()],
    )
    reply = served.call("ModelInfer", request)
    assert _predictions(reply) == served.model.predict(X).tolist()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"inputs": [_tensor("x", "FP64", [2, 2])], "raw_input_contents": [b"\0" * 12]},
            "raw_input_contents[0] (x) has 12 bytes, not a whole number of FP64 values",
        ),
        (
            {"inputs": [_tensor("x", "FP64", [2, 2])], "raw_input_contents": [b"\0" * 8]},
            "inputs[0] (x): shape [2, 2] needs 4 values, got 1",
        ),
        (
            {"inputs": [_tensor("x", "FP64", [2, 2]), _tensor("y", "FP64", [2])]},
            'inputs[0] (x): no feature is named "x"',
        ),
        (
            {"inputs": [_tensor("bmi", "FP64", [1], fp64_contents=[0.1])] * 2},
            "inputs[1] (bmi): input bmi is sent twice",
        ),
        (
            {
                "inputs": [
                    _tensor("bmi", "FP64", [2], fp64_contents=[0.1, 0.2]),
                    _tensor("bp", "FP64", [1], fp64_contents=[0.1]),
                ]
            },
            "input bp has 1 values but input bmi has 2; every input needs one value per record",
        ),
        ({"inputs": []}, "inputs is empty"),
        (
            {"inputs": [_tensor("x", "FP64", [1] * 9, fp64_contents=[0.1])]},
            "inputs[0] (x): shape has 9 dimensions; at most 8",
        ),
        (
            {"inputs": [_tensor("x", "FP64", [1, 2], fp64_contents=[0.1] * 3)]},
            "inputs[0] (x): shape [1, 2] needs 2 values, got 3",
        ),
        (
            {"inputs": [_tensor("x" * 100, "FP64", [1, 2], fp64_contents=[0.1])]},
            f"inputs[0] ({'x' * 61}...): shape [1, 2] needs 2 values, got 1",
        ),
        (
            {
                "id": "i" * 1_025,
                "inputs": [_tensor("x", "FP64", [1, 2], fp64_contents=[0.1, 0.2])],
            },
            f'id is 1025 characters long; at most 1024: "{"i" * 61}..."',
        ),
        (
            {"inputs": [_tensor("{x}", "FP64", [1, 2], fp64_contents=[float("nan"), 0.0])]},
            "{x}[0, 0] (bmi) must be a finite number, got nan",
        ),
        (
            {"inputs": [_tensor("{x}", "FP64", [0, 2], fp64_contents=[])]},
            "{x} is empty: send at least one record",
        ),
        (
            {"inputs": [_tensor("bmi", "F" * 100, [1])]},
            f"inputs[0] (bmi): datatype {'F' * 61}... is not supported",
        ),
        (
            {
                "inputs": [_tensor("x", "FP64", [1, 2], fp64_contents=[0.1, 0.2])],
                "outputs": [pb.ModelInferRequest.InferRequestedOutputTensor(name="mean")],
            },
            'output "mean" is not produced by this model; it produces predict, lower, upper',
        ),
        (
            {
                "inputs": [_tensor("x", "FP64", [1, 2], fp64_contents=[0.1, 0.2])],
                "parameters": {"include_intervals": pb.InferParameter(string_param="yes")},
            },
            "parameter include_intervals must be a bool",
        ),
    ],
)
def test_bad_requests_are_invalid_argument(
    served: Served, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(grpc.RpcError) as error:
        served.call("ModelInfer", _request(served.model, **fields))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (error.value.details() or "")


def test_not_ready_while_draining(served: Served) -> None:
    assert served.call("ServerReady", pb.ServerReadyRequest()).ready
    served.ready.clear()
    assert not served.call("ServerReady", pb.ServerReadyRequest()).ready
    reply = served.call("ModelReady", pb.ModelReadyRequest(name=served.model.name))
    assert not reply.ready


def test_calls_are_counted_and_logged_like_the_typed_rpcs(served: Served) -> None:
    request = _request(
        served.model,
        inputs=[_tensor("x", "FP64", [3, 2], fp64_contents=[0.0] * 6)],
    )
    served.call("ModelInfer", request)
    samples = served.metrics.samples()
    assert samples["diabetes_calls"][("ModelInfer", "OK")][0] == 1
    assert samples["diabetes_call_records"][("ModelInfer",)][-1] == 3
    served.access_log.close()
    [line] = [json.loads(line) for line in served.log.getvalue().splitlines()]
    assert (line["method"], line["records"]) == ("ModelInfer", 3)
    assert (line["model"], line["model_version"]) == (served.model.name, served.model.version)


def test_rest_readiness_fails_with_unavailable_while_draining(tmp_path: Path) -> None:
    from diabetes.v1 import inference_rest_pb2 as rest_pb
    from server.faces.oip_rest import OpenInferenceRestServicer
    from server.faces.oip_tensors import NotReadyError

    store = ModelStore(write_test_artifact(tmp_path / "m.json"))
    ready = threading.Event()
    core = Inference(store, _limits(10), CallObserver(access_log=None))
    servicer = OpenInferenceRestServicer(core, ready.is_set)
    with pytest.raises(NotReadyError) as error:
        servicer.ServerReady(rest_pb.ServerReadyRequest(), None)
    assert error.value.code == grpc.StatusCode.UNAVAILABLE
    ready.set()
    reply = servicer.ServerReady(rest_pb.ServerReadyRequest(), None)
    assert (reply.content_type, json.loads(reply.data)) == ("application/json", {"ready": True})


def test_an_input_whose_output_would_overflow_is_refused_by_name(served: Served) -> None:
    request = _request(
        served.model,
        inputs=[_tensor("x", "FP64", [2, 2], fp64_contents=[0.0, 0.0, 1e308, 1e308])],
    )
    with pytest.raises(grpc.RpcError) as error:
        served.call("ModelInfer", request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    limit = served.model.input_limit
    assert error.value.details() == (
        "x[1, 0] (bmi): 1e+308 is too large for a finite prediction and interval "
        f"(this model takes values between -{limit:.3g} and {limit:.3g})"
    )
