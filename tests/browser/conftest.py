"""Headless Chromium against the real stack (server + Envoy serving the page)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from server.stack.stack import Stack
from tests.browser.browser import DESKTOP, chromium_paths, console_errors, headless_chromium
from tests.browser.page import TryItPage

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def chromium() -> Iterator[webdriver.Chrome]:
    paths = chromium_paths()
    if paths is None:
        pytest.fail("chromium and chromium-driver are not installed (make system-deps)")
    with headless_chromium(*paths) as driver:
        yield driver


@pytest.fixture
def page(chromium: webdriver.Chrome, stack: Stack) -> TryItPage:
    """The page freshly loaded from the stack's public port, at desktop size."""
    chromium.set_window_size(*DESKTOP)
    console_errors(chromium)  # forget earlier tests' messages
    try_it = TryItPage(chromium, stack.http_url + "/")
    try_it.open()
    return try_it


@pytest.fixture(scope="session")
def served_model(stack: Stack) -> LinearModel:
    """The model the stack serves, read from its artifact: the reference for the page.
    Resolved as the server resolves it: --model, else DIABETES_MODEL, else the bundled one."""
    return load_artifact(
        stack.options.model or os.environ.get("DIABETES_MODEL") or BUNDLED_ARTIFACT
    )


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Screenshots are kept as test artifacts (test-artifacts/ is gitignored)."""
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO_ROOT / "test-artifacts")) / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
