"""One real stack (server + Envoy) for the Open Inference Protocol suites: a two-feature
model (bmi, bp) and a small batch limit, so both input layouts and the limit are cheap to
reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from model.artifact import LinearModel, load_artifact
from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.stack import running_stack

BATCH_LIMIT = 1_000


@pytest.fixture(scope="session")
def oip_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("oip-model")
    return write_test_artifact(folder / "bmi-bp.json", features=("bmi", "bp"))


@pytest.fixture(scope="session")
def oip_model(oip_artifact: Path) -> LinearModel:
    return load_artifact(oip_artifact)


@pytest.fixture(scope="session")
def oip_stack(oip_artifact: Path) -> Iterator[Stack]:
    with running_stack(
        model=oip_artifact, server_args=("--max-batch-records", str(BATCH_LIMIT))
    ) as stack:
        yield stack
