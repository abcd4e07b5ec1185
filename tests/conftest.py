"""Fixtures shared by every suite: real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ServerProcess, running_server


@pytest.fixture(scope="session")
def grpc_server() -> Iterator[ServerProcess]:
    """The real server with the bundled model, in a subprocess, for the whole session."""
    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")
