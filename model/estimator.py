"""`SimpleLinearRegression`: least squares fitted by gradient descent, scikit-learn style.

Fitting runs on a standardised copy of the problem: every feature and the target are
centred and divided by their standard deviation. There the Hessian of the loss is the
features' correlation matrix (plus the L2 term), whatever the units of the raw data, so
one learning rate suits any data set, and the default step ``1/L`` (L = the Hessian's
largest eigenvalue) is the largest one that is safe. The fitted coefficients are then
mapped back to raw input units, so ``coef_`` and ``intercept_`` describe the raw data and
`predict` needs no scaler.

The objective, in standardised units (``z`` the standardised features, ``t`` the
standardised target, ``w`` the standardised coefficients)::

    J(w) = 1/(2n) · ||t − z·w||² + l2/2 · ||w||²

Gradient descent stops when the gradient's Euclidean norm falls below `tol` (a scale-free
number, as the problem is standardised), or after `max_iter` iterations with a
`ConvergenceWarning`. With ``l2 = 0`` the minimiser is the ordinary least-squares
solution; with ``l2 > 0`` it is ridge regression on standardised features (scikit-learn's
``Ridge(alpha = n · l2)`` after a ``StandardScaler`` on X and y).

The intercept needs no descent: on centred data it is zero in standardised units, and in
raw units it is ``mean(y) − coef_ · mean(X)``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from model.linear import FloatArray, predict_matrix

MIN_SAMPLES = 2
# A full-batch step below 2/L never increases the loss; growing this far past the
# starting loss can only mean the learning rate is too large for the data.
_DIVERGENCE_FACTOR = 1e12


class GradientDescentDivergedError(ValueError):
    """The loss grew without bound: the learning rate is too large for this data."""


class SimpleLinearRegression(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Linear least squares (optionally L2-penalised) fitted by gradient descent.

    Parameters
    ----------
    learning_rate : "auto" or float > 0, default="auto"
        Step size on the standardised problem. "auto" uses ``1/L`` for full batch (L =
        largest eigenvalue of the Hessian), and ``1/(L + R²/batch_size)`` for mini-batches
        (R² = largest squared norm of a standardised row), which keeps small batches
        stable. A fixed value must stay below ``2/L`` (at most ``2/n_features``) or
        fitting raises `GradientDescentDivergedError`.
    max_iter : int >= 1, default=100_000
        Cap on iterations (full batch) or epochs (mini-batch). Reaching it issues a
        `sklearn.exceptions.ConvergenceWarning` and keeps the last iterate.
    tol : float >= 0, default=1e-8
        Stop once the full gradient's Euclidean norm on the standardised problem is
        below this.
    l2 : float >= 0, default=0.0
        L2 penalty on the standardised coefficients (see the module docstring).
    batch_size : int >= 1 or None, default=None
        None for full-batch gradient descent: the error shrinks geometrically, so the
        default `tol` is reached in milliseconds. An integer for mini-batch descent over a
        seeded shuffle each epoch; the model is then the running average of the iterates
        (Polyak-Ruppert averaging), which for least squares converges to the optimum at a
        constant step, though only as 1/epochs, so pair it with a looser `tol` (1e-3).
    random_state : int, numpy RandomState or None, default=None
        Seeds the mini-batch shuffles (full batch is deterministic without it).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients in raw input units.
    intercept_ : float
        Intercept in raw target units.
    n_features_in_ : int
    feature_names_in_ : ndarray of str, only when fitted on a DataFrame with string columns.
    n_iter_ : int
        Iterations (full batch) or epochs (mini-batch) run.
    converged_ : bool
        Whether the gradient norm reached `tol` before `max_iter`.
    learning_rate_ : float
        The step size used, in standardised units.
    loss_curve_ : list of float
        Training objective in squared target units, ``MSE + l2 · Σ (coef_j · std_j)²``,
        before the first step and after each iteration; with ``l2 = 0`` it is the
        training MSE.
    gradient_norm_curve_ : list of float
        Norm of the standardised gradient at the same points.
    """

    def __init__(
        self,
        learning_rate: float | Literal["auto"] = "auto",
        max_iter: int = 100_000,
        tol: float = 1e-8,
        l2: float = 0.0,
        batch_size: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.l2 = l2
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> SimpleLinearRegression:
        """Fit on X of shape (n_samples, n_features) and y of shape (n_samples,).

        Raises ValueError for a non-2-D X, NaN or infinite values, X and y of different
        lengths, fewer than 2 samples or invalid parameters, and
        `GradientDescentDivergedError` (a ValueError) if the learning rate is too large.
        """
        self._check_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        n_samples = X.shape[0]
        if n_samples < MIN_SAMPLES:
            raise ValueError(
                f"SimpleLinearRegression needs at least {MIN_SAMPLES} samples; "
                f"got n_samples = {n_samples}"
            )
        x_mean, x_scale = _mean_and_scale(X)
        y_mean, y_scale = _mean_and_scale(y)
        z = (X - x_mean) / x_scale
        t = (y - y_mean) / y_scale

        descent = _Descent(z, t, float(self.l2))
        self.learning_rate_ = self._step_size(descent)
        if self.batch_size is None:
            weights = descent.run_full_batch(self.learning_rate_, self.max_iter, self.tol)
        else:
            rng = check_random_state(self.random_state)
            weights = descent.run_mini_batch(
                self.learning_rate_, self.max_iter, self.tol, self.batch_size, rng
            )

        self.n_iter_ = descent.n_iter
        self.converged_ = descent.converged
        # Objective in standardised units × 2·var(y) = MSE + l2 · Σ (coef_j · std_j)².
        self.loss_curve_ = [float(2.0 * y_scale**2 * loss) for loss in descent.losses]
        self.gradient_norm_curve_ = descent.gradient_norms
        self.coef_ = np.asarray(weights * (y_scale / x_scale), dtype=np.float64)
        self.intercept_ = float(y_mean - self.coef_ @ x_mean)
        if not self.converged_:
            warnings.warn(
                f"gradient descent stopped at max_iter={self.max_iter} with gradient norm "
                f"{descent.gradient_norms[-1]:.3g} > tol={self.tol:g}; raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def predict(self, X: Any) -> FloatArray:
        """Predict for X of shape (n_samples, n_features_in_).

        Raises `sklearn.exceptions.NotFittedError` before `fit`, and ValueError for a
        non-2-D X, NaN or infinite values or the wrong number of features. Computes
        through `model.linear.predict_matrix`, as the server does.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return predict_matrix(X, self.coef_, self.intercept_)

    def _check_params(self) -> None:
        lr = self.learning_rate
        if not (lr == "auto" or (_is_real(lr) and math.isfinite(lr) and lr > 0)):
            raise ValueError(f"learning_rate must be 'auto' or a number > 0, got {lr!r}")
        if not _is_int(self.max_iter) or self.max_iter < 1:
            raise ValueError(f"max_iter must be an integer >= 1, got {self.max_iter!r}")
        for name in ("tol", "l2"):
            value = getattr(self, name)
            if not (_is_real(value) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise ValueError(f"batch_size must be None or an integer >= 1, got {self.batch_size!r}")

    def _step_size(self, descent: _Descent) -> float:
        if self.learning_rate != "auto":
            return float(self.learning_rate)
        curvature = descent.largest_curvature()
        if self.batch_size is not None:
            curvature += descent.largest_row_norm_squared() / min(
                self.batch_size, descent.n_samples
            )
        return 1.0 / curvature if curvature > 0 else 1.0


class _Descent:
    """Gradient descent on the standardised objective, recording its history."""

    def __init__(self, z: FloatArray, t: FloatArray, l2: float) -> None:
        self.z = z
        self.t = t
        self.l2 = l2
        self.n_samples = z.shape[0]
        self.losses: list[float] = []
        self.gradient_norms: list[float] = []
        self.n_iter = 0
        self.converged = False

    def largest_curvature(self) -> float:
        hessian = self.z.T @ self.z / self.n_samples
        return float(np.linalg.eigvalsh(hessian)[-1]) + self.l2

    def largest_row_norm_squared(self) -> float:
        return float(np.max(np.einsum("ij,ij->i", self.z, self.z)))

    def _record(self, weights: FloatArray) -> float:
        """Log loss and full-gradient norm at `weights`; returns the norm."""
        residual = self.z @ weights - self.t
        gradient = self.z.T @ residual / self.n_samples + self.l2 * weights
        loss = 0.5 * float(residual @ residual) / self.n_samples
        loss += 0.5 * self.l2 * float(weights @ weights)
        norm = float(np.sqrt(gradient @ gradient))
        self.losses.append(loss)
        self.gradient_norms.append(norm)
        if not math.isfinite(loss) or loss > self.losses[0] * _DIVERGENCE_FACTOR + 1.0:
            raise GradientDescentDivergedError(
                f"gradient descent diverged after {self.n_iter} iterations: the learning "
                f"rate is too large for this data (use 'auto' or a smaller value)"
            )
        return norm

    def run_full_batch(self, step: float, max_iter: int, tol: float) -> FloatArray:
        z, t, n, l2 = self.z, self.t, self.n_samples, self.l2
        weights = np.zeros(z.shape[1])
        norm = self._record(weights)
        while norm > tol and self.n_iter < max_iter:
            gradient = z.T @ (z @ weights - t) / n + l2 * weights
            weights = weights - step * gradient
            self.n_iter += 1
            norm = self._record(weights)
        self.converged = norm <= tol
        return weights

    def run_mini_batch(
        self,
        step: float,
        max_iter: int,
        tol: float,
        batch_size: int,
        rng: np.random.RandomState,
    ) -> FloatArray:
        z, t, l2 = self.z, self.t, self.l2
        weights = np.zeros(z.shape[1])
        average = weights.copy()
        steps = 0
        norm = self._record(average)
        while norm > tol and self.n_iter < max_iter:
            order = rng.permutation(self.n_samples)
            for start in range(0, self.n_samples, batch_size):
                rows = order[start : start + batch_size]
                zb = z[rows]
                gradient = zb.T @ (zb @ weights - t[rows]) / len(rows) + l2 * weights
                weights = weights - step * gradient
                steps += 1
                average += (weights - average) / steps
            self.n_iter += 1
            norm = self._record(average)
        self.converged = norm <= tol
        return average


def _mean_and_scale(values: FloatArray) -> tuple[Any, Any]:
    """Column means and standard deviations, with 1 standing in for a zero deviation."""
    mean = values.mean(axis=0)
    scale = values.std(axis=0)
    # A constant column's computed deviation can be rounding noise rather than 0.
    constant = scale <= 10 * np.finfo(np.float64).eps * np.abs(values).max(axis=0)
    return mean, np.where(constant, 1.0, scale)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
