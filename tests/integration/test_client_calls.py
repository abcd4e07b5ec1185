"""What the client does on the wire, seen from inside a real server: how a large input is
split into calls, retries on UNAVAILABLE per the service config, deadlines, and waiting
for a server that is not up yet. The server is the real servicer in this process, behind
an interceptor that records every call and fails or stalls the ones a test asks it to."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes_client import (
    DeadlineExceededError,
    PredictionClient,
    RetryPolicy,
    UnavailableError,
)
from model.artifact import LinearModel
from server.faces.prediction_service import SERVICE, PredictionServicer
from server.inference import Inference, Limits
from server.model_store import ModelStore
from server.rpc import CallObserver, MethodCodec, add_service
from tests.support.processes import refusing_port, wait_until

FAST_RETRIES = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@dataclass(frozen=True)
class SeenCall:
    method: str
    # gRPC's count of earlier attempts of this call (0 for the first).
    previous_attempts: int
    request: Any


class Faults(grpc.ServerInterceptor):  # type: ignore[misc]
    """Records calls; fails the next `unavailable` ones with UNAVAILABLE, or stalls the
    next `stall` ones until their deadline passes."""

    def __init__(self) -> None:
        self.calls: list[SeenCall] = []
        self.unavailable = 0
        self.stall = 0
        self._lock = threading.Lock()

    def intercept_service(self, continuation: Callable[..., Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or handler.request_streaming:
            return handler
        method = details.method.rsplit("/", 1)[-1]
        metadata = dict(details.invocation_metadata)
        previous = int(metadata.get("grpc-previous-rpc-attempts", 0))
        streaming = handler.response_streaming
        inner = handler.unary_stream if streaming else handler.unary_unary

        def behave(request: Any, context: grpc.ServicerContext) -> Any:
            with self._lock:
                self.calls.append(SeenCall(method, previous, request))
                fail = self.unavailable > 0
                stall = not fail and self.stall > 0
                self.unavailable -= fail
                self.stall -= stall
            if fail:
                context.abort(grpc.StatusCode.UNAVAILABLE, "injected: server restarting")
            if stall:
                wait_until(lambda: not context.is_active(), 30, "the client to give up")
                context.abort(grpc.StatusCode.CANCELLED, "stalled")
            return inner(request, context)

        make = (
            grpc.unary_stream_rpc_method_handler
            if streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return make(
            behave,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def seen(self, method: str) -> list[SeenCall]:
        return [call for call in self.calls if call.method == method]


@contextlib.contextmanager
def in_process_server(artifact: Path, faults: Faults, port: int = 0) -> Iterator[str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=[faults])
    servicer = PredictionServicer(
        Inference(
            ModelStore(artifact),
            Limits(max_batch_records=100_000, batch_chunk_records=700, max_receive_message_bytes=0),
            CallObserver(access_log=None),
        )
    )
    # PredictBatch parsed by protobuf, so that the calls seen hold the request messages.
    codecs = {"PredictBatch": MethodCodec(parse=pb.PredictBatchRequest.FromString, serialize=None)}
    add_service(server, servicer, SERVICE, CallObserver(access_log=None), codecs=codecs)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    try:
        yield f"127.0.0.1:{bound}"
    finally:
        server.stop(None).wait()


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def target(two_feature_artifact: Path, faults: Faults) -> Iterator[str]:
    with in_process_server(two_feature_artifact, faults) as address:
        yield address


def test_large_inputs_are_split_into_calls_and_reassembled_in_order(
    target: str, faults: Faults, two_feature_model: LinearModel
):
    X = np.random.default_rng(7).normal(0.0, 0.02, size=(2_500, 2))
    records = [{"bmi": bmi, "bp": bp} for bmi, bp in X.tolist()]
    with PredictionClient(target, max_records_per_call=1_000) as client:
        by_records = client.predict_batch(records)
        by_columns = client.predict_columns({"bmi": X[:, 0], "bp": X[:, 1]})
    calls = faults.seen("PredictBatch")
    assert [len(call.request.records) for call in calls[:3]] == [1_000, 1_000, 500]
    assert [len(call.request.columns.bmi) for call in calls[3:]] == [1_000, 1_000, 500]
    assert [call.request.records[0].bmi for call in calls[:3]] == X[[0, 1_000, 2_000], 0].tolist()
    assert calls[4].request.columns.bp[999] == X[1_999, 1]
    expected = two_feature_model.predict(X)
    assert np.array_equal(by_records.predictions, expected)
    assert np.array_equal(by_columns.predictions, expected)


def test_unavailable_is_retried_per_the_service_config(
    target: str, faults: Faults, two_feature_model: LinearModel
):
    faults.unavailable = 3
    with PredictionClient(target, retry=FAST_RETRIES) as client:
        result = client.predict({"bmi": 0.01, "bp": 0.02})
    assert [call.previous_attempts for call in faults.seen("Predict")] == [0, 1, 2, 3]
    assert result.prediction == two_feature_model.predict(np.array([[0.01, 0.02]]))[0]


def test_a_large_batch_is_retried_too(target: str, faults: Faults):
    # Far over gRPC's default retry buffer of 256 KiB per call.
    count = 90_000
    faults.unavailable = 1
    with PredictionClient(target, retry=FAST_RETRIES, timeout=60) as client:
        result = client.predict_columns({"bmi": np.zeros(count), "bp": np.zeros(count)})
    assert [call.previous_attempts for call in faults.seen("PredictBatch")] == [0, 1]
    assert len(result) == count


def test_retries_stop_after_max_attempts(target: str, faults: Faults):
    faults.unavailable = 10
    with (
        PredictionClient(target, retry=FAST_RETRIES) as client,
        pytest.raises(UnavailableError, match="injected: server restarting"),
    ):
        client.info()
    assert len(faults.seen("GetModelInfo")) == FAST_RETRIES.max_attempts


def test_no_retries_when_disabled(target: str, faults: Faults):
    faults.unavailable = 1
    with PredictionClient(target, retry=None) as client, pytest.raises(UnavailableError):
        client.predict({"bmi": 0.0, "bp": 0.0})
    assert len(faults.seen("Predict")) == 1


def test_a_call_the_server_does_not_answer_ends_at_its_deadline(target: str, faults: Faults):
    faults.stall = 1
    with PredictionClient(target, timeout=0.5) as client:
        with pytest.raises(DeadlineExceededError) as caught:
            client.predict_batch([{"bmi": 0.0, "bp": 0.0}])
        assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert client.info().version == "test-1"  # the next call is served


def test_a_call_made_before_the_server_is_up_waits_for_it(
    two_feature_artifact: Path, faults: Faults, two_feature_model: LinearModel
):
    reserved = contextlib.ExitStack()
    port = reserved.enter_context(refusing_port())
    with (
        reserved,
        PredictionClient(f"127.0.0.1:{port}", timeout=60, wait_for_ready=True) as client,
        futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        states: list[grpc.ChannelConnectivity] = []
        client.channel.subscribe(states.append)
        pending = pool.submit(client.predict, {"bmi": 0.03, "bp": -0.01})
        # The channel only tries to connect once a call is under way: seeing it fail
        # proves the call started while nothing listened on the port.
        wait_until(
            lambda: grpc.ChannelConnectivity.TRANSIENT_FAILURE in states,
            30,
            "the client's first connection attempt to fail",
        )
        assert not pending.done()
        reserved.close()  # no other process could take the port until now
        with in_process_server(two_feature_artifact, faults, port):
            result = pending.result(timeout=60)
    assert result.prediction == two_feature_model.predict(np.array([[0.03, -0.01]]))[0]
    assert len(faults.seen("Predict")) == 1
