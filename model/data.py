"""The diabetes data set (bundled with scikit-learn) and the classic train/test split."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.datasets import load_diabetes

from model.features import FEATURE_NAMES
from model.linear import FloatArray

DATASET = "sklearn.datasets.load_diabetes"
DEFAULT_TEST_SIZE = 20
TARGET = "quantitative measure of disease progression one year after baseline"
FEATURE_SCALING = "each feature mean-centred and scaled by its standard deviation times sqrt(442)"


@dataclass(frozen=True)
class Split:
    """The chosen feature columns, split into training rows and the held-out tail."""

    features: tuple[str, ...]
    X_train: FloatArray
    y_train: FloatArray
    X_test: FloatArray
    y_test: FloatArray

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.X_test.shape[0])

    @property
    def description(self) -> str:
        n = self.n_train + self.n_test
        return (
            f"rows 0-{self.n_train - 1} train, the last {self.n_test} "
            f"(rows {self.n_train}-{n - 1}) test; no shuffle"
        )

    def fingerprint(self) -> str:
        """sha256 of the training matrix's then the targets' float64 little-endian bytes."""
        digest = hashlib.sha256()
        for array in (self.X_train, self.y_train):
            digest.update(np.ascontiguousarray(array, dtype="<f8").tobytes())
        return "sha256:" + digest.hexdigest()


def load_split(features: Sequence[str], test_size: int = DEFAULT_TEST_SIZE) -> Split:
    """Load the 442 patients, keep `features` (put in data-set column order) and hold out the
    last `test_size` rows for testing, as the classic exercise does."""
    unknown = [name for name in features if name not in FEATURE_NAMES]
    if unknown or not features or len(set(features)) != len(features):
        raise ValueError(f"features must be names from {FEATURE_NAMES}, got {list(features)}")
    X, y = load_diabetes(return_X_y=True)
    columns = sorted(FEATURE_NAMES.index(name) for name in features)
    X = np.ascontiguousarray(X[:, columns], dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # The prediction interval needs n_train - p - 1 >= 1 degrees of freedom.
    max_test = X.shape[0] - len(columns) - 2
    if not 1 <= test_size <= max_test:
        raise ValueError(f"test size must be between 1 and {max_test}, got {test_size}")
    cut = X.shape[0] - test_size
    return Split(
        features=tuple(FEATURE_NAMES[i] for i in columns),
        X_train=X[:cut],
        y_train=y[:cut],
        X_test=X[cut:],
        y_test=y[cut:],
    )
