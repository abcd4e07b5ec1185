"""The server's Prometheus metrics: names, help, labels and buckets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class Metric:
    name: str  # a counter's without `_total`
    help: str
    kind: Kind
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()  # histograms: upper bounds, +Inf implied


LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
RECORD_BUCKETS = (1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0)

CALLS = Metric(
    "diabetes_calls",
    "Finished calls by gRPC method and status code.",
    Kind.COUNTER,
    ("method", "code"),
)
LATENCY = Metric(
    "diabetes_call_duration_seconds",
    "Time in the handler, from the request to the last reply message.",
    Kind.HISTOGRAM,
    ("method",),
    buckets=LATENCY_BUCKETS,
)
RECORDS = Metric(
    "diabetes_call_records",
    "Records per call (1 for Predict).",
    Kind.HISTOGRAM,
    ("method",),
    buckets=RECORD_BUCKETS,
)
MODEL_CALLS = Metric(
    "diabetes_model_calls",
    "Finished calls by the model and version that answered them (names from the model "
    "repository, never from the request) and status code.",
    Kind.COUNTER,
    ("model", "version", "code"),
)
IN_FLIGHT = Metric(
    "diabetes_calls_in_flight",
    "Calls being handled now.",
    Kind.GAUGE,
    ("method",),
)
RESERVED_BYTES = Metric(
    "diabetes_admission_reserved_bytes",
    "Memory the calls in flight have reserved from the admission budget (each call its "
    "bound: a multiple of its body plus a constant).",
    Kind.GAUGE,
    (),
)
ADMISSION_REFUSALS = Metric(
    "diabetes_admission_refusals",
    "Calls refused before their parse, by reason: memory (the budget is taken), calls "
    "(every prediction place is taken), bulk (every bulk place is taken), the last two "
    "before the request is received, all RESOURCE_EXHAUSTED; too_large (over the whole "
    "budget, INVALID_ARGUMENT).",
    Kind.COUNTER,
    ("reason",),
)
MODEL_INFO = Metric(
    "diabetes_model_info",
    "1 for the model version being served (0 for one served before).",
    Kind.GAUGE,
    ("name", "version", "checksum"),
)
RELOADS = Metric(
    "diabetes_model_reloads",
    "Model reload attempts: ok (swapped) or refused (bad artifact, old model kept).",
    Kind.COUNTER,
    ("result",),
)
FILES_REFUSED = Metric(
    "diabetes_model_files_refused",
    "Files of the model repository refused at the last load, by the model they belong to "
    '(from the repository\'s names; "" for a file whose name is not a valid one).',
    Kind.GAUGE,
    ("model",),
)
TRAINING_MEAN = Metric(
    "diabetes_training_feature_mean",
    "Mean of each feature in the model's training data.",
    Kind.GAUGE,
    ("feature",),
)
TRAINING_STD = Metric(
    "diabetes_training_feature_std",
    "Standard deviation of each feature in the model's training data.",
    Kind.GAUGE,
    ("feature",),
)
# A gauge, not a counter: feature values (centred) are negative as often as not.
FEATURE_SUM = Metric(
    "diabetes_input_feature_sum",
    "Sum of each feature's input values; divided by diabetes_input_feature_values_total "
    "it is the running mean (delta(sum[w]) / increase(values[w]) over a window).",
    Kind.GAUGE,
    ("feature",),
)
FEATURE_COUNT = Metric(
    "diabetes_input_feature_values",
    "Input values seen per feature.",
    Kind.COUNTER,
    ("feature",),
)
OUT_OF_RANGE = Metric(
    "diabetes_input_out_of_range",
    "Input values outside the training range, per feature and side (below, above).",
    Kind.COUNTER,
    ("feature", "side"),
)

ALL = (
    CALLS,
    LATENCY,
    RECORDS,
    MODEL_CALLS,
    IN_FLIGHT,
    RESERVED_BYTES,
    ADMISSION_REFUSALS,
    MODEL_INFO,
    RELOADS,
    FILES_REFUSED,
    TRAINING_MEAN,
    TRAINING_STD,
    FEATURE_SUM,
    FEATURE_COUNT,
    OUT_OF_RANGE,
)
