"""The try-it page as the tests see it: what a user types, clicks and reads."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT_SECONDS = 15.0


class TryItPage:
    def __init__(self, driver: Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def wait(self) -> WebDriverWait[Chrome]:
        # The page redraws parts of itself (the plot, tables): an element found a moment
        # ago may be replaced before it is read, so such a condition is simply polled again.
        return WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=[StaleElementReferenceException]
        )

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def open(self) -> None:
        """Load the page and wait until the model is described and the plot drawn."""
        self.driver.get(self.url)
        self.wait().until(ec.element_to_be_clickable((By.ID, "predict-button")))
        self.wait_plot()

    def wait_plot(self) -> None:
        self.wait().until(
            lambda d: d.find_element(By.ID, "plot-box").get_attribute("aria-busy") == "false"
        )

    def picker(self) -> Select:
        return Select(self.by_id("model-picker"))

    def picked(self) -> tuple[str, str]:
        """(model, version) the picker shows."""
        option = self.picker().first_selected_option
        return str(option.get_attribute("data-model")), str(option.get_attribute("data-version"))

    def pick_model(self, name: str, version: str | None = None) -> None:
        """Choose `name` (its `version`, else its stable one) in the picker and wait until the
        page describes it, its form is built and its plot drawn."""
        for option in self.picker().options:
            if option.get_attribute("data-model") != name:
                continue
            if version is None and "stable" not in option.text:
                continue
            if version is not None and option.get_attribute("data-version") != version:
                continue
            self.picker().select_by_value(str(option.get_attribute("value")))
            break
        else:
            raise AssertionError(f"the picker offers no {name} {version or 'stable'}")
        self.wait_model(name)

    def wait_model(self, name: str) -> None:
        """Wait until the page describes model `name` and is ready for a prediction."""
        self.wait().until(lambda _: self.by_id("model-name").text == name)
        self.wait().until(lambda _: self.by_id("model").get_attribute("aria-busy") == "false")
        self.wait().until(ec.element_to_be_clickable((By.ID, "predict-button")))
        self.wait_plot()

    def feature_names(self) -> list[str]:
        fields = self.driver.find_elements(By.CSS_SELECTOR, "#feature-fields input[type=text]")
        return [str(field.get_attribute("name")) for field in fields]

    def fill(self, values: Mapping[str, str]) -> None:
        for name, value in values.items():
            field = self.by_id(f"feature-{name}")
            field.clear()
            field.send_keys(value)

    def finished(self, section: str) -> int:
        """How many user actions `section` (predict, batch) has finished."""
        return int(self.by_id(section).get_attribute("data-finished") or 0)

    def wait_finished(self, section: str, before: int) -> None:
        self.wait().until(lambda _: self.finished(section) > before)
        self.wait_plot()

    def predict(self, values: Mapping[str, str]) -> None:
        """Fill the form, press Predict and wait for the answer (a result or an error)."""
        self.fill(values)
        before = self.finished("predict")
        self.by_id("predict-button").click()
        self.wait_finished("predict", before)

    def prediction_text(self) -> str:
        self.wait().until(ec.visibility_of_element_located((By.ID, "prediction-value")))
        return self.by_id("prediction-value").text

    def error(self, section: str) -> str:
        """The visible error of `section` (predict, batch, model, plot)."""
        box = self.wait().until(ec.visibility_of_element_located((By.ID, f"{section}-error")))
        return box.text

    def upload(self, path: Path) -> None:
        before = self.finished("batch")
        self.by_id("batch-file").send_keys(str(path))
        self.wait_finished("batch", before)

    def use_example(self) -> None:
        """Press "Use an example file" and wait for its results."""
        before = self.finished("batch")
        self.by_id("example-button").click()
        self.wait_finished("batch", before)

    def batch_rows(self) -> list[dict[str, str]]:
        """The result table, one dict per row keyed by column header."""
        headers = [
            th.text for th in self.driver.find_elements(By.CSS_SELECTOR, "#batch-table thead th")
        ]
        rows = []
        for tr in self.driver.find_elements(By.CSS_SELECTOR, "#batch-table tbody tr"):
            cells = tr.find_elements(By.CSS_SELECTOR, "th, td")
            rows.append(dict(zip(headers, (c.text for c in cells), strict=True)))
        return rows

    def download(self, link_id: str, folder: Path) -> Path:
        """Click a download link and wait for the file Chromium saves into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        self.driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
        )
        link = self.by_id(link_id)
        name = str(link.get_attribute("download"))
        link.click()
        target = folder / name
        self.wait().until(lambda _: target.exists() and target.stat().st_size > 0)
        return target

    def count(self, css: str) -> int:
        return len(self.driver.find_elements(By.CSS_SELECTOR, css))

    def screenshot(self, path: Path, width: int, height: int) -> None:
        """A full-page screenshot at `width` (the window grows to the page's height)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.set_window_size(width, height)
        self.wait_plot()
        full = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(width, max(height, full + 200))
        self.wait_plot()
        self.driver.save_screenshot(str(path))
        self.driver.set_window_size(width, height)

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than the window (0 when it fits)."""
        return int(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )
