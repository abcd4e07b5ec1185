"""The error mapping and the generic registration, in process: servicers registered with
`add_service` on a real grpc server on a loopback port, called through real channels, with
the real access log and metrics behind them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.errors import InvalidInputError, ServiceError, status_of
from server.faces.prediction_service import SERVICE
from server.logs import AccessLog
from server.metrics import ServerMetrics
from server.rpc import CallObserver, add_service, count_records

REFLECTION = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]


class NotFoundError(ServiceError):
    code = grpc.StatusCode.NOT_FOUND


# The mapping itself


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ServiceError("broken"), grpc.StatusCode.INTERNAL),
        (InvalidInputError("records[3].bmi is missing"), grpc.StatusCode.INVALID_ARGUMENT),
        (NotFoundError("no such model"), grpc.StatusCode.NOT_FOUND),
    ],
)
def test_a_service_error_gives_its_code_and_message(error: ServiceError, code: Any) -> None:
    assert status_of(error) == (code, str(error))


def test_any_other_exception_is_internal_and_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="server.errors"):
        assert status_of(KeyError("secret detail")) == (grpc.StatusCode.INTERNAL, "internal error")
    [entry] = caplog.records
    assert entry.exc_info is not None
    assert entry.exc_info[0] is KeyError


def test_a_caller_gone_mid_stream_is_cancelled() -> None:
    assert status_of(GeneratorExit()) == (grpc.StatusCode.CANCELLED, "")


# Through a real server


class FakePredictions:
    """A PredictionService whose answers the tests choose by the request's bmi."""

    # Methods are named after the RPCs.
    def Predict(  # noqa: N802
        self, request: pb.PredictRequest, context: grpc.ServicerContext
    ) -> Any:
        if request.record.bmi < 0:
            raise InvalidInputError("record.bmi must not be negative")
        if request.record.bmi > 100:
            raise RuntimeError("a bug with a secret in it")
        count_records(1)
        return pb.PredictResponse(prediction=request.record.bmi * 2)

    def PredictBatch(  # noqa: N802
        self, request: pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        count_records(len(request.records))
        for offset, record in enumerate(request.records):
            if record.bmi < 0:
                raise InvalidInputError(f"records[{offset}].bmi must not be negative")
            yield pb.PredictBatchResponse(offset=offset, predictions=[record.bmi])

    # No GetModelInfo: grpc answers UNIMPLEMENTED.


class EchoReflection:
    """Another service, with a stream-stream method: answers each request with its host."""

    def ServerReflectionInfo(  # noqa: N802
        self, requests: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        for count, request in enumerate(requests, start=1):
            count_records(count)
            yield reflection_pb2.ServerReflectionResponse(valid_host=request.host)


@dataclass
class Served:
    channel: grpc.Channel
    metrics: ServerMetrics
    log: io.StringIO
    access_log: AccessLog

    def access_lines(self) -> list[dict[str, Any]]:
        self.access_log.close()
        return [json.loads(line) for line in self.log.getvalue().splitlines()]

    def calls(self, method: str, code: str) -> float:
        return self.metrics.samples()["diabetes_calls"].get((method, code), [0.0])[0]

    def records_sum(self, method: str) -> float:
        return self.metrics.samples()["diabetes_call_records"][(method,)][-1]


@pytest.fixture
def served() -> Iterator[Served]:
    log = io.StringIO()
    access_log = AccessLog(stream=log)
    metrics = ServerMetrics(registry=None)
    observer = CallObserver(access_log=access_log, metrics=metrics)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    assert add_service(server, FakePredictions(), SERVICE, observer) == SERVICE.full_name
    assert add_service(server, EchoReflection(), REFLECTION, observer) == REFLECTION.full_name
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(channel, metrics, log, access_log)
    finally:
        server.stop(None)


def predict(served: Served, bmi: float, metadata: Any = ()) -> Any:
    stub = pb_grpc.PredictionServiceStub(served.channel)
    return stub.Predict(pb.PredictRequest(record=pb.Record(bmi=bmi)), metadata=metadata)


def test_an_answered_call_is_logged_and_counted_with_its_records(served: Served) -> None:
    reply = predict(served, 0.25, metadata=(("x-request-id", "req-1"),))
    assert reply.prediction == 0.5
    assert served.calls("Predict", "OK") == 1
    assert served.records_sum("Predict") == 1
    [line] = served.access_lines()
    assert line["method"] == "Predict"
    assert line["code"] == "OK"
    assert line["records"] == 1
    assert line["request_id"] == "req-1"
    assert "error" not in line


def test_a_service_error_reaches_the_caller_with_its_code_and_message(served: Served) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        predict(served, -1.0)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "record.bmi must not be negative"
    assert served.calls("Predict", "INVALID_ARGUMENT") == 1
    [line] = served.access_lines()
    assert line["error"] == "record.bmi must not be negative"
    assert line["records"] == 0
    assert line["request_id"] is None


def test_a_bug_is_internal_error_for_the_caller_and_logged_for_the_operator(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="server.errors"),
        pytest.raises(grpc.RpcError) as caught,
    ):
        predict(served, 1000.0)
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert caught.value.details() == "internal error"
    assert "secret" not in str(caught.value.debug_error_string())
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    assert served.calls("Predict", "INTERNAL") == 1
    # The server keeps serving.
    assert predict(served, 0.5).prediction == 1.0


def test_bytes_that_are_not_a_message_are_invalid_argument(served: Served) -> None:
    call = served.channel.unary_unary(f"/{SERVICE.full_name}/Predict")
    with pytest.raises(grpc.RpcError) as caught:
        call(b"\xff\xff\xff")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details().startswith(
        "the request is not a valid diabetes.v1.PredictRequest message: "
    )
    assert served.calls("Predict", "INVALID_ARGUMENT") == 1


def test_a_stream_is_observed_to_its_end_and_fails_cleanly_mid_way(served: Served) -> None:
    stub = pb_grpc.PredictionServiceStub(served.channel)
    good = pb.PredictBatchRequest(records=[pb.Record(bmi=0.1), pb.Record(bmi=0.2)])
    assert [reply.offset for reply in stub.PredictBatch(good)] == [0, 1]
    bad = pb.PredictBatchRequest(records=[pb.Record(bmi=0.1), pb.Record(bmi=-0.2)])
    replies = stub.PredictBatch(bad)
    assert next(replies).offset == 0
    with pytest.raises(grpc.RpcError) as caught:
        next(replies)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "records[1].bmi must not be negative"
    assert served.calls("PredictBatch", "OK") == 1
    assert served.calls("PredictBatch", "INVALID_ARGUMENT") == 1
    assert served.records_sum("PredictBatch") == 4


def test_a_method_the_servicer_lacks_is_unimplemented(served: Served) -> None:
    stub = pb_grpc.PredictionServiceStub(served.channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetModelInfo(pb.GetModelInfoRequest())
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_another_service_with_request_streams_registers_the_same_way(served: Served) -> None:
    call = served.channel.stream_stream(
        f"/{REFLECTION.full_name}/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    requests = [reflection_pb2.ServerReflectionRequest(host=h) for h in ("a", "b", "c")]
    assert [reply.valid_host for reply in call(iter(requests))] == ["a", "b", "c"]
    assert served.calls("ServerReflectionInfo", "OK") == 1
    assert served.records_sum("ServerReflectionInfo") == 3


def test_a_malformed_message_in_a_request_stream_is_invalid_argument(served: Served) -> None:
    call = served.channel.stream_stream(f"/{REFLECTION.full_name}/ServerReflectionInfo")
    good = reflection_pb2.ServerReflectionRequest(host="a").SerializeToString()
    with pytest.raises(grpc.RpcError) as caught:
        list(call(iter([good, b"\xff\xff"])))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid grpc.reflection.v1alpha.ServerReflectionRequest message" in (
        caught.value.details()
    )
    assert served.calls("ServerReflectionInfo", "INVALID_ARGUMENT") == 1
