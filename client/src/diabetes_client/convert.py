"""Everything the sync and asyncio clients share: input checks, records and columns to
protobuf requests, splitting a large input into calls, and replies back to results."""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import grpc

from diabetes.v1 import prediction_pb2 as pb
from diabetes_client.errors import PredictionError
from diabetes_client.results import (
    BatchPrediction,
    FeatureInfo,
    FloatArray,
    ModelInfo,
    Prediction,
    ServedModel,
    ServiceLimits,
)

# The features the contract can carry (a model reads some of them).
FEATURES: tuple[str, ...] = tuple(field.name for field in pb.Record.DESCRIPTOR.fields)
# The server's default limit of records per PredictBatch call.
DEFAULT_MAX_RECORDS_PER_CALL = 100_000

# A sequence of numbers, an `array.array("d")`, or a one-dimensional numpy array.
ColumnValues = Iterable[float]


def record_message(record: Mapping[str, float], where: str = "record") -> pb.Record:
    """A `Record` from a mapping of feature name to value; ValueError if it cannot be one."""
    try:
        return pb.Record(**record)
    except (ValueError, TypeError) as exc:
        raise ValueError(_record_problem(record, where) or f"{where}: {exc}") from None


def _record_problem(record: Mapping[str, Any], where: str) -> str | None:
    if not isinstance(record, Mapping):
        return f"{where} must be a mapping of feature name to number, got {type(record).__name__}"
    for name, value in record.items():
        if name not in FEATURES:
            return f"{where}: unknown feature {name!r}; the features are {', '.join(FEATURES)}"
        if not isinstance(value, Real):
            return f"{where}.{name} must be a number, got {value!r}"
    return None


def predict_request(
    record: Mapping[str, float], model: str = "", version: str = ""
) -> pb.PredictRequest:
    return pb.PredictRequest(record=record_message(record), model=model, version=version)


def model_info_request(model: str = "", version: str = "") -> pb.GetModelInfoRequest:
    return pb.GetModelInfoRequest(model=model, version=version)


def prediction_from_reply(reply: pb.PredictResponse) -> Prediction:
    return Prediction(
        prediction=reply.prediction,
        lower=reply.interval.lower,
        upper=reply.interval.upper,
        confidence=reply.interval.confidence,
        baseline=reply.baseline,
        contributions=dict(reply.contributions),
        out_of_range_features=tuple(reply.out_of_range_features),
        model_version=reply.model_version,
        model_name=reply.model_name,
    )


def model_info_from_reply(reply: pb.GetModelInfoResponse) -> ModelInfo:
    return ModelInfo(
        name=reply.name,
        version=reply.version,
        features=tuple(
            FeatureInfo(f.name, f.coefficient, f.mean, f.std, f.min, f.max) for f in reply.features
        ),
        intercept=reply.intercept,
        baseline=reply.baseline,
        metrics=dict(reply.metrics),
        interval_confidence=reply.interval_confidence,
        created_at=reply.created_at,
        checksum=reply.checksum,
        limits=ServiceLimits(
            max_batch_records=reply.limits.max_batch_records,
            batch_chunk_records=reply.limits.batch_chunk_records,
            max_receive_message_bytes=reply.limits.max_receive_message_bytes,
        ),
        n_train=reply.n_train,
        models=tuple(
            ServedModel(
                name=m.name,
                versions=tuple(m.versions),
                stable=m.stable,
                canary=m.canary,
                canary_percent=m.canary_percent,
                is_default=m.is_default,
            )
            for m in reply.models
        ),
        units=dict(reply.units),
    )


@dataclass(frozen=True)
class BatchCall:
    """One PredictBatch call of a possibly split input: its records start at `start`."""

    start: int
    count: int
    request: pb.PredictBatchRequest


def record_calls(
    records: Iterable[Mapping[str, float]],
    max_per_call: int,
    include_intervals: bool,
    model: str = "",
    version: str = "",
) -> Iterator[BatchCall]:
    """The calls for a records input, built lazily one call at a time."""
    _check_max_per_call(max_per_call)
    iterator = iter(records)
    start = 0
    while chunk := list(itertools.islice(iterator, max_per_call)):
        messages = [
            record_message(record, f"records[{start + i}]") for i, record in enumerate(chunk)
        ]
        request = pb.PredictBatchRequest(
            records=messages, include_intervals=include_intervals, model=model, version=version
        )
        yield BatchCall(start, len(messages), request)
        start += len(messages)
    if start == 0:
        raise ValueError("records is empty: give at least one record")


def column_arrays(columns: Mapping[str, ColumnValues]) -> tuple[dict[str, FloatArray], int]:
    """Checked float64 arrays for a columns input, and the number of records."""
    arrays: dict[str, FloatArray] = {}
    for name, values in columns.items():
        if name not in FEATURES:
            raise ValueError(f"unknown feature {name!r}; the features are {', '.join(FEATURES)}")
        arrays[name] = _float_column(name, values)
    lengths = {name: len(array) for name, array in arrays.items()}
    count = max(lengths.values(), default=0)
    if count == 0:
        raise ValueError("columns is empty: give at least one record")
    for name, length in lengths.items():
        if length != count:
            longest = max(lengths, key=lengths.__getitem__)
            raise ValueError(
                f"columns.{name} has {length} values but columns.{longest} has {count}; "
                "every column needs one value per record"
            )
    return arrays, count


def _float_column(name: str, values: ColumnValues) -> FloatArray:
    """One column as float64: a sequence of numbers, an `array.array` or a numpy array."""
    shape = getattr(values, "shape", None)
    if shape is not None and len(shape) != 1:
        raise ValueError(f"columns.{name} must be one-dimensional, got shape {tuple(shape)}")
    try:
        # A numpy array converts itself in one call, far faster than element by element.
        items = values.tolist() if hasattr(values, "tolist") else list(values)
    except TypeError as exc:
        raise ValueError(f"columns.{name} must hold numbers: {exc}") from None
    try:
        return array("d", items)
    except (TypeError, ValueError) as exc:
        if any(isinstance(v, Iterable) and not isinstance(v, str) for v in items):
            raise ValueError(f"columns.{name} must be one-dimensional") from None
        raise ValueError(f"columns.{name} must hold numbers: {exc}") from None


def column_calls(
    arrays: Mapping[str, FloatArray],
    count: int,
    max_per_call: int,
    include_intervals: bool,
    model: str = "",
    version: str = "",
) -> Iterator[BatchCall]:
    """The calls for a columns input (from `column_arrays`), built lazily."""
    _check_max_per_call(max_per_call)
    for start in range(0, count, max_per_call):
        end = min(start + max_per_call, count)
        columns = pb.FeatureColumns(
            **{name: array[start:end].tolist() for name, array in arrays.items()}
        )
        request = pb.PredictBatchRequest(
            columns=columns, include_intervals=include_intervals, model=model, version=version
        )
        yield BatchCall(start, end - start, request)


def _check_max_per_call(max_per_call: int) -> None:
    if max_per_call < 1:
        raise ValueError(f"max_records_per_call must be at least 1, got {max_per_call}")


@dataclass
class _Piece:
    start: int
    predictions: FloatArray
    lower: FloatArray
    upper: FloatArray


class BatchAssembler:
    """Puts the replies of every call back together in input order, by their offsets, and
    checks that each record got exactly one prediction from one model version."""

    def __init__(self, include_intervals: bool) -> None:
        self._include_intervals = include_intervals
        self._pieces: list[_Piece] = []
        self._out_of_range: list[int] = []
        # (model name, version) of each answering model, with the first record it answered.
        self._versions: dict[tuple[str, str], int] = {}
        self._expected = 0

    def expect(self, call: BatchCall) -> None:
        self._expected += call.count

    def add(self, call: BatchCall, reply: pb.PredictBatchResponse) -> None:
        start = call.start + reply.offset
        predictions = array("d", reply.predictions)
        n = len(predictions)
        if reply.offset < 0 or reply.offset + n > call.count:
            raise _protocol_error(
                f"a reply holds records {reply.offset}..{reply.offset + n - 1} "
                f"of a call of {call.count} records"
            )
        lower = array("d", reply.lower)
        upper = array("d", reply.upper)
        if self._include_intervals and not (len(lower) == len(upper) == n):
            raise _protocol_error("a reply lacks the prediction intervals that were asked for")
        self._pieces.append(_Piece(start, predictions, lower, upper))
        self._out_of_range.extend(call.start + i for i in reply.out_of_range_indices)
        self._versions.setdefault((reply.model_name, reply.model_version), start)

    def result(self) -> BatchPrediction:
        pieces = sorted(self._pieces, key=lambda piece: piece.start)
        position = 0
        for piece in pieces:
            if piece.start != position:
                raise _protocol_error(f"the replies do not cover record {position} exactly once")
            position += len(piece.predictions)
        if position != self._expected:
            raise _protocol_error(f"got {position} predictions for {self._expected} records")
        if len(self._versions) > 1:
            changes = ", ".join(
                f"{version!r} from record {i}" for (_, version), i in self._versions.items()
            )
            raise PredictionError(
                grpc.StatusCode.ABORTED,
                f"the served model changed while the input was being predicted ({changes}); "
                "predict the input again",
            )

        def joined(arrays: Iterable[FloatArray]) -> FloatArray:
            whole = array("d")
            for part in arrays:
                whole.extend(part)
            return whole

        model_name, model_version = next(iter(self._versions), ("", ""))
        return BatchPrediction(
            predictions=joined(p.predictions for p in pieces),
            model_version=model_version,
            model_name=model_name,
            out_of_range_indices=array("q", sorted(self._out_of_range)),
            lower=joined(p.lower for p in pieces) if self._include_intervals else None,
            upper=joined(p.upper for p in pieces) if self._include_intervals else None,
        )


def _protocol_error(message: str) -> PredictionError:
    return PredictionError(
        grpc.StatusCode.INTERNAL, f"unexpected replies from the server: {message}"
    )
