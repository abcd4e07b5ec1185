"""The PredictionService handlers: transport only. Validation is in `server.validation`,
the arithmetic in `model`, statuses in `server.errors`; every call is timed, logged and
counted by `server.telemetry`, applied by `server.registration.add_service`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from model.repository import STABLE, Repository
from server.model_store import ModelStore
from server.shadow import Shadows
from server.telemetry import InputStats, answered_by, count_records
from server.validation import batch_columns, record_values
from server.wire import packed_doubles

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"]
SERVICE_NAME = SERVICE.full_name
# Field numbers of the packed arrays of a PredictBatchResponse, written from numpy.
_PREDICTIONS, _LOWER, _UPPER = (
    pb.PredictBatchResponse.DESCRIPTOR.fields_by_name[name].number
    for name in ("predictions", "lower", "upper")
)


@dataclass(frozen=True)
class Limits:
    max_batch_records: int
    batch_chunk_records: int
    max_receive_message_bytes: int


class PredictionServicer(pb_grpc.PredictionServiceServicer):
    def __init__(
        self,
        store: ModelStore,
        limits: Limits,
        inputs: InputStats,
        shadows: Shadows | None = None,
    ) -> None:
        self._store = store
        self._limits = limits
        self._inputs = inputs
        self._shadows = shadows if shadows is not None else Shadows(store)

    def Predict(
        self, request: pb.PredictRequest, context: grpc.ServicerContext
    ) -> pb.PredictResponse:
        model = self._store.resolve(request.model, request.version)
        answered_by(model)
        values = record_values(request.record, model)
        result = model.explain_one(values)
        count_records(1)
        self._inputs.record_seen(model, values)
        self._shadows.compare_record(model, values, result)
        return pb.PredictResponse(
            prediction=result.prediction,
            model_name=model.name,
            model_version=model.version,
            interval=pb.PredictionInterval(
                lower=result.lower, upper=result.upper, confidence=model.interval.confidence
            ),
            baseline=model.baseline,
            contributions=result.contributions,
            out_of_range_features=result.out_of_range_features,
        )

    def PredictBatch(
        self, request: pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        model = self._store.resolve(request.model, request.version)
        answered_by(model)
        columns = batch_columns(request, model, self._limits.max_batch_records)
        count = len(columns[0])
        count_records(count)
        self._inputs.inputs_seen(model, columns)
        predictions = model.predict_columns(columns)
        self._shadows.compare(model, columns, predictions)
        if request.include_intervals:
            half_width = model.interval_half_width(columns)
            lower, upper = predictions - half_width, predictions + half_width
        out_of_range = np.flatnonzero(model.out_of_range(columns).any(axis=0))
        chunk = self._limits.batch_chunk_records
        for start in range(0, count, chunk):
            end = min(start + chunk, count)
            wire = packed_doubles(_PREDICTIONS, predictions[start:end])
            if request.include_intervals:
                wire += packed_doubles(_LOWER, lower[start:end])
                wire += packed_doubles(_UPPER, upper[start:end])
            reply = pb.PredictBatchResponse.FromString(wire)
            reply.offset = start
            reply.model_name = model.name
            reply.model_version = model.version
            reply.out_of_range_indices.extend(
                out_of_range[
                    np.searchsorted(out_of_range, start) : np.searchsorted(out_of_range, end)
                ].tolist()
            )
            yield reply

    def GetModelInfo(
        self, request: pb.GetModelInfoRequest, context: grpc.ServicerContext
    ) -> pb.GetModelInfoResponse:
        described = self._store.resolve(request.model, request.version or STABLE)
        info = model_info(described, self._limits)
        info.models.extend(served_models(self._store.repository))
        info.refused_files.extend(refused_files(self._store.repository))
        return info


def served_models(repository: Repository) -> list[pb.ServedModel]:
    return [
        pb.ServedModel(
            name=name,
            versions=sorted(entry.versions),
            stable=entry.labels.stable,
            canary=entry.labels.canary or "",
            canary_percent=entry.labels.canary_percent,
            is_default=name == repository.default,
        )
        for name, entry in sorted(repository.models.items())
    ]


def refused_files(repository: Repository) -> list[pb.RefusedFile]:
    return [
        pb.RefusedFile(path=f.path, reason=f.reason, model=f.model, still_served=f.still_served)
        for f in repository.refused
    ]


def model_info(model: LinearModel, limits: Limits) -> pb.GetModelInfoResponse:
    return pb.GetModelInfoResponse(
        name=model.name,
        version=model.version,
        features=[
            pb.FeatureInfo(
                name=name,
                coefficient=float(coefficient),
                mean=stats.mean,
                std=stats.std,
                min=stats.min,
                max=stats.max,
            )
            for name, coefficient, stats in zip(
                model.features, model.coefficients, model.feature_stats, strict=True
            )
        ],
        intercept=model.intercept,
        baseline=model.baseline,
        metrics=dict(model.metrics),
        interval_confidence=model.interval.confidence,
        created_at=model.created_at,
        checksum=model.checksum,
        limits=pb.ServiceLimits(
            max_batch_records=limits.max_batch_records,
            batch_chunk_records=limits.batch_chunk_records,
            max_receive_message_bytes=limits.max_receive_message_bytes,
        ),
        n_train=model.interval.n_train,
        units=dict(model.units),
    )
