"""The server's Prometheus metrics: names, help, labels and buckets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from server.comparisons import DIFF_BUCKETS


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
# Shadow and canary comparisons (`server.comparisons`): every label value is a model or
# version name from the repository, a role, a rank (1-20) or a feature name.
COMPARISON_LABELS = ("model", "role", "version", "reference")
SHADOW_COMPARED = Metric(
    "diabetes_shadow_compared",
    "Records a candidate (role shadow: the shadow version; role canary: the canary) "
    "predicted beside the reference (the stable version) on the same input.",
    Kind.COUNTER,
    COMPARISON_LABELS,
)
SHADOW_BEYOND = Metric(
    "diabetes_shadow_beyond_interval",
    "Compared records whose candidate prediction lies outside the reference's prediction interval.",
    Kind.COUNTER,
    COMPARISON_LABELS,
)
SHADOW_ABS_DIFF = Metric(
    "diabetes_shadow_abs_diff",
    "Sum of |candidate - reference| over the compared records (divided by "
    "diabetes_shadow_compared_total: the mean absolute difference).",
    Kind.COUNTER,
    COMPARISON_LABELS,
)
SHADOW_MAX_ABS_DIFF = Metric(
    "diabetes_shadow_max_abs_diff",
    "The largest |candidate - reference| seen.",
    Kind.GAUGE,
    COMPARISON_LABELS,
)
SHADOW_DIFF = Metric(
    "diabetes_shadow_diff",
    "Distribution of candidate - reference per compared record.",
    Kind.HISTOGRAM,
    COMPARISON_LABELS,
    buckets=DIFF_BUCKETS,
)
SHADOW_CONTRIBUTION = Metric(
    "diabetes_shadow_contribution_abs_diff",
    "Sum over compared records of |candidate's contribution - reference's| per feature: "
    "the features whose contributions moved most have the largest.",
    Kind.COUNTER,
    (*COMPARISON_LABELS, "feature"),
)
SHADOW_WORST = Metric(
    "diabetes_shadow_worst",
    "The largest differences seen (rank 1 the largest, at most 20): per rank the "
    "inputs (field: a feature), the candidate's and the reference's predictions.",
    Kind.GAUGE,
    (*COMPARISON_LABELS, "rank", "field"),
)
SHADOW_ERRORS = Metric(
    "diabetes_shadow_errors",
    "Comparisons that failed or could not be made (the call is answered all the same).",
    Kind.COUNTER,
    ("model",),
)
GUARD_FIGURE = Metric(
    "diabetes_guard_figure",
    "A guarded canary's figure over its guard's window, as this server last measured it.",
    Kind.GAUGE,
    ("model", "version", "figure"),
)
GUARD_BREACHES = Metric(
    "diabetes_guard_breaches",
    "Guards that fired: the canary's share set to 0 in the repository by this server.",
    Kind.COUNTER,
    ("model", "version", "figure"),
)
# `server.comparisons.ComparisonTotals.samples`'s parts, by metric.
COMPARISON_PARTS = {
    "compared": SHADOW_COMPARED,
    "beyond": SHADOW_BEYOND,
    "abs_sum": SHADOW_ABS_DIFF,
    "max_abs": SHADOW_MAX_ABS_DIFF,
    "diff": SHADOW_DIFF,
    "contribution": SHADOW_CONTRIBUTION,
    "worst": SHADOW_WORST,
    "errors": SHADOW_ERRORS,
    "guard_figures": GUARD_FIGURE,
    "breaches": GUARD_BREACHES,
}

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
    SHADOW_COMPARED,
    SHADOW_BEYOND,
    SHADOW_ABS_DIFF,
    SHADOW_MAX_ABS_DIFF,
    SHADOW_DIFF,
    SHADOW_CONTRIBUTION,
    SHADOW_WORST,
    SHADOW_ERRORS,
    GUARD_FIGURE,
    GUARD_BREACHES,
)
