"""Training data: the bundled diabetes data set or a user's rows, and the train/test split.

A `Dataset` is the chosen feature columns and the target, with where they came from and
the units the columns are in; `split_dataset` holds out test rows (the last ones, as the
classic exercise does, or a seeded shuffle).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from model.features import FEATURE_NAMES, RAW_UNITS, SCALED
from model.linear import FloatArray
from model.scaling import Scaling, apply_scaling, standard_scaling

BUNDLED_SOURCE = "sklearn.datasets.load_diabetes"
BUNDLED_TARGET = "target"
TARGET_DESCRIPTION = "quantitative measure of disease progression one year after baseline"
DEFAULT_TEST_SIZE = 20
FINGERPRINT_HEADER = b"diabetes-rows/1\n"

Units = Literal["scaled", "raw"]
UNIT_CHOICES: tuple[Units, ...] = ("scaled", "raw")


class DataError(ValueError):
    """Data the trainer cannot use; the message names the file, row or column."""


@dataclass(frozen=True)
class Dataset:
    """Feature columns (in data-set column order) and the target, with their provenance."""

    features: tuple[str, ...]
    X: FloatArray
    y: FloatArray
    source: str  # a file name (never a path) or the bundled data set's name
    target: str  # the target column's name
    units: Mapping[str, str]  # per feature: a raw unit (`RAW_UNITS`) or `SCALED`
    scaling: Scaling | None  # how raw values became the scaled ones, when known

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def fingerprint(self) -> str:
        """Of every row (training and test); see `rows_fingerprint`."""
        return rows_fingerprint(self.features, self.X, self.y)

    def standardised(self) -> Dataset:
        """The same rows with raw features scaled as the bundled data set is (stats over all
        rows). A linear least-squares fit is affine-equivariant, so this changes the units a
        model reads, not its predictions."""
        already = [name for name in self.features if self.units[name] == SCALED]
        if already:
            raise DataError(f"{self.source}: {', '.join(already)} already scaled")
        scaling = standard_scaling(self.X, self.features, self.units)
        return replace(
            self,
            X=apply_scaling(self.X, self.features, scaling),
            units=dict.fromkeys(self.features, SCALED),
            scaling=scaling,
        )


def rows_fingerprint(features: Sequence[str], X: FloatArray, y: FloatArray) -> str:
    """SHA-256 of the canonical rows: a header naming the features, then each row's values
    (features in data-set column order, then the target) as float64 little-endian, rows
    sorted by value. Any changed, added or removed row changes it; the rows' order does not
    (a least-squares fit does not depend on it either). -0.0 counts as 0.0."""
    rows = np.column_stack([X, y]).astype("<f8") + 0.0
    order = np.lexsort(rows.T[::-1])
    digest = hashlib.sha256(FINGERPRINT_HEADER)
    digest.update(json.dumps(list(features)).encode() + b"\n")
    digest.update(np.ascontiguousarray(rows[order]).tobytes())
    return "sha256:" + digest.hexdigest()


def bundled_dataset(features: Sequence[str], units: Units = "scaled") -> Dataset:
    """scikit-learn's 442 patients: `units="scaled"` the data set's scaled values (the
    scaling recorded from its raw version), `"raw"` the clinical units."""
    features = _in_column_order(features)
    columns = [FEATURE_NAMES.index(name) for name in features]
    raw, y = load_diabetes(return_X_y=True, scaled=False)
    raw_dataset = Dataset(
        features=features,
        X=np.ascontiguousarray(raw[:, columns], dtype=np.float64),
        y=np.asarray(y, dtype=np.float64),
        source=f"{BUNDLED_SOURCE}(scaled=False)",
        target=BUNDLED_TARGET,
        units={name: RAW_UNITS[name] for name in features},
        scaling=None,
    )
    if units == "raw":
        return raw_dataset
    scaled, _ = load_diabetes(return_X_y=True)
    scaling = raw_dataset.standardised().scaling
    return replace(
        raw_dataset,
        # The data set's own scaled values, not our recomputation (equal to ~1e-16).
        X=np.ascontiguousarray(scaled[:, columns], dtype=np.float64),
        source=f"{BUNDLED_SOURCE}(scaled=True)",
        units=dict.fromkeys(features, SCALED),
        scaling=scaling,
    )


def _in_column_order(features: Sequence[str]) -> tuple[str, ...]:
    unknown = [name for name in features if name not in FEATURE_NAMES]
    if unknown or not features or len(set(features)) != len(features):
        raise ValueError(f"features must be names from {FEATURE_NAMES}, got {list(features)}")
    return tuple(name for name in FEATURE_NAMES if name in features)


@dataclass(frozen=True)
class Split:
    """A data set's rows split into training and held-out test rows."""

    dataset: Dataset
    X_train: FloatArray
    y_train: FloatArray
    X_test: FloatArray
    y_test: FloatArray
    test_size: int
    random_state: int | None

    @property
    def features(self) -> tuple[str, ...]:
        return self.dataset.features

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    @property
    def method(self) -> str:
        return "tail" if self.random_state is None else "shuffle"

    @property
    def description(self) -> str:
        n = self.n_train + self.n_test
        if self.random_state is None:
            return (
                f"rows 0-{self.n_train - 1} train, the last {self.n_test} "
                f"(rows {self.n_train}-{n - 1}) test; no shuffle"
            )
        return (
            f"{self.n_test} of {n} rows test, drawn by sklearn train_test_split"
            f"(shuffle=True, random_state={self.random_state}); the other {self.n_train} train"
        )

    def fingerprint(self) -> str:
        """Of the training rows; see `rows_fingerprint`."""
        return rows_fingerprint(self.features, self.X_train, self.y_train)


def split_dataset(
    dataset: Dataset, test_size: int = DEFAULT_TEST_SIZE, random_state: int | None = None
) -> Split:
    """Hold out `test_size` rows: the last ones, or with `random_state` a seeded shuffle."""
    n, p = dataset.X.shape
    # The prediction interval needs n_train - p - 1 >= 1 degrees of freedom.
    max_test = n - p - 2
    if max_test < 1:
        raise DataError(
            f"{dataset.source}: {n} data rows are too few for {p} feature(s); "
            f"at least {p + 3} are needed ({p + 2} to train, 1 to test)"
        )
    if not 1 <= test_size <= max_test:
        raise DataError(f"test size must be between 1 and {max_test}, got {test_size}")
    train, test = train_test_split(
        np.arange(n),
        test_size=test_size,
        shuffle=random_state is not None,
        random_state=random_state,
    )
    return Split(
        dataset=dataset,
        X_train=np.ascontiguousarray(dataset.X[train]),
        y_train=np.ascontiguousarray(dataset.y[train]),
        X_test=np.ascontiguousarray(dataset.X[test]),
        y_test=np.ascontiguousarray(dataset.y[test]),
        test_size=test_size,
        random_state=random_state,
    )


def load_split(
    features: Sequence[str],
    test_size: int = DEFAULT_TEST_SIZE,
    units: Units = "scaled",
    random_state: int | None = None,
) -> Split:
    """The bundled data set's classic split: all rows but the last `test_size` train."""
    return split_dataset(bundled_dataset(features, units), test_size, random_state)
