"""The committed default model: it loads, its checksum holds, and it is the optimum."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from model import load_artifact
from model.artifact import BUNDLED_ARTIFACT
from model.data import Split


def test_bundled_artifact_is_the_least_squares_bmi_model(bmi_split: Split):
    model = load_artifact(BUNDLED_ARTIFACT)
    reference = LinearRegression().fit(bmi_split.X_train, bmi_split.y_train)

    assert model.name == "diabetes-bmi"
    assert model.features == ("bmi",)
    np.testing.assert_allclose(model.coefficients, reference.coef_, rtol=1e-4)
    assert model.intercept == pytest.approx(reference.intercept_, rel=1e-4)
    assert model.metrics["test_r2"] >= 0.4726 - 1e-4
    assert model.document["training_data"]["fingerprint"] == bmi_split.fingerprint()


def test_bundled_interval_at_the_mean_is_t_times_s_times_sqrt_1_plus_1_over_n():
    model = load_artifact(BUNDLED_ARTIFACT)
    spec = model.interval
    assert spec.confidence == 0.95
    assert spec.n_train == 422
    assert spec.degrees_of_freedom == 420
    assert spec.t_quantile == pytest.approx(1.9656, abs=1e-4)
    half = model.interval_half_width([model.means])[0]
    assert half == pytest.approx(spec.t_quantile * spec.residual_std_error * np.sqrt(1 + 1 / 422))
