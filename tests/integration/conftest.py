"""A server with a two-feature test model and a small batch limit, shared by this suite."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import LinearModel, load_artifact
from tests.support.artifacts import write_test_artifact
from tests.support.compiled_clients import JAVA_CLASSPATH_FILE, LANGUAGES, cli_path
from tests.support.processes import ROOT, ServerProcess, running_server

BATCH_LIMIT = 120_000
CHUNK = 10_000


@pytest.fixture(scope="session")
def two_feature_artifact(artifact_dir: Path) -> Path:
    return write_test_artifact(artifact_dir / "bmi-bp.json", features=("bmi", "bp"))


@pytest.fixture(scope="session")
def two_feature_model(two_feature_artifact: Path) -> LinearModel:
    return load_artifact(two_feature_artifact)


@pytest.fixture(scope="session")
def two_feature_server(two_feature_artifact: Path) -> Iterator[ServerProcess]:
    with running_server(
        "--max-batch-records",
        str(BATCH_LIMIT),
        "--batch-chunk-records",
        str(CHUNK),
        model=two_feature_artifact,
    ) as server:
        yield server


@pytest.fixture
def stub(two_feature_server: ServerProcess) -> Iterator[pb_grpc.PredictionServiceStub]:
    with grpc.insecure_channel(
        two_feature_server.target, options=[("grpc.max_send_message_length", 64 << 20)]
    ) as channel:
        yield pb_grpc.PredictionServiceStub(channel)


NODE_CLIENT = ROOT / "client" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    """The Node.js binary, with the Node client's packages installed (`make test-deps`)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (Node.js 20 or newer is needed)")
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail("the Node client's packages are missing: run `make test-deps`")
    return node


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> str:
    """ "go" or "java", with that client built (`make go-client`, `make java-client`)."""
    name: str = request.param
    if not cli_path(name).is_file() or (name == "java" and not JAVA_CLASSPATH_FILE.is_file()):
        pytest.fail(f"the {name} client is not built: run `make {name}-client`")
    return name
