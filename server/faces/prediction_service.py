"""The typed gRPC face, `diabetes.v1.PredictionService`: protobuf requests decoded into the
core's values (`server.inference`), its answers encoded as protobuf. Registered with
`server.rpc.add_service`, so every call is timed, logged, counted and mapped to a status."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel
from model.repository import STABLE, Repository
from server.errors import InvalidInputError
from server.faces.batch_reply import batch_replies
from server.faces.batch_request import BatchRequest, decode_batch_request, from_message
from server.inference import Inference, Limits, ModelRef
from server.rpc import MethodCodec
from server.validation import Field, needs

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"]
SERVICE_NAME = SERVICE.full_name
# PredictBatch reads its request from the wire and writes its replies as wire bytes.
METHOD_CODECS = {"PredictBatch": MethodCodec(parse=decode_batch_request, serialize=None)}


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
        self, request: BatchRequest | pb.PredictBatchRequest, context: grpc.ServicerContext
    ) -> Iterator[bytes]:
        """The replies as wire bytes (`METHOD_CODECS`: grpc sends them as they are)."""
        if isinstance(request, pb.PredictBatchRequest):  # called in process with a message
            request = from_message(request)
        answer = self._core.batch(request.ref, request.batch)
        yield from batch_replies(answer, self._core.limits.batch_chunk_records)

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
