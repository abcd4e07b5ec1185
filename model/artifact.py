"""The model artifact: a versioned, checksummed JSON file, and the model it loads into.

JSON only (never pickle): loading reads numbers and strings, checks them as
`artifact.schema.json` says (by hand: the server must not pay for a schema library at
start-up; a test holds the two together) plus what the schema cannot say, and verifies
the checksum, so a corrupt or edited file is refused with a clear error and nothing in a
file can run code. This module needs numpy only, so the server can load a model without
importing scikit-learn. Writing (`save_artifact`, training only) validates against the
schema file itself with `jsonschema`. The format is described in `model/README.md`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from model.features import FEATURE_NAMES, RAW_UNITS, SCALED
from model.limits import input_limit
from model.linear import FloatArray, predict_columns, predict_scalar
from model.scaling import STANDARD, FeatureScaling, Scaling

ARTIFACT_FORMAT = "diabetes-linear-model"
FORMAT_VERSION = 2  # what save_artifact writes
READABLE_VERSIONS = (1, 2)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
BUNDLED_ARTIFACT = ARTIFACTS / "diabetes-bmi.json"
RAW_UNITS_ARTIFACT = ARTIFACTS / "diabetes-bmi-raw.json"
SCHEMA_PATH = Path(__file__).resolve().parent / "artifact.schema.json"
# A model of ten features is a few kilobytes; anything this large is not an artifact.
MAX_ARTIFACT_BYTES = 16 << 20

_COMMON_KEYS = (
    "format",
    "format_version",
    "name",
    "version",
    "created_at",
    "features",
    "coefficients",
    "intercept",
    "feature_stats",
    "interval",
    "metrics",
    "training_data",
    "hyperparameters",
    "library_versions",
    "checksum",
)
_REQUIRED_KEYS = {1: _COMMON_KEYS, 2: (*_COMMON_KEYS, "units", "scaling")}
_UTC_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")


class ArtifactError(ValueError):
    """The artifact file is missing, malformed, edited or corrupt."""


@dataclass(frozen=True)
class FeatureStats:
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class IntervalSpec:
    """What a prediction interval for a new observation needs (OLS theory).

    For a record x the half-width is
    ``t_quantile * residual_std_error * sqrt(1 + 1/n_train + d' xtx_inv_centered d)``
    with ``d = x - training means``.
    """

    confidence: float
    residual_std_error: float
    degrees_of_freedom: int
    t_quantile: float
    n_train: int
    xtx_inv_centered: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class TrainingData:
    """Where a format-2 model's training rows came from (`training_data` in the file)."""

    source: str
    target: str
    fingerprint: str
    data_fingerprint: str
    n_rows: int
    n_train: int
    n_test: int


class SinglePrediction(NamedTuple):
    """One record's prediction with its interval and explanation."""

    prediction: float
    lower: float
    upper: float
    contributions: dict[str, float]
    out_of_range_features: list[str]


@dataclass(frozen=True)
class LinearModel:
    """A fitted linear model as loaded from an artifact; what the server serves."""

    name: str
    version: str
    created_at: str
    features: tuple[str, ...]
    coefficients: FloatArray
    intercept: float
    feature_stats: tuple[FeatureStats, ...]
    interval: IntervalSpec
    metrics: Mapping[str, float]
    units: Mapping[str, str]  # per feature: a raw unit such as "kg/m2", or "scaled"
    scaling: Scaling | None  # how raw values become the scaled inputs, when recorded
    training: TrainingData | None  # None for format-1 files
    format_version: int
    checksum: str
    document: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def means(self) -> FloatArray:
        return np.array([s.mean for s in self.feature_stats])

    @cached_property
    def baseline(self) -> float:
        """The prediction at the training means."""
        return predict_scalar(self._mean_floats, self._coefficient_floats, self.intercept)

    def explain_one(self, values: Sequence[float]) -> SinglePrediction:
        """Predict one record (values in `features` order) with plain floats: the
        low-latency path. The prediction equals `predict` on the same record exactly."""
        coefficients = self._coefficient_floats
        prediction = predict_scalar(values, coefficients, self.intercept)
        deviations = [value - mean for value, mean in zip(values, self._mean_floats, strict=True)]
        leverage = 0.0
        for d_i, row in zip(deviations, self.interval.xtx_inv_centered, strict=True):
            for m_ij, d_j in zip(row, deviations, strict=True):
                leverage += d_i * m_ij * d_j
        if leverage < 0.0:  # noqa: PLR1730 (no call on the hot path); rounding: the matrix is PSD
            leverage = 0.0
        half_width = self._interval_scale * math.sqrt(self._interval_offset + leverage)
        return SinglePrediction(
            prediction,
            prediction - half_width,
            prediction + half_width,
            {
                name: c * d
                for name, c, d in zip(self.features, coefficients, deviations, strict=True)
            },
            [
                name
                for name, value, (low, high) in zip(
                    self.features, values, self._ranges, strict=True
                )
                if not low <= value <= high
            ],
        )

    @cached_property
    def input_limit(self) -> float:
        """With every input value in [-input_limit, input_limit], every output (prediction,
        interval, contributions) is finite; see `model.limits`."""
        return input_limit(
            self._coefficient_floats,
            self.intercept,
            self._mean_floats,
            self.interval.xtx_inv_centered,
            self._interval_scale,
            self._interval_offset,
        )

    @cached_property
    def _ranges(self) -> tuple[tuple[float, float], ...]:
        return tuple((s.min, s.max) for s in self.feature_stats)

    @cached_property
    def _coefficient_floats(self) -> tuple[float, ...]:
        return tuple(float(c) for c in self.coefficients)

    @cached_property
    def _mean_floats(self) -> tuple[float, ...]:
        return tuple(s.mean for s in self.feature_stats)

    @cached_property
    def _interval_scale(self) -> float:
        return self.interval.t_quantile * self.interval.residual_std_error

    @cached_property
    def _interval_offset(self) -> float:
        return 1.0 + 1.0 / self.interval.n_train

    def predict_columns(self, columns: Sequence[FloatArray]) -> FloatArray:
        """Predict from one 1-D array per feature, in `features` order."""
        return predict_columns(columns, self.coefficients, self.intercept)

    def predict(self, X: FloatArray) -> FloatArray:
        """Predict from a 2-D array (n_samples, n_features)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"expected an array of shape (n, {len(self.features)}), got {X.shape}")
        return self.predict_columns([X[:, j] for j in range(X.shape[1])])

    def interval_half_width(self, columns: Sequence[FloatArray]) -> FloatArray:
        """Half-width of the prediction interval of each record."""
        deviations = np.stack(
            [c - s.mean for c, s in zip(columns, self.feature_stats, strict=True)], axis=1
        )
        leverage = np.einsum("ij,jk,ik->i", deviations, self._xtx_inv, deviations)
        np.maximum(leverage, 0.0, out=leverage)  # rounding: the matrix is positive semi-definite
        return np.asarray(self._interval_scale * np.sqrt(self._interval_offset + leverage))

    def out_of_range(self, columns: Sequence[FloatArray]) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Per feature and record: is the value outside the training range? Shape (p, n)."""
        return np.stack(
            [(c < s.min) | (c > s.max) for c, s in zip(columns, self.feature_stats, strict=True)]
        )

    @cached_property
    def _xtx_inv(self) -> FloatArray:
        return np.array(self.interval.xtx_inv_centered, dtype=np.float64)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The bytes the checksum covers: sorted keys, no whitespace, exact float repr."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def compute_checksum(document: Mapping[str, Any]) -> str:
    body = {key: value for key, value in document.items() if key != "checksum"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def save_artifact(document: Mapping[str, Any], path: Path) -> Path:
    """Validate (the JSON Schema, then the loader's checks), checksum and write an artifact
    document atomically; returns the path."""
    sealed = {**document, "format": ARTIFACT_FORMAT, "format_version": FORMAT_VERSION}
    sealed["checksum"] = compute_checksum(sealed)
    validate_with_schema(sealed)
    model_from_document(sealed)  # never write what could not be loaded
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(sealed, tmp, indent=2, sort_keys=True, allow_nan=False)
        tmp.write("\n")
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile creates 0600; a model is not a secret
    os.replace(tmp.name, path)
    return path


def validate_with_schema(document: Mapping[str, Any]) -> None:
    """Check a document against `artifact.schema.json` (needs `jsonschema`, a training
    dependency); raises ArtifactError naming the first offending place."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = ".".join(str(part) for part in ("artifact", *error.absolute_path))
        raise ArtifactError(f"{where}: {error.message} (artifact.schema.json)")


def load_artifact(path: Path | str = BUNDLED_ARTIFACT) -> LinearModel:
    """Read, validate and checksum-verify an artifact file.

    Whatever the file holds (or if it cannot be read), the only error is an `ArtifactError`
    naming the file and what is wrong with it.
    """
    path = Path(path)
    text = _read_text(path)
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ArtifactError(
            f"model artifact {path} is nested too deeply to be an artifact"
        ) from exc
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise ArtifactError(f"model artifact {path} is not valid JSON: {exc}") from exc
    try:
        return model_from_document(document)
    except ArtifactError as exc:
        raise ArtifactError(f"model artifact {path}: {exc}") from exc
    except (ArithmeticError, RecursionError, TypeError, ValueError) as exc:
        # What the schema checks did not foresee is still a bad file, not a crash.
        raise ArtifactError(f"model artifact {path}: {type(exc).__name__}: {exc}") from exc


def _read_text(path: Path) -> str:
    try:
        # Non-blocking, so that a FIFO put in the artifact's place cannot hang the reader.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise ArtifactError(f"model artifact {path} is not a regular file")
            data = file.read(MAX_ARTIFACT_BYTES + 1)
    except OSError as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_ARTIFACT_BYTES:
        raise ArtifactError(
            f"model artifact {path} is over {MAX_ARTIFACT_BYTES >> 20} MiB: not an artifact"
        )
    if not data.strip():
        raise ArtifactError(f"model artifact {path} is empty")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(
            f"model artifact {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from exc


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed in an artifact")


def model_from_document(document: Any) -> LinearModel:
    """Validate an artifact document (the checks of `artifact.schema.json` and the
    cross-field ones it cannot express, then the checksum) and build the model."""
    doc = _Reader(document, "artifact")
    if doc.read_str("format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"format must be {ARTIFACT_FORMAT!r}")
    format_version = doc.read_int("format_version")
    if format_version not in READABLE_VERSIONS:
        raise ArtifactError(
            f"format_version {format_version} is not supported "
            f"(this build reads {', '.join(map(str, READABLE_VERSIONS))})"
        )
    doc.expect_keys(_REQUIRED_KEYS[format_version])
    name = doc.read_str("name")
    version = doc.read_str("version")
    created_at = doc.read_str("created_at")
    if not _UTC_SECOND.fullmatch(created_at):
        raise ArtifactError("artifact.created_at must be a UTC time like 2026-01-31T12:00:00Z")
    features = tuple(doc.read_str_list("features"))
    if not features:
        raise ArtifactError("features must name at least one feature")
    unknown = [name for name in features if name not in FEATURE_NAMES]
    if unknown or len(set(features)) != len(features):
        raise ArtifactError(f"features must be distinct names from {FEATURE_NAMES}, got {features}")
    coefficients = doc.read_float_list("coefficients")
    if len(coefficients) != len(features):
        raise ArtifactError(
            f"coefficients has {len(coefficients)} values for {len(features)} features"
        )
    stats_doc = doc.read_child("feature_stats")
    stats_doc.expect_keys(features)
    stats = []
    for feature in features:
        entry = stats_doc.read_child(feature)
        entry.expect_keys(("mean", "std", "min", "max"))
        stats.append(
            FeatureStats(
                entry.read_float("mean"),
                entry.read_float("std", minimum=0.0),
                entry.read_float("min"),
                entry.read_float("max"),
            )
        )
    interval = _read_interval(doc.read_child("interval"), len(features))
    metrics_doc = doc.read_child("metrics")
    metrics = {key: metrics_doc.read_float(key) for key in metrics_doc.names()}
    doc.read_child("hyperparameters")
    versions = doc.read_child("library_versions")
    for key in versions.names():
        versions.read_str(key, allow_empty=True)
    if format_version == 1:
        # Format 1 was only ever written for the bundled data set's scaled values.
        doc.read_child("training_data")
        units: dict[str, str] = dict.fromkeys(features, SCALED)
        scaling = None
        training = None
    else:
        units = _read_units(doc.read_child("units"), features)
        scaling = _read_scaling(doc, units)
        training = _read_training_data(doc.read_child("training_data"))
        if training.n_train != interval.n_train:
            raise ArtifactError("training_data.n_train differs from interval.n_train")
    checksum = doc.read_str("checksum")
    if checksum != compute_checksum(document):
        raise ArtifactError(
            "checksum does not match the content: the file was edited or corrupted "
            "(retrain, or restore the original file)"
        )
    model = LinearModel(
        name=name,
        version=version,
        created_at=created_at,
        features=features,
        coefficients=np.array(coefficients, dtype=np.float64),
        intercept=doc.read_float("intercept"),
        feature_stats=tuple(stats),
        interval=interval,
        metrics=metrics,
        units=units,
        scaling=scaling,
        training=training,
        format_version=format_version,
        checksum=checksum,
        document=document,
    )
    limit = model.input_limit
    for feature_name, seen in zip(features, stats, strict=True):
        if seen.min > seen.max:
            raise ArtifactError(f"feature_stats.{feature_name}: min is above max")
        if not -limit <= seen.min <= seen.max <= limit:
            raise ArtifactError(
                f"the numbers are too large: predictions over {feature_name}'s training range "
                "would not be finite"
            )
    return model


def _positive_semidefinite(matrix: FloatArray) -> bool:
    scale = float(np.abs(matrix).max())
    if not np.allclose(matrix, matrix.T, rtol=1e-9, atol=1e-12 * scale):
        return False
    return bool(np.linalg.eigvalsh(matrix).min() >= -1e-9 * scale)


def _read_interval(doc: _Reader, size: int) -> IntervalSpec:
    doc.expect_keys(
        (
            "confidence",
            "residual_std_error",
            "degrees_of_freedom",
            "t_quantile",
            "n_train",
            "xtx_inv_centered",
        )
    )
    interval = IntervalSpec(
        confidence=doc.read_float("confidence"),
        residual_std_error=doc.read_float("residual_std_error", minimum=0.0),
        degrees_of_freedom=doc.read_int("degrees_of_freedom", minimum=1),
        t_quantile=doc.read_float("t_quantile"),
        n_train=doc.read_int("n_train", minimum=1),
        xtx_inv_centered=doc.read_matrix("xtx_inv_centered", size),
    )
    if not 0 < interval.confidence < 1:
        raise ArtifactError("artifact.interval.confidence must be between 0 and 1")
    if not _positive_semidefinite(np.array(interval.xtx_inv_centered, dtype=np.float64)):
        raise ArtifactError(
            "interval.xtx_inv_centered must be symmetric positive semi-definite "
            "(an inverse of X'X); otherwise intervals have negative variances"
        )
    return interval


def _read_units(doc: _Reader, features: tuple[str, ...]) -> dict[str, str]:
    doc.expect_keys(features)
    units = {}
    for feature in features:
        unit = doc.read_str(feature)
        if unit not in (SCALED, RAW_UNITS[feature]):
            raise ArtifactError(
                f"artifact.units.{feature} must be {SCALED!r} or {RAW_UNITS[feature]!r}"
            )
        units[feature] = unit
    return units


def _read_scaling(doc: _Reader, units: Mapping[str, str]) -> Scaling | None:
    if doc.is_null("scaling"):
        return None
    scaling = doc.read_child("scaling")
    scaling.expect_keys(("method", "description", "features"))
    if scaling.read_str("method") != STANDARD:
        raise ArtifactError(f"artifact.scaling.method must be {STANDARD!r}")
    scaled = tuple(feature for feature, unit in units.items() if unit == SCALED)
    if not scaled:
        raise ArtifactError("artifact.scaling must be null: no feature is in scaled units")
    per_feature = scaling.read_child("features")
    per_feature.expect_keys(scaled)
    features = {}
    for feature in scaled:
        entry = per_feature.read_child(feature)
        entry.expect_keys(("raw_units", "mean", "scale"))
        if entry.read_str("raw_units") != RAW_UNITS[feature]:
            raise ArtifactError(
                f"artifact.scaling.features.{feature}.raw_units must be {RAW_UNITS[feature]!r}"
            )
        scale = entry.read_float("scale")
        if not scale > 0:
            raise ArtifactError(f"artifact.scaling.features.{feature}.scale must be > 0")
        features[feature] = FeatureScaling(RAW_UNITS[feature], entry.read_float("mean"), scale)
    return Scaling(STANDARD, scaling.read_str("description"), features)


def _read_training_data(doc: _Reader) -> TrainingData:
    doc.expect_keys(
        (
            "source",
            "target",
            "fingerprint",
            "data_fingerprint",
            "n_rows",
            "n_train",
            "n_test",
            "split",
        )
    )
    source = doc.read_str("source")
    if "/" in source or "\\" in source:
        raise ArtifactError("artifact.training_data.source must be a file name, not a path")
    fingerprints = [doc.read_str(key) for key in ("fingerprint", "data_fingerprint")]
    if not all(_SHA256.fullmatch(value) for value in fingerprints):
        raise ArtifactError("artifact.training_data fingerprints must be sha256:<64 hex digits>")
    n_rows = doc.read_int("n_rows", minimum=2)
    n_train = doc.read_int("n_train", minimum=1)
    n_test = doc.read_int("n_test", minimum=1)
    if n_train + n_test != n_rows:
        raise ArtifactError("artifact.training_data: n_train + n_test must equal n_rows")
    split = doc.read_child("split")
    split.expect_keys(("method", "test_size", "random_state", "description"))
    if split.read_str("method") not in ("tail", "shuffle"):
        raise ArtifactError("artifact.training_data.split.method must be 'tail' or 'shuffle'")
    split.read_int("test_size", minimum=1)
    if not split.is_null("random_state"):
        split.read_int("random_state")
    split.read_str("description")
    return TrainingData(
        source=source,
        target=doc.read_str("target"),
        fingerprint=fingerprints[0],
        data_fingerprint=fingerprints[1],
        n_rows=n_rows,
        n_train=n_train,
        n_test=n_test,
    )


class _Reader:
    """Typed access to a JSON object, with errors that name the offending key."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise ArtifactError(f"{where} must be a JSON object")
        self._value: dict[str, Any] = value
        self._where = where

    def names(self) -> list[str]:
        return list(self._value)

    def expect_keys(self, required: Sequence[str], optional: Sequence[str] = ()) -> None:
        """Every required key present, and no key that is neither required nor optional."""
        for key in required:
            self._get(key)
        unknown = sorted(set(self._value) - set(required) - set(optional))
        if unknown:
            raise ArtifactError(f"{self._where} has unknown key(s) {', '.join(unknown)}")

    def _get(self, key: str) -> Any:
        if key not in self._value:
            raise ArtifactError(f"{self._where}.{key} is missing")
        return self._value[key]

    def is_null(self, key: str) -> bool:
        return self._get(key) is None

    def read_child(self, key: str) -> _Reader:
        return _Reader(self._get(key), f"{self._where}.{key}")

    def read_str(self, key: str, allow_empty: bool = False) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not (value or allow_empty):
            raise ArtifactError(f"{self._where}.{key} must be a non-empty string")
        return value

    def read_int(self, key: str, minimum: int | None = None) -> int:
        value = self._get(key)
        # JSON Schema's integer: 3 or 3.0, never true/false.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ArtifactError(f"{self._where}.{key} must be an integer")
        if minimum is not None and value < minimum:
            raise ArtifactError(f"{self._where}.{key} must be at least {minimum}")
        return value

    def read_float(self, key: str, minimum: float | None = None) -> float:
        value = _finite(self._get(key), f"{self._where}.{key}")
        if minimum is not None and value < minimum:
            raise ArtifactError(f"{self._where}.{key} must be at least {minimum}")
        return value

    def read_str_list(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ArtifactError(f"{self._where}.{key} must be a list of strings")
        return value

    def read_float_list(self, key: str) -> list[float]:
        value = self._get(key)
        if not isinstance(value, list):
            raise ArtifactError(f"{self._where}.{key} must be a list of numbers")
        return [_finite(v, f"{self._where}.{key}[{i}]") for i, v in enumerate(value)]

    def read_matrix(self, key: str, size: int) -> tuple[tuple[float, ...], ...]:
        value = self._get(key)
        if (
            not isinstance(value, list)
            or len(value) != size
            or not all(isinstance(row, list) and len(row) == size for row in value)
        ):
            raise ArtifactError(f"{self._where}.{key} must be a {size}x{size} matrix")
        return tuple(
            tuple(_finite(v, f"{self._where}.{key}[{i}][{j}]") for j, v in enumerate(row))
            for i, row in enumerate(value)
        )


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArtifactError(f"{where} must be a finite number")
    try:
        number = float(value)  # an integer too large for a float overflows here
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ArtifactError(f"{where} must be a finite number")
    return number
