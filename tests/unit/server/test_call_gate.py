"""The call gate (`server.bounds.call_gate`) on a real grpc server, in process: a bulk call beyond
its limit is refused RESOURCE_EXHAUSTED, with the retry metadata, before its request is
received; its place comes back when a call ends; other methods do not wait for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.bounds.call_gate import CallGate
from server.bounds.request_bounds import BULK_PATHS, TRAFFIC_PATHS
from server.faces.prediction_service import SERVICE
from server.metrics import ServerMetrics
from server.rpc import CallObserver, add_service


class HeldBatches:
    """PredictBatch answers once `release` is set; Predict at once."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()
        self.seen: list[int] = []

    def PredictBatch(  # noqa: N802
        self, request: pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        self.seen.append(len(request.records))
        self.entered.release()
        self.release.wait(30)
        yield pb.PredictBatchResponse(predictions=[1.0] * len(request.records))

    def Predict(self, request: Any, context: grpc.ServicerContext) -> pb.PredictResponse:  # noqa: N802
        return pb.PredictResponse(prediction=2.0)


@pytest.fixture
def gated() -> Iterator[tuple[pb_grpc.PredictionServiceStub, HeldBatches, ServerMetrics]]:
    metrics = ServerMetrics(registry=None)
    servicer = HeldBatches()
    gate = CallGate(TRAFFIC_PATHS, BULK_PATHS, 2, 1, metrics)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=(gate,))
    add_service(server, servicer, SERVICE, CallObserver(access_log=None, metrics=metrics))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.PredictionServiceStub(channel), servicer, metrics
    finally:
        servicer.release.set()
        server.stop(None)


def test_a_bulk_call_over_the_limit_is_refused_unread_and_the_place_comes_back(
    gated: tuple[pb_grpc.PredictionServiceStub, HeldBatches, ServerMetrics],
) -> None:
    stub, servicer, metrics = gated
    request = pb.PredictBatchRequest(records=[pb.Record(bmi=0.1)] * 3)
    with futures.ThreadPoolExecutor(1) as pool:
        first = pool.submit(lambda: list(stub.PredictBatch(request, timeout=30)))
        assert servicer.entered.acquire(timeout=30)
        with pytest.raises(grpc.RpcError) as raised:
            list(stub.PredictBatch(request, timeout=30))
        # Other methods do not wait for the bulk place.
        assert (
            stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.1)), timeout=30).prediction == 2.0
        )
        servicer.release.set()
        assert [len(reply.predictions) for reply in first.result(timeout=30)] == [3]
    error = raised.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == (
        "diabetes.v1.PredictionService/PredictBatch: this server is handling 1 bulk calls, "
        "its most at once; retry in 1 s (another server may take it now)"
    )
    assert ("retry-after", "1") in error.trailing_metadata()
    assert ("grpc-retry-pushback-ms", "1000") in error.trailing_metadata()
    assert servicer.seen == [3]  # the refused request never reached the servicer
    assert metrics.samples()["diabetes_admission_refusals"] == {("bulk",): [1]}
    # The place came back with the first call's end.
    assert [len(r.predictions) for r in stub.PredictBatch(request, timeout=30)] == [3]
