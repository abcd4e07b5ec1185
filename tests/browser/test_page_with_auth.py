"""The try-it page behind the production edge (compose's production Envoy: JWT, TLS, rate
limit) in headless Chromium: it asks for a bearer token when the service answers 401, keeps
it for the tab only, sends it on every call, and shows Envoy's reason when it is refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from tests.browser.browser import DESKTOP, PHONE, chromium_paths, console_errors, headless_chromium
from tests.browser.page import TryItPage
from tests.browser.production import ProductionEdge, production_edge, trusting_flags
from tests.browser.test_try_it_page import as_typed, example_values
from tests.support.credentials import SigningKey
from tests.support.processes import running_server, wait_until

TOKEN_KEY = "diabetes-bearer-token"
ROUTES = ("/model", "/stream", "/batch", "/batch/columns")
MakeToken = Callable[[ProductionEdge, SigningKey], str]


@pytest.fixture(scope="module")
def edge(
    signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductionEdge]:
    """A real server (the bundled model) behind compose's production Envoy."""
    with (
        running_server() as server,
        production_edge(server.port, signing_key, tmp_path_factory.mktemp("edge")) as running,
    ):
        yield running


@pytest.fixture(scope="module")
def bundled_model() -> LinearModel:
    return load_artifact(BUNDLED_ARTIFACT)


@pytest.fixture(scope="module")
def browser(edge: ProductionEdge) -> Iterator[webdriver.Chrome]:
    """Chromium that trusts the edge's test certificate (pinned by its key) and nothing else
    that fails TLS checks."""
    paths = chromium_paths()
    if paths is None:
        pytest.fail("chromium and chromium-driver are not installed (make system-deps)")
    with headless_chromium(*paths, extra_flags=trusting_flags(edge.certificate)) as driver:
        yield driver


@pytest.fixture
def tab(browser: webdriver.Chrome, edge: ProductionEdge) -> TryItPage:
    """The page in a tab that holds no token yet (its sessionStorage cleared)."""
    browser.set_window_size(*DESKTOP)
    browser.get(edge.url + "/")
    browser.execute_script("sessionStorage.clear()")
    console_errors(browser)  # forget earlier tests' messages
    return TryItPage(browser, edge.url + "/")


def good_token(edge: ProductionEdge, key: SigningKey, subject: str = "page-user") -> str:
    return key.token(sub=subject, **edge.claims())


def wait_token_form(page: TryItPage) -> None:
    page.wait().until(ec.visibility_of_element_located((By.ID, "auth-token")))


def submit_token(page: TryItPage, token: str) -> None:
    field = page.by_id("auth-token")
    field.clear()
    field.send_keys(token)
    page.by_id("auth-submit").click()


def wait_model_loaded(page: TryItPage) -> None:
    page.wait().until(ec.element_to_be_clickable((By.ID, "predict-button")))
    page.wait_plot()


def session_token(driver: webdriver.Chrome) -> str | None:
    value = driver.execute_script(f"return sessionStorage.getItem('{TOKEN_KEY}')")
    return None if value is None else str(value)


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    """Console errors about the Content Security Policy (the 401s themselves are logged as
    failed loads, which is the point of these tests)."""
    return [m for m in console_errors(driver) if "Content Security Policy" in m]


def test_without_a_token_the_page_asks_for_one(tab: TryItPage, screenshot_dir: Path) -> None:
    tab.driver.get(tab.url)
    wait_token_form(tab)
    field = tab.by_id("auth-token")
    assert field.get_attribute("type") == "password"
    label = tab.driver.find_element(By.CSS_SELECTOR, "label[for=auth-token]")
    assert label.text == "Bearer token"
    assert tab.by_id("auth-submit").get_attribute("type") == "submit"
    assert tab.driver.switch_to.active_element == field
    # Nothing refused yet: no error, only the form; the model waits for a token.
    assert not tab.by_id("auth-error").is_displayed()
    assert not tab.by_id("predict-button").is_enabled()
    assert "accepts a token" in tab.by_id("model-loading").text
    assert not tab.by_id("auth-status").is_displayed()
    assert csp_violations(tab.driver) == []
    tab.screenshot(screenshot_dir / "token-form-desktop.png", *DESKTOP)
    tab.driver.set_window_size(*PHONE)
    assert tab.horizontal_overflow() == 0
    tab.screenshot(screenshot_dir / "token-form-phone.png", *PHONE)


def test_a_good_token_gives_the_models_prediction_and_goes_on_every_call(
    tab: TryItPage,
    edge: ProductionEdge,
    signing_key: SigningKey,
    bundled_model: LinearModel,
    tmp_path: Path,
) -> None:
    subject = f"page-user-{edge.envoy.http_port}"
    token = good_token(edge, signing_key, subject)
    tab.driver.get(tab.url)
    wait_token_form(tab)
    submit_token(tab, token)
    wait_model_loaded(tab)
    assert not tab.by_id("auth").is_displayed()
    assert tab.by_id("model-version").text == bundled_model.version

    values = example_values(bundled_model)
    tab.predict(as_typed(values))
    expected = bundled_model.explain_one([values[name] for name in bundled_model.features])
    exact = float(str(tab.by_id("prediction-value").get_attribute("data-value")))
    assert exact == pytest.approx(expected.prediction, rel=1e-12)

    tab.use_example()  # records: POST /batch
    assert tab.count("#batch-table tbody tr") == 8
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({"bmi": [0.06, -0.05]}))
    tab.upload(columns)  # columns: POST /batch/columns
    assert tab.count("#batch-table tbody tr") == 2

    # Envoy let every route through for this token's subject.
    def answered() -> set[str]:
        return {
            str(line["path"])
            for line in edge.access_log()
            if line.get("subject") == subject and line.get("status") == 200
        }

    wait_until(lambda: set(ROUTES) <= answered(), 10, "every route in Envoy's access log")

    # The token stays in this tab's sessionStorage: not localStorage, a cookie, the URL or
    # the page's text (the shown curl command reads it from $TOKEN).
    driver = tab.driver
    assert session_token(driver) == token
    assert driver.execute_script("return localStorage.length") == 0
    assert driver.execute_script("return document.cookie") == ""
    assert token not in driver.current_url
    assert token not in str(driver.execute_script("return document.body.innerText"))
    curl = str(tab.by_id("api-curl").get_attribute("textContent"))
    assert '-H "authorization: Bearer $TOKEN"' in curl
    assert tab.by_id("auth-status").is_displayed()
    assert csp_violations(driver) == []


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda edge, key: key.token(ttl=-600, **edge.claims()), "Jwt is expired"),
        (
            lambda edge, key: SigningKey.generate(key.kid).token(**edge.claims()),
            "Jwt verification fails",
        ),
        (lambda edge, key: "not-a-jwt", "Jwt is not in the form of Header.Payload.Signature"),
    ],
    ids=["expired", "another-key", "not-a-jwt"],
)
def test_a_refused_token_brings_the_form_back_with_envoys_reason(
    tab: TryItPage,
    edge: ProductionEdge,
    signing_key: SigningKey,
    make_token: MakeToken,
    reason: str,
) -> None:
    token = make_token(edge, signing_key)
    tab.driver.get(tab.url)
    wait_token_form(tab)
    submit_token(tab, token)
    error = tab.error("auth")
    assert error.startswith("The service refused the token")
    assert reason in error
    wait_token_form(tab)
    assert session_token(tab.driver) is None  # a refused token is forgotten
    assert not tab.by_id("predict-button").is_enabled()


def test_a_token_that_expires_during_the_session_asks_again(
    tab: TryItPage, edge: ProductionEdge, signing_key: SigningKey, bundled_model: LinearModel
) -> None:
    tab.driver.get(tab.url)
    wait_token_form(tab)
    submit_token(tab, good_token(edge, signing_key))
    wait_model_loaded(tab)
    expired = signing_key.token(ttl=-600, **edge.claims())
    tab.driver.execute_script(f"sessionStorage.setItem('{TOKEN_KEY}', arguments[0])", expired)
    tab.predict(as_typed(example_values(bundled_model)))
    assert "HTTP 401" in tab.error("predict")
    assert "Jwt is expired" in tab.error("auth")
    wait_token_form(tab)
    submit_token(tab, good_token(edge, signing_key))
    tab.predict(as_typed(example_values(bundled_model)))
    assert float(tab.prediction_text())


def test_a_reload_keeps_the_token_a_new_browser_session_does_not(
    tab: TryItPage, edge: ProductionEdge, signing_key: SigningKey
) -> None:
    tab.driver.get(tab.url)
    wait_token_form(tab)
    submit_token(tab, good_token(edge, signing_key))
    wait_model_loaded(tab)

    tab.driver.refresh()
    wait_model_loaded(tab)  # straight to the model: the tab still holds the token
    assert not tab.by_id("auth").is_displayed()

    paths = chromium_paths()
    assert paths is not None
    with headless_chromium(*paths, extra_flags=trusting_flags(edge.certificate)) as other:
        fresh = TryItPage(other, tab.url)
        other.get(fresh.url)
        wait_token_form(fresh)
        assert session_token(other) is None


def test_forget_token_asks_again_after_a_reload(
    tab: TryItPage, edge: ProductionEdge, signing_key: SigningKey
) -> None:
    tab.driver.get(tab.url)
    wait_token_form(tab)
    submit_token(tab, good_token(edge, signing_key))
    wait_model_loaded(tab)

    tab.by_id("forget-token").click()
    wait_token_form(tab)
    assert session_token(tab.driver) is None
    assert not tab.by_id("auth-status").is_displayed()
    tab.driver.refresh()
    wait_token_form(tab)


def test_an_empty_or_spaced_token_is_caught_on_the_page(tab: TryItPage) -> None:
    tab.driver.get(tab.url)
    wait_token_form(tab)
    for typed, message in (("", "Enter the token."), ("two words", "no spaces")):
        submit_token(tab, typed)
        shown = tab.wait().until(ec.visibility_of_element_located((By.ID, "auth-token-error"))).text
        assert message in shown
        assert tab.by_id("auth-token").get_attribute("aria-invalid") == "true"
    assert session_token(tab.driver) is None
