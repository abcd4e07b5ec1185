"""Fixtures shared by every suite: real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.stack import Stack
from tests.support.processes import ServerProcess, running_server
from tests.support.stack import running_stack


@pytest.fixture(scope="session")
def grpc_server() -> Iterator[ServerProcess]:
    """The real server with the bundled model, in a subprocess, for the whole session."""
    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Server + real Envoy with the bundled model: `.http_url`, `.grpc_target` (native gRPC
    through Envoy), `.server_targets` (each server directly)."""
    with running_stack() as running:
        yield running
