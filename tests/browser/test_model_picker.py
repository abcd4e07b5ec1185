"""The page's model picker against the real stack serving the bundled repository: the
scaled-BMI model (the default) and the raw-units model (BMI in kg/m2)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import requests
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, LinearModel, load_artifact
from tests.browser.browser import DESKTOP, PHONE, console_errors
from tests.browser.page import TryItPage
from tests.browser.test_try_it_page import as_typed, example_values
from tests.support.processes import wait_until
from tests.support.stack import running_stack

RAW = "diabetes-bmi-raw"


@pytest.fixture(scope="module")
def raw_model() -> LinearModel:
    return load_artifact(RAW_UNITS_ARTIFACT)


def shown_prediction(page: TryItPage) -> float:
    page.prediction_text()  # waits until it is shown
    return float(str(page.by_id("prediction-value").get_attribute("data-value")))


def answered_by(page: TryItPage) -> tuple[str, str]:
    return page.by_id("prediction-model-name").text, page.by_id("prediction-model-version").text


def test_the_picker_lists_every_model_and_starts_on_the_default_stable(
    page: TryItPage, served_model: LinearModel, raw_model: LinearModel
) -> None:
    label = page.driver.find_element(By.CSS_SELECTOR, "label[for=model-picker]")
    assert label.text == "Model and version"
    offered = {
        (str(o.get_attribute("data-model")), str(o.get_attribute("data-version")))
        for o in page.picker().options
    }
    assert {(served_model.name, served_model.version), (RAW, raw_model.version)} <= offered
    assert page.picked() == (served_model.name, served_model.version)
    assert "stable" in page.picker().first_selected_option.text
    assert page.by_id("feature-bmi-unit").text == "scaled"


def test_the_raw_model_shows_its_units_and_range_and_answers_a_raw_bmi(
    page: TryItPage, raw_model: LinearModel
) -> None:
    page.pick_model(RAW)
    assert page.by_id("model-version").text == raw_model.version
    assert page.feature_names() == list(raw_model.features) == ["bmi"]
    stats = raw_model.feature_stats[0]
    assert page.by_id("feature-bmi-unit").text == "kg/m2"
    assert "(kg/m2)" in page.driver.find_element(By.CSS_SELECTOR, "label[for=feature-bmi]").text
    shown_range = page.by_id("feature-bmi-range")
    assert float(str(shown_range.get_attribute("data-min"))) == pytest.approx(stats.min)
    assert float(str(shown_range.get_attribute("data-max"))) == pytest.approx(stats.max)
    assert shown_range.text == f"{stats.min:.2f} to {stats.max:.2f} kg/m2"
    # The form starts at the raw model's mean, in its units (not a scaled value).
    assert float(str(page.by_id("feature-bmi").get_attribute("value"))) == pytest.approx(
        stats.mean, abs=0.01
    )

    page.predict({"bmi": "30"})
    assert shown_prediction(page) == pytest.approx(
        float(raw_model.predict(np.array([[30.0]]))[0]), rel=1e-12
    )
    assert answered_by(page) == (RAW, raw_model.version)
    assert not page.by_id("prediction-range-warning").is_displayed()
    assert f"model={RAW}&version={raw_model.version}" in page.by_id("api-curl").text
    # The plot's x axis is in the raw model's unit, with the user's record on it.
    axis_labels = [t.text for t in page.driver.find_elements(By.CSS_SELECTOR, "#plot-box svg text")]
    assert "bmi (kg/m2)" in axis_labels
    assert page.count("#plot-box [data-role=single-point]") == 1
    assert console_errors(page.driver) == []


def test_switching_back_to_the_default_model(
    page: TryItPage, served_model: LinearModel, raw_model: LinearModel
) -> None:
    page.pick_model(RAW)
    page.predict({"bmi": "30"})
    assert answered_by(page)[0] == RAW

    page.pick_model(served_model.name)
    assert page.picked() == (served_model.name, served_model.version)
    assert page.by_id("feature-bmi-unit").text == "scaled"
    # Another model's result and typed value are not carried over.
    assert not page.by_id("predict-result").is_displayed()
    mean = served_model.feature_stats[0].mean
    assert page.by_id("feature-bmi").get_attribute("value") == f"{mean:.4f}"

    values = example_values(served_model)
    page.predict(as_typed(values))
    expected = served_model.explain_one([values[name] for name in served_model.features])
    assert shown_prediction(page) == pytest.approx(expected.prediction, rel=1e-12)
    assert answered_by(page) == (served_model.name, served_model.version)


def test_a_file_goes_to_the_picked_model(
    page: TryItPage, raw_model: LinearModel, tmp_path: Path
) -> None:
    page.pick_model(RAW)
    bmis = [19.5, 26.0, 33.3, 41.0]
    path = tmp_path / "raw.csv"
    path.write_text("id,bmi\n" + "".join(f"p{i},{b}\n" for i, b in enumerate(bmis)))

    page.upload(path)

    expected = raw_model.predict(np.array([[b] for b in bmis]))
    shown = page.batch_rows()
    assert [float(row["prediction"]) for row in shown] == pytest.approx(expected, abs=0.051)
    assert all(row["note"] == "" for row in shown)  # raw BMIs are inside the raw training range
    assert f"from {RAW} version {raw_model.version}" in page.by_id("batch-summary").text
    assert f"/batch?include_intervals=true&model={RAW}" in page.by_id("api-curl").text
    saved = page.download("batch-download", tmp_path / "downloads")
    lines = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert {(line["model_name"], line["model_version"]) for line in lines} == {
        (RAW, raw_model.version)
    }
    for line, prediction in zip(lines, expected, strict=True):
        assert float(line["prediction"]) == pytest.approx(prediction, rel=1e-12)


def test_the_picker_works_from_the_keyboard(page: TryItPage, served_model: LinearModel) -> None:
    picker = page.by_id("model-picker")
    picker.send_keys(Keys.END)  # the last option: the raw model (models sorted by name)
    page.wait_model(RAW)
    assert page.picked()[0] == RAW
    assert RAW in page.by_id("model-picked").text  # announced to screen readers
    picker.send_keys(Keys.HOME)
    page.wait_model(served_model.name)
    assert page.picked() == (served_model.name, served_model.version)


def test_the_raw_model_fits_a_phone(page: TryItPage, raw_model: LinearModel) -> None:
    page.driver.set_window_size(*PHONE)
    page.wait_plot()
    page.pick_model(RAW)
    assert page.horizontal_overflow() == 0
    page.predict({"bmi": "22.5"})
    assert shown_prediction(page) == pytest.approx(
        float(raw_model.predict(np.array([[22.5]]))[0]), rel=1e-12
    )
    assert page.horizontal_overflow() == 0


def test_a_picked_model_that_is_removed_falls_back_to_the_default(
    chromium: webdriver.Chrome, served_model: LinearModel, tmp_path: Path
) -> None:
    repository = tmp_path / "models"
    repository.mkdir()
    for artifact in (BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT):
        shutil.copy(artifact, repository / artifact.name)
    with running_stack(model_repository=repository, server_args=("--watch-model", "true")) as stack:
        chromium.set_window_size(*DESKTOP)
        page = TryItPage(chromium, stack.http_url + "/")
        page.open()
        page.pick_model(RAW)

        (repository / RAW_UNITS_ARTIFACT.name).unlink()
        wait_until(
            lambda: RAW not in served_names(stack.http_url), 20, "the server drops the model"
        )
        page.predict({"bmi": "30"})  # NOT_FOUND: the page learns what is served now

        page.wait_model(served_model.name)
        assert page.picked() == (served_model.name, served_model.version)
        assert RAW not in {o.get_attribute("data-model") for o in page.picker().options}
        notice = page.error("model")
        assert "no longer served" in notice
        assert "NOT_FOUND" in notice
        page.predict(as_typed(example_values(served_model)))
        assert answered_by(page) == (served_model.name, served_model.version)


def served_names(url: str) -> set[str]:
    return {m["name"] for m in requests.get(f"{url}/model", timeout=10).json()["models"]}
