"""The typed gRPC face, `diabetes.v1.PredictionService`: protobuf requests decoded into the
core's values (`server.inference`), its answers encoded as protobuf. Registered with
`server.rpc.add_service`, so every call is timed, logged, counted and mapped to a status."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter

import grpc
import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from model.repository import STABLE, Repository
from server.errors import InvalidInputError
from server.inference import Inference, Limits, ModelRef
from server.validation import Batch, Column, Field, feature_columns, needs
from server.wire import packed_doubles

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"]
SERVICE_NAME = SERVICE.full_name
# Field numbers of the packed arrays of a PredictBatchResponse, written from numpy.
_PREDICTIONS, _LOWER, _UPPER = (
    pb.PredictBatchResponse.DESCRIPTOR.fields_by_name[name].number
    for name in ("predictions", "lower", "upper")
)


class PredictionServicer(pb_grpc.PredictionServiceServicer):
    def __init__(self, core: Inference) -> None:
        self._core = core

    def Predict(
        self, request: pb.PredictRequest, context: grpc.ServicerContext
    ) -> pb.PredictResponse:
        answer = self._core.record(
            ModelRef(request.model, request.version),
            lambda model: record_fields(request.record, model),
        )
        model, result = answer.model, answer.result
        # Filled in place: a nested message and a map given to the constructor cost more
        # than the rest of the call's Python (the map's update goes through the Mapping ABC).
        response = pb.PredictResponse(
            prediction=result.prediction,
            model_name=model.name,
            model_version=model.version,
            baseline=model.baseline,
            out_of_range_features=result.out_of_range_features,
        )
        interval = response.interval
        interval.lower = result.lower
        interval.upper = result.upper
        interval.confidence = model.interval.confidence
        contributions = response.contributions
        for name, contribution in result.contributions.items():
            contributions[name] = contribution
        return response

    def PredictBatch(
        self, request: pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.PredictBatchResponse]:
        answer = self._core.batch(
            ModelRef(request.model, request.version), lambda model: batch_of(request, model)
        )
        model, predictions = answer.model, answer.predictions
        out_of_range = answer.out_of_range_indices()
        chunk = self._core.limits.batch_chunk_records
        for start in range(0, len(predictions), chunk):
            end = min(start + chunk, len(predictions))
            wire = packed_doubles(_PREDICTIONS, predictions[start:end])
            if answer.lower is not None and answer.upper is not None:
                wire += packed_doubles(_LOWER, answer.lower[start:end])
                wire += packed_doubles(_UPPER, answer.upper[start:end])
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
        described = self._core.resolve(ModelRef(request.model, request.version or STABLE))
        info = model_info(described, self._core.limits)
        info.models.extend(served_models(self._core.store.repository))
        info.refused_files.extend(refused_files(self._core.store.repository))
        return info


def record_fields(record: pb.Record, model: LinearModel) -> Iterator[Field]:
    """The model's features from one record, in the model's order."""
    for name in model.features:
        if not record.HasField(name):
            raise InvalidInputError(f"record.{name} is missing; {needs(model.features)}")
        yield getattr(record, name), f"record.{name}"


def batch_of(request: pb.PredictBatchRequest, model: LinearModel) -> Batch:
    """The model's features from a batch (records or columns), one array per feature."""
    if request.HasField("columns"):
        if len(request.records):
            raise InvalidInputError("set either records or columns, not both")
        columns = request.columns
        return feature_columns(
            lambda name: getattr(columns, name),
            model.features,
            bool(columns.ListFields()),
            request.include_intervals,
        )
    records = request.records
    return Batch(
        len(records),
        "records",
        lambda: _record_columns(records, model.features),
        request.include_intervals,
    )


def _record_columns(records: Sequence[pb.Record], features: Sequence[str]) -> Iterator[Column]:
    count = len(records)
    for name in features:
        column = np.fromiter(map(attrgetter(name), records), dtype=np.float64, count=count)
        # An absent optional field reads as 0.0: only zeros need a presence check.
        absent = [
            i for i in np.flatnonzero(column == 0.0).tolist() if not records[i].HasField(name)
        ]
        if absent:
            more = f" (and {len(absent) - 1} more records)" if len(absent) > 1 else ""
            raise InvalidInputError(
                f"records[{absent[0]}].{name} is missing{more}; {needs(features)}"
            )
        yield column, f"records[{{}}].{name}"


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
