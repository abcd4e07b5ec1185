"""The blocking client."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType

import grpc
from grpc_health.v1 import health_pb2

from diabetes_client.base import ClientBase
from diabetes_client.channel import SERVICE
from diabetes_client.convert import (
    BatchAssembler,
    BatchCall,
    ColumnValues,
    column_arrays,
    column_calls,
    model_info_from_reply,
    model_info_request,
    predict_request,
    prediction_from_reply,
    record_calls,
)
from diabetes_client.errors import error_from_rpc
from diabetes_client.results import BatchPrediction, ModelInfo, Prediction


class PredictionClient(ClientBase):
    """A client of diabetes.v1.PredictionService over one channel; use it as a context
    manager (or call `close`). Thread-safe: share one client between threads. The
    arguments are described in `ClientBase`."""

    _secure_channel = staticmethod(grpc.secure_channel)
    _insecure_channel = staticmethod(grpc.insecure_channel)

    def predict(
        self,
        record: Mapping[str, float],
        *,
        model: str | None = None,
        version: str | None = None,
        timeout: float | None = None,
    ) -> Prediction:
        """Predict one record, e.g. `{"bmi": 0.06}`, with `model` and `version` (default:
        the client's)."""
        request = predict_request(record, *self._choice(model, version))
        try:
            reply = self._stub.Predict(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return prediction_from_reply(reply)

    def predict_batch(
        self,
        records: Iterable[Mapping[str, float]],
        *,
        include_intervals: bool = False,
        model: str | None = None,
        version: str | None = None,
        timeout: float | None = None,
    ) -> BatchPrediction:
        """Predict many records (mappings of feature name to value), in order. An input
        over `max_records_per_call` is sent as several calls."""
        calls = record_calls(
            records, self.max_records_per_call, include_intervals, *self._choice(model, version)
        )
        return self._run_batch(calls, include_intervals, timeout)

    def predict_columns(
        self,
        columns: Mapping[str, ColumnValues],
        *,
        include_intervals: bool = False,
        model: str | None = None,
        version: str | None = None,
        timeout: float | None = None,
    ) -> BatchPrediction:
        """Predict many records given as one array per feature, e.g.
        `{"bmi": [0.06, -0.05]}` (lists, `array.array`s or numpy arrays): far cheaper to
        send than records."""
        arrays, count = column_arrays(columns)
        calls = column_calls(
            arrays,
            count,
            self.max_records_per_call,
            include_intervals,
            *self._choice(model, version),
        )
        return self._run_batch(calls, include_intervals, timeout)

    def info(
        self, *, model: str | None = None, version: str | None = None, timeout: float | None = None
    ) -> ModelInfo:
        """A served model's version, features, units, coefficients, metrics and limits (the
        model and version a call with the same `model` and `version` gets), and every model
        the server serves."""
        request = model_info_request(*self._choice(model, version))
        try:
            reply = self._stub.GetModelInfo(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return model_info_from_reply(reply)

    def health(self, service: str = SERVICE, *, timeout: float | None = None) -> str:
        """The server's health status of `service` ("" for the whole server), e.g.
        "SERVING" or "NOT_SERVING"."""
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            reply = self._health.Check(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    @property
    def channel(self) -> grpc.Channel:
        """The underlying channel (e.g. to watch its connectivity)."""
        return self._channel

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> PredictionClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run_batch(
        self, calls: Iterator[BatchCall], include_intervals: bool, timeout: float | None
    ) -> BatchPrediction:
        assembler = BatchAssembler(include_intervals)
        for call in calls:
            assembler.expect(call)
            try:
                for reply in self._stub.PredictBatch(call.request, **self._call_args(timeout)):
                    assembler.add(call, reply)
            except grpc.RpcError as exc:
                raise error_from_rpc(exc, call.start) from None
        return assembler.result()
