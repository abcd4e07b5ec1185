"""What the client returns: plain frozen dataclasses and arrays, no protobuf.

Batch results are standard-library `array.array`s (float64 and int64): compact, and
`numpy.asarray(result.predictions)` views them without a copy where numpy is installed.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

FloatArray: TypeAlias = "array[float]"
IndexArray: TypeAlias = "array[int]"


@dataclass(frozen=True)
class Prediction:
    """One record's prediction with its interval and explanation."""

    prediction: float
    lower: float
    upper: float
    # Coverage of [lower, upper], e.g. 0.95.
    confidence: float
    # The model's prediction at the training means; with the contributions it sums to
    # the prediction.
    baseline: float
    contributions: Mapping[str, float]
    out_of_range_features: tuple[str, ...]
    model_version: str
    # The model that answered (the server's default when the call named none).
    model_name: str = ""


@dataclass(frozen=True, eq=False)
class BatchPrediction:
    """Predictions for many records, in input order. `lower` and `upper` are set when the
    intervals were asked for. `out_of_range_indices` are the input indices of records with
    a feature outside the training range (ascending)."""

    predictions: FloatArray
    model_version: str
    out_of_range_indices: IndexArray
    lower: FloatArray | None = None
    upper: FloatArray | None = None
    model_name: str = ""

    def __len__(self) -> int:
        return len(self.predictions)


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    # Weight in the model (raw, unscaled input units).
    coefficient: float
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class ServiceLimits:
    max_batch_records: int
    batch_chunk_records: int
    max_receive_message_bytes: int


@dataclass(frozen=True)
class ServedModel:
    """A model the server serves: its versions and labels."""

    name: str
    versions: tuple[str, ...]
    stable: str
    # Empty when there is no canary.
    canary: str
    # Per cent of calls naming no version that the canary answers.
    canary_percent: float
    # The model answering calls that name none.
    is_default: bool


@dataclass(frozen=True)
class ModelInfo:
    """The model being served and the service's limits."""

    name: str
    version: str
    features: tuple[FeatureInfo, ...]
    intercept: float
    baseline: float
    metrics: Mapping[str, float]
    interval_confidence: float
    created_at: str
    checksum: str
    limits: ServiceLimits
    n_train: int
    # Every model, version and label the server serves.
    models: tuple[ServedModel, ...] = ()
    # Each feature's unit, e.g. {"bmi": "kg/m2"} or {"bmi": "scaled"}.
    units: Mapping[str, str] = field(default_factory=dict)
