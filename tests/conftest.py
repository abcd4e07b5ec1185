"""Fixtures shared by every suite: real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.credentials import SigningKey
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


@pytest.fixture(scope="module")
def test_artifact_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The real server with the test artifact (version "test-1"), for one module."""
    model = write_test_artifact(tmp_path_factory.mktemp("test-artifact") / "model.json")
    with running_server(model=model) as server:
        yield server


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    """An RSA key for JWTs; a module's Envoy trusts its public half through a local JWKS."""
    return SigningKey.generate("test-key")
