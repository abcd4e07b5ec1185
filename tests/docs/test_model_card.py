"""The model card's figures are the bundled artifact's and a fresh 10-feature fit's, to the
digits the card shows."""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from model.artifact import (
    BUNDLED_ARTIFACT,
    RAW_UNITS_ARTIFACT,
    LinearModel,
    load_artifact,
    save_artifact,
)
from model.data import Split, load_split
from model.document import build_document
from model.estimator import SimpleLinearRegression
from model.evaluation import regression_metrics
from model.features import FEATURE_NAMES
from tests.docs.markdown import ROOT

CARD = ROOT / "docs" / "model-card.md"


@cache
def all_features_model() -> tuple[LinearModel, Split]:
    """What `make train ARGS="--features all"` writes, trained here into a temporary file."""
    split = load_split(FEATURE_NAMES)
    estimator = SimpleLinearRegression().fit(split.X_train, split.y_train)
    metrics = {
        **regression_metrics(split.y_test, estimator.predict(split.X_test), "test"),
        **regression_metrics(split.y_train, estimator.predict(split.X_train), "train"),
        "n_iter": float(estimator.n_iter_),
    }
    document = build_document(estimator, split, metrics, estimator.get_params())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "diabetes-all.json"
        save_artifact(document, path)
        return load_artifact(path), split


def bmi_model() -> tuple[LinearModel, Split]:
    model = load_artifact(BUNDLED_ARTIFACT)
    return model, load_split(model.features)


def _inside(model: LinearModel, split: Split) -> float:
    columns = [split.X_test[:, j] for j in range(split.X_test.shape[1])]
    predictions = model.predict_columns(columns)
    half = model.interval_half_width(columns)
    return float(np.sum(np.abs(split.y_test - predictions) <= half))


def _half_width_at_means(model: LinearModel) -> float:
    spec = model.interval
    return spec.t_quantile * spec.residual_std_error * math.sqrt(1 + 1 / spec.n_train)


FIGURES: dict[str, Callable[[LinearModel, Split], float]] = {
    "Training rows": lambda m, s: s.n_train,
    "Test rows": lambda m, s: s.n_test,
    "Intercept": lambda m, s: m.intercept,
    "Coefficient of `bmi`": lambda m, s: float(m.coefficients[m.features.index("bmi")]),
    "Test MSE": lambda m, s: m.metrics["test_mse"],
    "Test MAE": lambda m, s: m.metrics["test_mae"],
    "Test R²": lambda m, s: m.metrics["test_r2"],
    "Train MSE": lambda m, s: m.metrics["train_mse"],
    "Train MAE": lambda m, s: m.metrics["train_mae"],
    "Train R²": lambda m, s: m.metrics["train_r2"],
    "Residual standard error": lambda m, s: m.interval.residual_std_error,
    "Interval half-width at the training means": lambda m, s: _half_width_at_means(m),
    "Test rows inside their 95% interval": _inside,
    "Gradient-descent iterations": lambda m, s: m.metrics["n_iter"],
}


def card_table() -> dict[str, tuple[str, str]]:
    text = CARD.read_text()
    table = text.split("<!-- metrics-table -->", 1)[1].split("<!-- end-metrics-table -->", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        name, bmi, everything = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows[name] = (bmi, everything)
    return rows


def agrees(shown: str, actual: float) -> bool:
    """`shown` is `actual` rounded to the decimals shown."""
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    return bool(abs(float(shown.replace(",", "")) - actual) <= 0.5 * 10**-decimals + 1e-12)


def test_every_figure_in_the_card_is_checked() -> None:
    assert set(card_table()) == set(FIGURES)


@pytest.mark.parametrize("name", list(FIGURES))
def test_card_figure_matches_the_model(name: str) -> None:
    bmi_shown, all_shown = card_table()[name]
    for shown, (model, split) in ((bmi_shown, bmi_model()), (all_shown, all_features_model())):
        actual = FIGURES[name](model, split)
        assert agrees(shown, actual), f"model card, {name}: shows {shown}, the model has {actual}"


def test_the_card_describes_the_served_artifact() -> None:
    text = CARD.read_text()
    model = load_artifact(BUNDLED_ARTIFACT)
    assert f"`{model.name}`" in text
    assert f"model/artifacts/{BUNDLED_ARTIFACT.name}" in text
    assert model.interval.confidence == 0.95
    assert "95% prediction interval" in text


def test_the_card_describes_the_raw_units_model() -> None:
    text = CARD.read_text()
    model = load_artifact(RAW_UNITS_ARTIFACT)
    assert f"`{model.name}`" in text
    assert f"model/artifacts/{RAW_UNITS_ARTIFACT.name}" in text
    shown = re.search(r"intercept (−?[\d.]+) and\s+([\d.]+) per kg/m²", text)
    assert shown, "model card: no intercept and slope of the raw-units model"
    assert agrees(shown[1].replace("−", "-"), model.intercept)
    assert agrees(shown[2], float(model.coefficients[0]))


def test_the_raw_feature_statistics_are_the_data_sets() -> None:
    raw, _ = load_diabetes(return_X_y=True, scaled=False)
    text = CARD.read_text()
    for index, name in enumerate(FEATURE_NAMES):
        row = re.search(rf"^\| `{name}` \| [^|]+ \| ([\d.]+) \| ([\d.]+) \|$", text, re.MULTILINE)
        assert row, f"model card: no row for {name}"
        assert agrees(row[1], raw[:, index].mean())
        assert agrees(row[2], raw[:, index].std())
