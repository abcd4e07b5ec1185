"""Metrics, training-set statistics and the prediction-interval terms of a fitted model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from model.linear import FloatArray

CONFIDENCE = 0.95


def regression_metrics(y_true: FloatArray, y_pred: FloatArray, prefix: str) -> dict[str, float]:
    """MSE, MAE and R² keyed `<prefix>_mse`, `<prefix>_mae`, `<prefix>_r2`."""
    return {
        f"{prefix}_mse": float(mean_squared_error(y_true, y_pred)),
        f"{prefix}_mae": float(mean_absolute_error(y_true, y_pred)),
        f"{prefix}_r2": float(r2_score(y_true, y_pred)),
    }


def feature_statistics(X: FloatArray, names: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per feature: mean, population standard deviation, min and max of the training data
    (what drift and out-of-range checks compare new records against)."""
    return {
        name: {
            "mean": float(column.mean()),
            "std": float(column.std()),
            "min": float(column.min()),
            "max": float(column.max()),
        }
        for name, column in zip(names, X.T, strict=True)
    }


def interval_terms(
    X_train: FloatArray, y_train: FloatArray, fitted: FloatArray, confidence: float = CONFIDENCE
) -> dict[str, Any]:
    """What a prediction interval for a new record needs, from ordinary least-squares theory.

    The half-width at x is ``t · s · sqrt(1 + 1/n + d' (Xc'Xc)⁻¹ d)`` with ``d = x − mean``,
    s the residual standard error on ``n − p − 1`` degrees of freedom, Xc the centred
    training matrix and t the Student quantile (computed here so serving needs no scipy).
    Exact for the least-squares fit (``l2 = 0``); for an L2-penalised fit it is the usual
    approximation, evaluated at the penalised coefficients' residuals.
    """
    n, p = X_train.shape
    dof = n - p - 1
    if dof < 1:
        raise ValueError(f"a prediction interval needs more than {p + 1} training rows, got {n}")
    residuals = y_train - fitted
    centred = X_train - X_train.mean(axis=0)
    try:
        xtx_inv = np.linalg.inv(centred.T @ centred)
    except np.linalg.LinAlgError as exc:
        raise ValueError("the training features are collinear; no interval exists") from exc
    return {
        "confidence": confidence,
        "residual_std_error": float(np.sqrt(residuals @ residuals / dof)),
        "degrees_of_freedom": dof,
        "t_quantile": float(stats.t.ppf(0.5 + confidence / 2, dof)),
        "n_train": n,
        "xtx_inv_centered": xtx_inv.tolist(),
    }
