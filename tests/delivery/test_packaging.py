"""The Python packages: `python -m build` makes the service's wheel and sdist and the client's
(client/, which carries the generated code); a fresh venv installs both, with the bundled
model and the generated code inside, and working console scripts."""

from __future__ import annotations

import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from diabetes.v1 import prediction_pb2, prediction_pb2_grpc
from server.healthcheck import check
from server.stack.processes import child_environment, free_port, start
from tests.delivery.tools import run_isolated
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow

# Files a working installation cannot do without, by wheel.
REQUIRED_IN_WHEEL = {
    "model/artifacts/diabetes-bmi.json",
    "model/artifacts/diabetes-bmi-raw.json",
    "model/artifact.schema.json",
    "server/__main__.py",
    "server/healthcheck.py",
    "server/stack/envoy.yaml",
    "server/stack/static/index.html",
}
REQUIRED_IN_CLIENT_WHEEL = {
    "diabetes/v1/prediction_descriptor.pb",
    "diabetes/v1/prediction_pb2.py",
    "diabetes/v1/prediction_pb2.pyi",
    "diabetes/v1/prediction_pb2_grpc.py",
    "diabetes_client/__init__.py",
    "diabetes_client/py.typed",
}
# The top-level packages each wheel installs: the generated code only in the client's.
TOP_LEVEL = {"command_settings", "model", "server"}
CLIENT_TOP_LEVEL = {"diabetes", "diabetes_client"}
CONSOLE_SCRIPTS = {"diabetes-server", "diabetes-train", "diabetes-service"}
CLIENT_CONSOLE_SCRIPTS = {"diabetes-client"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run_isolated(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT)
    run_isolated(sys.executable, "-m", "build", "--outdir", out, ROOT / "client", cwd=ROOT)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("diabetes_serving-*-py3-none-any.whl")
    return found


@pytest.fixture(scope="module")
def client_wheel(dist: Path) -> Path:
    (found,) = dist.glob("diabetes_client-*-py3-none-any.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, client_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the repository) with both wheels and the `train` extra."""
    root = tmp_path_factory.mktemp("venv")
    run_isolated(sys.executable, "-m", "venv", root / "venv", cwd=root)
    pip = root / "venv" / "bin" / "pip"
    run_isolated(
        pip,
        "install",
        "--quiet",
        f"diabetes-serving[train] @ {wheel.as_uri()}",
        f"diabetes-client @ {client_wheel.as_uri()}",
        cwd=root,
    )
    return root / "venv"


def sdist_names(sdist: Path) -> set[str]:
    with tarfile.open(sdist) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def test_build_makes_wheels_and_sdists(dist: Path) -> None:
    assert len(list(dist.glob("diabetes_serving-*.whl"))) == 1
    assert len(list(dist.glob("diabetes_client-*.whl"))) == 1
    (sdist,) = dist.glob("diabetes_serving-*.tar.gz")
    (client_sdist,) = dist.glob("diabetes_client-*.tar.gz")
    # A wheel is built from its sdist, so everything the wheel needs must be in it.
    assert {"pyproject.toml", "model/artifacts/diabetes-bmi.json"} <= sdist_names(sdist)
    assert {
        "pyproject.toml",
        "src/diabetes/v1/prediction_descriptor.pb",
        "src/diabetes_client/__init__.py",
    } <= sdist_names(client_sdist)


def wheel_contents(path: Path) -> tuple[set[str], str]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        return names, archive.read(entry_points).decode()


def top_level(names: set[str]) -> set[str]:
    return {n.split("/")[0] for n in names if "/" in n and ".dist-info/" not in n}


def test_wheel_holds_the_model_and_console_scripts(wheel: Path) -> None:
    names, scripts = wheel_contents(wheel)
    assert names >= REQUIRED_IN_WHEEL, sorted(REQUIRED_IN_WHEEL - names)
    assert top_level(names) == TOP_LEVEL
    for script in CONSOLE_SCRIPTS | CLIENT_CONSOLE_SCRIPTS:
        assert (f"{script} =" in scripts) == (script in CONSOLE_SCRIPTS)


def test_client_wheel_holds_the_generated_code_and_its_command(client_wheel: Path) -> None:
    names, scripts = wheel_contents(client_wheel)
    assert names >= REQUIRED_IN_CLIENT_WHEEL, sorted(REQUIRED_IN_CLIENT_WHEEL - names)
    assert top_level(names) == CLIENT_TOP_LEVEL
    assert "diabetes-client = diabetes_client.cli:main" in scripts


def test_release_publishes_both_distributions() -> None:
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    for pattern in ("dist/diabetes_serving-*", "dist/diabetes_client-*"):
        assert release.count(pattern) >= 2, f"release.yml must upload and release {pattern}"


@pytest.mark.parametrize("script", ["diabetes-server", "diabetes-client", "diabetes-train"])
def test_console_script_runs(venv: Path, script: str, tmp_path: Path) -> None:
    assert "usage:" in run_isolated(venv / "bin" / script, "--help", cwd=tmp_path, timeout=120)


def test_installed_package_bundles_model_and_descriptor(venv: Path, tmp_path: Path) -> None:
    script = (
        "from importlib import resources as r; import server;"
        "print(server.__file__);"
        "print((r.files('model') / 'artifacts' / 'diabetes-bmi.json').is_file());"
        "print((r.files('diabetes.v1') / 'prediction_descriptor.pb').is_file())"
    )
    module_file, model_ok, descriptor_ok = run_isolated(
        venv / "bin" / "python", "-c", script, cwd=tmp_path
    ).split()
    assert Path(module_file).is_relative_to(venv)
    assert (model_ok, descriptor_ok) == ("True", "True")


@pytest.fixture
def installed_server(venv: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    process = start(
        "installed server",
        [str(venv / "bin" / "diabetes-server"), "--port", str(port)],
        log_path=tmp_path / "server.log",
        env=child_environment(),
        cwd=tmp_path,
    )
    target = f"127.0.0.1:{port}"
    try:
        process.wait_ready(lambda: check(target, timeout=0.5), 60)
        yield target
    finally:
        process.stop()


def test_installed_server_answers_predict(installed_server: str) -> None:
    with grpc.insecure_channel(installed_server) as channel:
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        request = prediction_pb2.PredictRequest(record=prediction_pb2.Record(bmi=0.05))
        reply = stub.Predict(request, timeout=10)
    assert reply.model_version
    assert reply.interval.lower < reply.prediction < reply.interval.upper
