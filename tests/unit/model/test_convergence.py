"""Gradient descent reaches the least-squares optimum: compared with the closed form."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import mean_squared_error, r2_score

from model import SimpleLinearRegression
from model.data import Split


def test_bmi_model_matches_sklearn_closed_form(bmi_split: Split):
    reference = LinearRegression().fit(bmi_split.X_train, bmi_split.y_train)
    fitted = SimpleLinearRegression().fit(bmi_split.X_train, bmi_split.y_train)

    assert fitted.converged_
    np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=1e-4)
    assert fitted.intercept_ == pytest.approx(reference.intercept_, rel=1e-4)
    assert fitted.score(bmi_split.X_test, bmi_split.y_test) >= 0.4726 - 1e-4


def test_bmi_model_reproduces_the_published_reference_numbers(bmi_split: Split):
    fitted = SimpleLinearRegression().fit(bmi_split.X_train, bmi_split.y_train)
    predictions = fitted.predict(bmi_split.X_test)

    assert fitted.coef_[0] == pytest.approx(938.2379, abs=5e-5)
    assert fitted.intercept_ == pytest.approx(152.9189, abs=5e-5)
    assert r2_score(bmi_split.y_test, predictions) == pytest.approx(0.4726, abs=5e-5)
    assert mean_squared_error(bmi_split.y_test, predictions) == pytest.approx(2548.07, abs=5e-3)


def test_all_features_predictions_match_sklearn(all_split: Split):
    reference = LinearRegression().fit(all_split.X_train, all_split.y_train)
    fitted = SimpleLinearRegression().fit(all_split.X_train, all_split.y_train)
    predictions = fitted.predict(all_split.X_test)

    assert fitted.converged_
    np.testing.assert_allclose(predictions, reference.predict(all_split.X_test), atol=1e-3, rtol=0)
    assert r2_score(all_split.y_test, predictions) == pytest.approx(0.5851, abs=5e-5)
    assert mean_squared_error(all_split.y_test, predictions) == pytest.approx(2004.52, abs=5e-3)


@pytest.mark.parametrize("learning_rate", ["auto", 0.1, 0.4])
def test_any_stable_learning_rate_reaches_the_same_optimum(all_split: Split, learning_rate):
    reference = LinearRegression().fit(all_split.X_train, all_split.y_train)
    fitted = SimpleLinearRegression(learning_rate=learning_rate).fit(
        all_split.X_train, all_split.y_train
    )

    np.testing.assert_allclose(
        fitted.predict(all_split.X_test), reference.predict(all_split.X_test), atol=1e-3, rtol=0
    )


def test_raw_feature_units_need_no_other_learning_rate(bmi_split: Split):
    """Standardisation inside fit: the same default works on data 1e4 times larger."""
    X = bmi_split.X_train * 1e4 + 25.0
    reference = LinearRegression().fit(X, bmi_split.y_train)
    fitted = SimpleLinearRegression().fit(X, bmi_split.y_train)

    np.testing.assert_allclose(fitted.coef_, reference.coef_, rtol=1e-6)
    assert fitted.intercept_ == pytest.approx(reference.intercept_, rel=1e-6)


def test_l2_penalty_is_ridge_on_standardised_features(all_split: Split):
    X, y = all_split.X_train, all_split.y_train
    l2 = 0.05
    fitted = SimpleLinearRegression(l2=l2).fit(X, y)

    z = (X - X.mean(axis=0)) / X.std(axis=0)
    t = (y - y.mean()) / y.std()
    ridge = Ridge(alpha=len(y) * l2).fit(z, t)
    expected = ridge.coef_ * y.std() / X.std(axis=0)

    np.testing.assert_allclose(fitted.coef_, expected, rtol=1e-5)
    assert np.linalg.norm(fitted.coef_) < np.linalg.norm(LinearRegression().fit(X, y).coef_)


def test_full_batch_loss_history_decreases_to_the_training_mse(all_split: Split):
    fitted = SimpleLinearRegression().fit(all_split.X_train, all_split.y_train)
    losses = np.array(fitted.loss_curve_)

    assert len(losses) == fitted.n_iter_ + 1 == len(fitted.gradient_norm_curve_)
    assert losses[0] == pytest.approx(np.var(all_split.y_train))
    assert np.all(np.diff(losses) <= 1e-9 * losses[0])
    train_mse = mean_squared_error(all_split.y_train, fitted.predict(all_split.X_train))
    assert losses[-1] == pytest.approx(train_mse, rel=1e-9)
    assert fitted.gradient_norm_curve_[-1] <= fitted.tol


def test_mini_batch_converges_near_the_optimum_and_is_reproducible(bmi_split: Split):
    reference = LinearRegression().fit(bmi_split.X_train, bmi_split.y_train)
    first, second = (
        SimpleLinearRegression(batch_size=32, tol=1e-4, random_state=7).fit(
            bmi_split.X_train, bmi_split.y_train
        )
        for _ in range(2)
    )

    assert first.converged_
    np.testing.assert_allclose(first.coef_, reference.coef_, rtol=1e-3)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    assert first.intercept_ == second.intercept_
    assert first.loss_curve_ == second.loss_curve_
