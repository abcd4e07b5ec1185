"""Prediction arithmetic of a fitted linear model, shared by training and serving.

Both the estimator and the server compute predictions here, so served numbers are
bit-for-bit those of `SimpleLinearRegression.predict`. The sum runs feature by
feature over whole columns: the same operations in the same order whatever the
batch size, and no per-record Python work.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def predict_columns(
    columns: Sequence[FloatArray], coefficients: FloatArray, intercept: float
) -> FloatArray:
    """Predict from one 1-D array per feature (all the same length)."""
    if len(columns) != len(coefficients):
        raise ValueError(f"expected {len(coefficients)} feature columns, got {len(columns)}")
    if not columns:
        raise ValueError("a linear model needs at least one feature")
    total = columns[0] * coefficients[0]
    for column, coefficient in zip(columns[1:], coefficients[1:], strict=True):
        total += column * coefficient
    total += intercept
    return np.asarray(total, dtype=np.float64)


def predict_matrix(X: FloatArray, coefficients: FloatArray, intercept: float) -> FloatArray:
    """Predict from a 2-D array of shape (n_samples, n_features)."""
    return predict_columns([X[:, j] for j in range(X.shape[1])], coefficients, intercept)


def predict_scalar(
    values: Sequence[float], coefficients: Sequence[float], intercept: float
) -> float:
    """Predict one record with plain float arithmetic.

    The same IEEE operations in the same order as `predict_columns`, so the result is
    bit-for-bit that of the vectorised path, without numpy's per-call overhead.
    """
    total = values[0] * coefficients[0]
    for value, coefficient in zip(values[1:], coefficients[1:], strict=True):
        total += value * coefficient
    return total + intercept
