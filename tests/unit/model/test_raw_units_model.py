"""The bundled raw-units model: BMI in kg/m², the least-squares fit on the raw data set's
classic split, and for every patient the same prediction as the scaled BMI model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from model import load_artifact
from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT
from model.data import load_split

BMI = 2  # column of bmi in the data set


@pytest.fixture(scope="module")
def raw_split():
    return load_split(("bmi",), units="raw")


def test_raw_model_is_sklearns_least_squares_fit_on_the_raw_split(raw_split):
    model = load_artifact(RAW_UNITS_ARTIFACT)
    reference = LinearRegression().fit(raw_split.X_train, raw_split.y_train)

    assert model.name == "diabetes-bmi-raw"
    assert model.features == ("bmi",)
    assert model.units == {"bmi": "kg/m2"}
    assert model.scaling is None
    everyone = np.concatenate([raw_split.X_train, raw_split.X_test])
    np.testing.assert_allclose(model.predict(everyone), reference.predict(everyone), rtol=1e-6)
    np.testing.assert_allclose(model.coefficients, reference.coef_, rtol=1e-6)
    assert model.intercept == pytest.approx(reference.intercept_, rel=1e-6)


def test_raw_model_records_its_data_split_and_metrics(raw_split):
    model = load_artifact(RAW_UNITS_ARTIFACT)
    assert model.training is not None
    assert model.training.source == "sklearn.datasets.load_diabetes(scaled=False)"
    assert model.training.fingerprint == raw_split.fingerprint()
    assert (model.training.n_rows, model.training.n_train, model.training.n_test) == (442, 422, 20)
    # BMI between 18 and 42.2 kg/m² in the training rows: a clinician's numbers.
    stats = model.feature_stats[0]
    assert (stats.min, stats.max) == (18.0, 42.2)
    # The same fit in other units: the scaled model's reference metrics.
    assert model.metrics["test_r2"] == pytest.approx(0.4726, abs=5e-5)
    assert model.metrics["test_mse"] == pytest.approx(2548.07, abs=5e-3)


def test_raw_and_scaled_models_predict_the_same_for_the_same_patients():
    raw, _ = load_diabetes(return_X_y=True, scaled=False)
    scaled, _ = load_diabetes(return_X_y=True)
    raw_model = load_artifact(RAW_UNITS_ARTIFACT)
    scaled_model = load_artifact(BUNDLED_ARTIFACT)

    from_raw = raw_model.predict_columns([raw[:, BMI]])
    from_scaled = scaled_model.predict_columns([scaled[:, BMI]])
    np.testing.assert_allclose(from_raw, from_scaled, rtol=1e-9)
    # Intervals too: the interval terms transform with the units.
    np.testing.assert_allclose(
        raw_model.interval_half_width([raw[:, BMI]]),
        scaled_model.interval_half_width([scaled[:, BMI]]),
        rtol=1e-9,
    )


def test_scaled_model_records_how_to_scale_a_raw_bmi():
    scaled_model = load_artifact(BUNDLED_ARTIFACT)
    raw, _ = load_diabetes(return_X_y=True, scaled=False)
    scaled, _ = load_diabetes(return_X_y=True)

    assert scaled_model.units == {"bmi": "scaled"}
    assert scaled_model.scaling is not None
    bmi = scaled_model.scaling.features["bmi"]
    assert bmi.raw_units == "kg/m2"
    converted = np.array([bmi.scale_value(value) for value in raw[:, BMI]])
    np.testing.assert_allclose(converted, scaled[:, BMI], atol=1e-15)
    # The model card's example: a scaled BMI of 0.0617 is about 32.1 kg/m².
    assert bmi.raw_value(0.0617) == pytest.approx(32.1, abs=0.05)
