"""The page adapts to the model it is served with: one field per feature, a selectable plot axis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from model.artifact import LinearModel, load_artifact
from server.stack.stack import Stack
from tests.browser.browser import DESKTOP
from tests.browser.page import TryItPage
from tests.support.artifacts import write_test_artifact
from tests.support.stack import running_stack

FEATURES = ("age", "bmi", "bp")


@pytest.fixture(scope="module")
def three_feature_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_artifact(
        tmp_path_factory.mktemp("three") / "three.json", features=FEATURES, version="three-1"
    )


@pytest.fixture(scope="module")
def three_feature_stack(three_feature_artifact: Path) -> Iterator[Stack]:
    with running_stack(model=three_feature_artifact) as running:
        yield running


@pytest.fixture
def three_page(chromium: webdriver.Chrome, three_feature_stack: Stack) -> TryItPage:
    chromium.set_window_size(*DESKTOP)
    page = TryItPage(chromium, three_feature_stack.http_url + "/")
    page.open()
    return page


def test_one_field_per_feature_and_the_prediction_matches(
    three_page: TryItPage, three_feature_artifact: Path
) -> None:
    model: LinearModel = load_artifact(three_feature_artifact)
    assert three_page.feature_names() == list(FEATURES)
    values = {"age": 0.03, "bmi": 0.0617, "bp": -0.02}
    three_page.predict({name: str(value) for name, value in values.items()})
    expected = model.explain_one([values[name] for name in FEATURES])
    assert float(three_page.prediction_text()) == pytest.approx(expected.prediction, abs=0.051)
    rows = three_page.driver.find_elements(By.CSS_SELECTOR, "#contributions-table tr[data-feature]")
    assert [row.get_attribute("data-feature") for row in rows] == list(FEATURES)


def test_the_plot_axis_can_be_any_feature(three_page: TryItPage) -> None:
    select = Select(three_page.by_id("plot-feature"))
    assert [option.text for option in select.options] == list(FEATURES)
    assert select.first_selected_option.text == "bmi"
    assert "training mean" in three_page.by_id("plot-note").text
    select.select_by_visible_text("bp")
    three_page.wait().until(
        lambda d: (
            "against bp" in str(d.find_element(By.ID, "plot-title").get_attribute("textContent"))
        )
    )
    three_page.wait_plot()
    assert three_page.count("#plot-box [data-role=line]") == 1
