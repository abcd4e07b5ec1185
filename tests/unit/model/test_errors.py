"""Every bad input raises the documented error, with a message that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from model import SimpleLinearRegression
from model.data import Split
from model.estimator import GradientDescentDivergedError

X_GOOD = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 2.5], [3.0, 1.0]])
Y_GOOD = np.array([1.0, 2.0, 4.0, 4.5])


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        pytest.param(np.arange(4.0), Y_GOOD, "Expected 2D array, got 1D array", id="1-d X"),
        pytest.param(np.ones((4, 2, 1)), Y_GOOD, "dim 3", id="3-d X"),
        pytest.param(
            np.where(np.eye(4, 2) == 1, np.nan, X_GOOD), Y_GOOD, "Input X contains NaN", id="NaN X"
        ),
        pytest.param(
            np.where(np.eye(4, 2) == 1, np.inf, X_GOOD),
            Y_GOOD,
            "Input X contains infinity",
            id="inf X",
        ),
        pytest.param(X_GOOD, np.array([1.0, np.nan, 2.0, 3.0]), "Input y contains NaN", id="NaN y"),
        pytest.param(
            X_GOOD, np.array([1.0, -np.inf, 2.0, 3.0]), "Input y contains infinity", id="inf y"
        ),
        pytest.param(X_GOOD, Y_GOOD[:3], "inconsistent numbers of samples", id="X/y lengths"),
        pytest.param(X_GOOD, np.ones((4, 2)), "y should be a 1d array", id="2-column y"),
        pytest.param(X_GOOD[:1], Y_GOOD[:1], "n_samples = 1", id="one sample"),
        pytest.param(np.empty((0, 2)), np.empty(0), "0 sample", id="no samples"),
        pytest.param(np.empty((4, 0)), Y_GOOD, "0 feature", id="no features"),
        pytest.param([["a", "b"]] * 4, Y_GOOD, "could not convert", id="strings"),
    ],
)
def test_fit_rejects_bad_data(X, y, message):
    with pytest.raises(ValueError, match=message):
        SimpleLinearRegression().fit(X, y)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        SimpleLinearRegression().predict(X_GOOD)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        pytest.param(
            np.ones((3, 3)),
            "X has 3 features, but SimpleLinearRegression is expecting 2",
            id="too many features",
        ),
        pytest.param(
            np.ones((3, 1)),
            "X has 1 features, but SimpleLinearRegression is expecting 2",
            id="too few features",
        ),
        pytest.param(np.ones(2), "Expected 2D array, got 1D array", id="1-d record"),
        pytest.param(np.array([[np.nan, 1.0]]), "Input X contains NaN", id="NaN"),
    ],
)
def test_predict_rejects_bad_data(X, message):
    fitted = SimpleLinearRegression().fit(X_GOOD, Y_GOOD)
    with pytest.raises(ValueError, match=message):
        fitted.predict(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": 0.0}, "learning_rate must be 'auto' or a number > 0"),
        ({"learning_rate": "fast"}, "learning_rate must be 'auto' or a number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be 'auto' or a number > 0"),
        ({"max_iter": 0}, "max_iter must be an integer >= 1"),
        ({"max_iter": 10.5}, "max_iter must be an integer >= 1"),
        ({"tol": -1e-3}, "tol must be a finite number >= 0"),
        ({"l2": float("inf")}, "l2 must be a finite number >= 0"),
        ({"batch_size": 0}, "batch_size must be None or an integer >= 1"),
    ],
)
def test_fit_rejects_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        SimpleLinearRegression(**params).fit(X_GOOD, Y_GOOD)


def test_iteration_cap_warns_and_keeps_the_last_iterate(all_split: Split):
    estimator = SimpleLinearRegression(max_iter=5)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        estimator.fit(all_split.X_train, all_split.y_train)
    assert not estimator.converged_
    assert estimator.n_iter_ == 5
    assert len(estimator.loss_curve_) == 6


def test_too_large_learning_rate_is_reported_as_divergence(bmi_split: Split):
    # One standardised feature has curvature 1: any step above 2 diverges.
    with pytest.raises(GradientDescentDivergedError, match="learning rate is too large"):
        SimpleLinearRegression(learning_rate=3.0).fit(bmi_split.X_train, bmi_split.y_train)
