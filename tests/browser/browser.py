"""Headless Chromium (the Debian packages `chromium` and `chromium-driver`) driven by Selenium."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

# Root needs --no-sandbox; the background-networking flags keep Chromium from calling out
# (this project's tests talk to 127.0.0.1 only).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--force-device-scale-factor=1",
    "--lang=en-US",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)


def find_binary(env_var: str, *names: str) -> str | None:
    """The executable named by `env_var`, else the first of `names` on PATH."""
    explicit = os.environ.get(env_var)
    if explicit:
        return explicit
    return next((path for name in names if (path := shutil.which(name))), None)


def chromium_paths() -> tuple[str, str] | None:
    """(browser, driver), or None when either is not installed."""
    browser = find_binary("CHROMIUM_BIN", "chromium", "chromium-browser")
    driver = find_binary("CHROMEDRIVER_BIN", "chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def headless_chromium(
    browser: str, driver: str, extra_flags: Sequence[str] = ()
) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile (so a new browser session: nothing
    kept from an earlier one); quit and removed after."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for flag in (*CHROMIUM_FLAGS, *extra_flags):
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
        # The console (script errors, CSP violations) is readable with get_log("browser").
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # The driver's log goes to the profile folder, not the test output.
        service = Service(
            executable_path=driver, log_output=str(Path(profile) / "chromedriver.log")
        )
        chrome = webdriver.Chrome(options=options, service=service)
        try:
            yield chrome
        finally:
            chrome.quit()


def console_errors(driver: webdriver.Chrome) -> list[str]:
    """Console messages at SEVERE level since the last call (reading clears them)."""
    return [
        str(entry["message"]) for entry in driver.get_log("browser") if entry["level"] == "SEVERE"
    ]
