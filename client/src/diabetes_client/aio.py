"""The asyncio client (grpc.aio); the same calls and results as `PredictionClient`."""

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


class AsyncPredictionClient(ClientBase):
    """A client of diabetes.v1.PredictionService for asyncio; use it as an async context
    manager (or await `close`). Create it inside the event loop that uses it. The
    arguments are those of `PredictionClient`."""

    _secure_channel = staticmethod(grpc.aio.secure_channel)
    _insecure_channel = staticmethod(grpc.aio.insecure_channel)

    async def predict(
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
            reply = await self._stub.Predict(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return prediction_from_reply(reply)

    async def predict_batch(
        self,
        records: Iterable[Mapping[str, float]],
        *,
        include_intervals: bool = False,
        model: str | None = None,
        version: str | None = None,
        timeout: float | None = None,
    ) -> BatchPrediction:
        """Predict many records, in order; split into calls of `max_records_per_call`."""
        calls = record_calls(
            records, self.max_records_per_call, include_intervals, *self._choice(model, version)
        )
        return await self._run_batch(calls, include_intervals, timeout)

    async def predict_columns(
        self,
        columns: Mapping[str, ColumnValues],
        *,
        include_intervals: bool = False,
        model: str | None = None,
        version: str | None = None,
        timeout: float | None = None,
    ) -> BatchPrediction:
        """Predict many records given as one array per feature (the cheaper form)."""
        arrays, count = column_arrays(columns)
        calls = column_calls(
            arrays,
            count,
            self.max_records_per_call,
            include_intervals,
            *self._choice(model, version),
        )
        return await self._run_batch(calls, include_intervals, timeout)

    async def info(
        self, *, model: str | None = None, version: str | None = None, timeout: float | None = None
    ) -> ModelInfo:
        """A served model's version, features, units, coefficients, metrics and limits (the
        model and version a call with the same `model` and `version` gets), and every model
        the server serves."""
        request = model_info_request(*self._choice(model, version))
        try:
            reply = await self._stub.GetModelInfo(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return model_info_from_reply(reply)

    async def health(self, service: str = SERVICE, *, timeout: float | None = None) -> str:
        """The server's health status of `service` ("" for the whole server)."""
        request = health_pb2.HealthCheckRequest(service=service)
        try:
            reply = await self._health.Check(request, **self._call_args(timeout))
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    @property
    def channel(self) -> grpc.aio.Channel:
        """The underlying channel (e.g. to watch its connectivity)."""
        return self._channel

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncPredictionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run_batch(
        self, calls: Iterator[BatchCall], include_intervals: bool, timeout: float | None
    ) -> BatchPrediction:
        assembler = BatchAssembler(include_intervals)
        for call in calls:
            assembler.expect(call)
            try:
                async for reply in self._stub.PredictBatch(
                    call.request, **self._call_args(timeout)
                ):
                    assembler.add(call, reply)
            except grpc.RpcError as exc:
                raise error_from_rpc(exc, call.start) from None
        return assembler.result()
