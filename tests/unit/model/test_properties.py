"""Property tests: on random well-conditioned problems gradient descent finds the
least-squares solution that numpy.linalg.lstsq computes directly."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model import SimpleLinearRegression
from model.linear import predict_matrix

# Two decimals in [-10, 10]: no denormal dust that would make a column numerically
# zero for lstsq's rank cut-off but not for a standardising fit.
FINITE = st.integers(-1000, 1000).map(lambda k: k / 100)


@st.composite
def problems(draw):
    n_features = draw(st.integers(1, 5))
    n_samples = draw(st.integers(n_features + 3, 60))
    X = draw(arrays(np.float64, (n_samples, n_features), elements=FINITE))
    scales = draw(arrays(np.float64, n_features, elements=st.sampled_from([1e-3, 1.0, 1e3])))
    true_coef = draw(arrays(np.float64, n_features, elements=FINITE))
    noise = draw(arrays(np.float64, n_samples, elements=FINITE)) / 10
    intercept = draw(FINITE)
    X = X * scales
    y = X @ true_coef + intercept + noise
    return X, y


def _well_conditioned(X: np.ndarray) -> bool:
    std = X.std(axis=0)
    if np.any(std <= 1e-6 * np.abs(X).max(axis=0)):
        return False
    z = (X - X.mean(axis=0)) / std
    return bool(np.linalg.cond(z) < 30)


def _lstsq_predictions(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    return np.asarray(design @ solution)


@settings(max_examples=60, deadline=None)
@given(problems())
def test_predictions_match_lstsq(problem):
    X, y = problem
    assume(_well_conditioned(X))
    fitted = SimpleLinearRegression().fit(X, y)

    assert fitted.converged_
    # Relative to the spread of y, plus rounding room for a (near-)constant y.
    tolerance = 1e-6 * y.std() + 1e-12 * (1.0 + np.abs(y).max())
    np.testing.assert_allclose(fitted.predict(X), _lstsq_predictions(X, y), rtol=0, atol=tolerance)


@settings(max_examples=40, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_fit_is_deterministic_and_predict_is_the_shared_arithmetic(problem, seed):
    X, y = problem
    assume(_well_conditioned(X))
    first = SimpleLinearRegression(random_state=seed).fit(X, y)
    second = SimpleLinearRegression(random_state=seed).fit(X, y)

    np.testing.assert_array_equal(first.coef_, second.coef_)
    np.testing.assert_array_equal(
        first.predict(X), predict_matrix(X, first.coef_, first.intercept_)
    )
