"""The try-it page served by Envoy at GET /, driven in headless Chromium against the real stack."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from model.artifact import LinearModel
from server.stack.stack import Stack
from tests.browser.browser import DESKTOP, PHONE, console_errors
from tests.browser.page import TryItPage


def example_values(model: LinearModel) -> dict[str, float]:
    """A record a user might type: BMI 0.0617 when the model reads BMI, others off their means."""
    values = {}
    for name, stats in zip(model.features, model.feature_stats, strict=True):
        values[name] = 0.0617 if name == "bmi" else round(stats.mean + 0.5 * stats.std, 4)
    return values


def as_typed(values: dict[str, float]) -> dict[str, str]:
    return {name: repr(value) for name, value in values.items()}


def test_page_is_one_self_contained_file(stack: Stack) -> None:
    response = requests.get(stack.http_url + "/", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    body = response.text
    # Nothing loaded from elsewhere: no external scripts, styles or images.
    for needle in ('src="http', "src='http", 'href="http', "@import", "url(http"):
        assert needle not in body


def test_no_console_errors_or_csp_violations(page: TryItPage, served_model: LinearModel) -> None:
    page.predict(as_typed(example_values(served_model)))
    page.use_example()
    assert page.count("#batch-table tbody tr") == 8
    assert console_errors(page.driver) == []


def test_an_open_service_asks_for_no_token(page: TryItPage, served_model: LinearModel) -> None:
    page.predict(as_typed(example_values(served_model)))
    assert not page.by_id("auth").is_displayed()
    assert not page.by_id("auth-status").is_displayed()
    assert "authorization" not in str(page.by_id("api-curl").get_attribute("textContent"))
    assert page.driver.execute_script("return sessionStorage.length") == 0


def test_page_shows_the_models_metadata(page: TryItPage, served_model: LinearModel) -> None:
    assert page.by_id("model-version").text == served_model.version
    assert page.by_id("model-name").text == served_model.name
    table = page.driver.find_elements(By.CSS_SELECTOR, "#feature-table tbody th")
    assert [cell.text for cell in table] == list(served_model.features)
    metrics = page.by_id("model-metrics").text
    for name in served_model.metrics:
        assert name in metrics
    assert page.feature_names() == list(served_model.features)


def test_prediction_on_the_page_matches_the_model(
    page: TryItPage, served_model: LinearModel
) -> None:
    values = example_values(served_model)
    page.predict(as_typed(values))

    expected = served_model.explain_one([values[name] for name in served_model.features])
    shown = float(page.prediction_text())
    assert shown == pytest.approx(expected.prediction, abs=0.051)
    exact = float(str(page.by_id("prediction-value").get_attribute("data-value")))
    assert exact == pytest.approx(expected.prediction, rel=1e-12)
    assert float(page.by_id("interval-lower").text) == pytest.approx(expected.lower, abs=0.051)
    assert float(page.by_id("interval-upper").text) == pytest.approx(expected.upper, abs=0.051)
    for name, contribution in expected.contributions.items():
        cell = page.driver.find_element(
            By.CSS_SELECTOR, f'#contributions-table tr[data-feature="{name}"] td'
        )
        assert float(str(cell.get_attribute("data-value"))) == pytest.approx(contribution)
    # The user's record is drawn on the plot, with the line and its interval band.
    assert page.count("#plot-box [data-role=single-point]") == 1
    assert page.count("#plot-box [data-role=line]") == 1
    assert page.count("#plot-box [data-role=band]") == 1
    assert page.by_id("predict-error").is_displayed() is False


def test_enter_key_submits_the_form(page: TryItPage, served_model: LinearModel) -> None:
    first = served_model.features[0]
    field = page.by_id(f"feature-{first}")
    field.clear()
    before = page.finished("predict")
    field.send_keys("0.01", Keys.ENTER)
    page.wait_finished("predict", before)
    expected = served_model.explain_one(
        [
            0.01 if name == first else stats.mean
            for name, stats in zip(served_model.features, served_model.feature_stats, strict=True)
        ]
    )
    assert float(page.prediction_text()) == pytest.approx(expected.prediction, abs=0.051)


def test_an_out_of_range_value_is_flagged(page: TryItPage, served_model: LinearModel) -> None:
    first, stats = served_model.features[0], served_model.feature_stats[0]
    page.predict({first: repr(round(stats.max + 0.2 * (stats.max - stats.min), 4))})
    warning = page.by_id("prediction-range-warning")
    assert warning.is_displayed()
    assert first in warning.text
    assert page.count("#plot-box [data-role=single-point]") == 1


def test_a_bad_value_shows_the_apis_error_at_its_field(
    page: TryItPage, served_model: LinearModel
) -> None:
    first = served_model.features[0]
    page.predict({first: "abc"})

    message = page.error("predict")
    assert "INVALID_ARGUMENT" in message
    assert f"record.{first}" in message
    assert '"abc"' in message
    field = page.by_id(f"feature-{first}")
    assert field.get_attribute("aria-invalid") == "true"
    assert first in page.by_id(f"feature-{first}-error").text
    assert not page.by_id("predict-result").is_displayed()


def test_a_missing_value_shows_the_apis_error(page: TryItPage, served_model: LinearModel) -> None:
    first = served_model.features[0]
    page.predict({first: ""})
    message = page.error("predict")
    assert f"record.{first} is missing" in message


def test_csv_upload_shows_every_row(
    page: TryItPage, served_model: LinearModel, tmp_path: Path
) -> None:
    features = list(served_model.features)
    means = [stats.mean for stats in served_model.feature_stats]
    spans = [stats.max - stats.min for stats in served_model.feature_stats]
    rows = [
        [f"patient-{i}"]
        + [round(m + (i - 3) * 0.25 * s, 5) for m, s in zip(means, spans, strict=True)]
        for i in range(7)
    ]
    path = tmp_path / "patients.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", *features])
        writer.writerows(rows)

    page.upload(path)

    shown = page.batch_rows()
    assert [row["id"] for row in shown] == [row[0] for row in rows]
    expected = served_model.predict(np.array([row[1:] for row in rows], dtype=np.float64))
    for row, prediction in zip(shown, expected, strict=True):
        assert float(row["prediction"]) == pytest.approx(prediction, abs=0.051)
    # Rows 0 and 6 lie 0.75 of the range beyond the mean: outside the training range.
    assert shown[0]["note"] == "outside training range"
    assert shown[3]["note"] == ""
    assert page.count("#plot-box [data-role=batch-points] circle") == len(rows)

    saved = page.download("batch-download", tmp_path / "downloads")
    assert saved.name == "patients-predictions.csv"
    download = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [line["id"] for line in download] == [row[0] for row in rows]
    for line, prediction in zip(download, expected, strict=True):
        assert float(line["prediction"]) == pytest.approx(prediction, rel=1e-12)
        assert float(line["lower"]) < float(line["prediction"]) < float(line["upper"])
        assert line["model_version"] == served_model.version
        assert line["model_name"] == served_model.name


def test_json_columns_upload_uses_the_columns_route(
    page: TryItPage, served_model: LinearModel, tmp_path: Path
) -> None:
    columns = {
        name: [stats.min, stats.mean, stats.max]
        for name, stats in zip(served_model.features, served_model.feature_stats, strict=True)
    }
    path = tmp_path / "columns.json"
    path.write_text(json.dumps(columns))

    page.upload(path)

    shown = page.batch_rows()
    expected = served_model.predict(np.array(list(columns.values()), dtype=np.float64).T)
    assert [float(row["prediction"]) for row in shown] == pytest.approx(expected, abs=0.051)
    assert "/batch/columns" in page.by_id("api-curl").text


def test_a_bad_csv_cell_names_the_record_and_line(
    page: TryItPage, served_model: LinearModel, tmp_path: Path
) -> None:
    features = list(served_model.features)
    good = ",".join(str(stats.mean) for stats in served_model.feature_stats)
    bad = ",".join(["oops", *(str(stats.mean) for stats in served_model.feature_stats[1:])])
    path = tmp_path / "bad.csv"
    path.write_text(",".join(features) + f"\n{good}\n{bad}\n{good}\n")

    page.upload(path)

    message = page.error("batch")
    assert f"records[1].{features[0]}" in message
    assert "record 2, line 3" in message
    assert not page.by_id("batch-result").is_displayed()


def test_a_csv_without_the_models_columns_is_explained(
    page: TryItPage, served_model: LinearModel, tmp_path: Path
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("height,weight\n1.8,80\n")
    page.upload(path)
    message = page.error("batch")
    assert "no column for" in message
    assert served_model.features[0] in message


def test_every_control_has_a_label(page: TryItPage) -> None:
    unlabeled = page.driver.execute_script(
        "return [...document.querySelectorAll('input, select, button')]"
        ".filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')"
        " && !e.textContent.trim()).map((e) => e.outerHTML);"
    )
    assert unlabeled == []


def test_screenshots_at_desktop_and_phone_width(
    page: TryItPage, served_model: LinearModel, screenshot_dir: Path, tmp_path: Path
) -> None:
    page.predict(as_typed(example_values(served_model)))
    page.use_example()
    assert page.count("#batch-table tbody tr") == 8

    for name, (width, height) in {"desktop": DESKTOP, "phone": PHONE}.items():
        target = screenshot_dir / f"try-it-{name}.png"
        page.screenshot(target, width, height)
        assert target.stat().st_size > 10_000
        page.driver.set_window_size(width, height)
        assert page.horizontal_overflow() == 0, f"the page is wider than a {width}px window"
    # On a phone the whole form is still reachable and usable.
    page.driver.set_window_size(*PHONE)
    page.wait_plot()
    page.predict({served_model.features[0]: "0.02"})
    assert page.prediction_text()
