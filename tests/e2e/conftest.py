"""The real stack (server + Envoy) for the end-to-end suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from server.stack.stack import Stack


@pytest.fixture(scope="session")
def bundled_model() -> LinearModel:
    return load_artifact(BUNDLED_ARTIFACT)


@pytest.fixture(scope="session")
def http(stack: Stack) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
