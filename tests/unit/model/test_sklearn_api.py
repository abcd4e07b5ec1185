"""SimpleLinearRegression is a scikit-learn estimator: the official checks, model
selection tools and the parameter API work on it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from model import SimpleLinearRegression
from model.data import Split

# Every scikit-learn check passes: no check is expected to fail. Two are skipped by
# scikit-learn itself when optional packages are absent (pandas for DataFrame input,
# array-API support), which the pytest output reports as skips.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [SimpleLinearRegression()], expected_failed_checks=lambda _: EXPECTED_FAILED_CHECKS
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_get_params_and_set_params_round_trip():
    estimator = SimpleLinearRegression(learning_rate=0.2, l2=0.1)
    params = estimator.get_params()
    assert params == {
        "learning_rate": 0.2,
        "max_iter": 100_000,
        "tol": 1e-8,
        "l2": 0.1,
        "batch_size": None,
        "random_state": None,
    }
    assert estimator.set_params(tol=1e-4, batch_size=16) is estimator
    assert (estimator.tol, estimator.batch_size) == (1e-4, 16)
    assert clone(estimator).get_params() == estimator.get_params()


def test_cross_val_score_runs_on_the_training_rows(bmi_split: Split):
    scores = cross_val_score(
        SimpleLinearRegression(),
        bmi_split.X_train,
        bmi_split.y_train,
        cv=KFold(n_splits=5, shuffle=True, random_state=0),
        scoring="r2",
    )
    assert scores.shape == (5,)
    assert 0.2 < scores.mean() < 0.5


def test_grid_search_over_learning_rate_l2_and_tol(all_split: Split):
    search = GridSearchCV(
        SimpleLinearRegression(),
        {"learning_rate": ["auto", 0.1], "l2": [0.0, 1.0], "tol": [1e-4, 1e-8]},
        cv=KFold(n_splits=3, shuffle=True, random_state=0),
        error_score="raise",
    )
    search.fit(all_split.X_train, all_split.y_train)

    assert len(search.cv_results_["params"]) == 8
    # A heavy penalty (l2 = 1 is ridge with alpha = n) costs R² on this data.
    assert search.best_params_["l2"] == 0.0
    assert search.best_estimator_.score(all_split.X_test, all_split.y_test) > 0.58


def test_score_is_r_squared(bmi_split: Split):
    fitted = SimpleLinearRegression().fit(bmi_split.X_train, bmi_split.y_train)
    residual = bmi_split.y_test - fitted.predict(bmi_split.X_test)
    total = bmi_split.y_test - bmi_split.y_test.mean()
    expected = 1 - (residual @ residual) / (total @ total)
    assert fitted.score(bmi_split.X_test, bmi_split.y_test) == pytest.approx(expected)
    assert isinstance(fitted.intercept_, float)
    assert fitted.coef_.dtype == np.float64
