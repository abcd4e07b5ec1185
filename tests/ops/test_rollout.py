"""Roll-out and roll-back as data, through Envoy under load: from a CSV this test writes, a
model is trained, added to the repository as a new version, given a canary share, promoted
and rolled back with `diabetes-models`, while JSON and gRPC callers call without pause. No
call fails, and the versions the answers name move as the labels do."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from sklearn.datasets import load_diabetes

from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, load_artifact
from tests.support.ops import Load
from tests.support.processes import wait_until
from tests.support.stack import running_stack

RAW = load_artifact(RAW_UNITS_ARTIFACT)
NEW_VERSION = "bmi-raw-csv-1"


def diabetes_models(*args: str) -> str:
    """Run the `diabetes-models` command as an operator would; its output."""
    done = subprocess.run(
        [sys.executable, "-m", "model.models_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_csv(path: Path) -> Path:
    """The data set's rows in raw units (BMI in kg/m2) with the target, as a clinic's
    export would look."""
    data = load_diabetes(scaled=False)
    bmi = list(data.feature_names).index("bmi")
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["patient", "bmi", "progression"])
        for index, (row, target) in enumerate(zip(data.data, data.target, strict=True)):
            writer.writerow([f"p{index}", row[bmi], target])
    return path


class JsonLoad:
    """Callers of `POST /stream?model=...` through Envoy, back to back; every answer's
    version with the time it came, every failure kept."""

    def __init__(self, url: str, threads: int = 2, max_seconds: float = 120) -> None:
        self._url = f"{url}/stream"
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._lock = threading.Lock()
        self.answers: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> JsonLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    reply = session.post(
                        self._url, params={"model": RAW.name}, json={"bmi": 31.0}, timeout=10
                    )
                    answer = reply.json()
                    ok = reply.status_code == 200 and answer["model_name"] == RAW.name
                except (requests.RequestException, ValueError, KeyError) as exc:
                    ok, answer = False, {"error": repr(exc)}
                with self._lock:
                    if ok:
                        self.answers.append((time.monotonic(), answer["model_version"]))
                    else:
                        self.failures.append(str(answer))

    def versions_since(self, moment: float) -> list[str]:
        with self._lock:
            return [version for when, version in self.answers if when > moment]

    def settles_on(self, version: str, calls: int = 40) -> Callable[[], bool]:
        """True once the last `calls` answers all name `version`."""

        def check() -> bool:
            with self._lock:
                last = [v for _, v in self.answers[-calls:]]
            return len(last) == calls and set(last) == {version}

        return check


def ask_canary(url: str, answers: list[dict[str, str]]) -> bool:
    reply = requests.post(
        f"{url}/stream",
        params={"model": RAW.name, "version": "canary"},
        json={"bmi": 31.0},
        timeout=10,
    )
    if reply.status_code == 404:
        return False
    answers.append(reply.json())
    return True


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    diabetes_models("add", "--repository", str(root), str(BUNDLED_ARTIFACT))
    diabetes_models("add", "--repository", str(root), str(RAW_UNITS_ARTIFACT))
    return root


def test_train_add_canary_promote_rollback_under_load(repository: Path, tmp_path: Path) -> None:
    trained = tmp_path / "trained.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model.train",
            "--data",
            str(write_csv(tmp_path / "clinic.csv")),
            "--target",
            "progression",
            "--features",
            "bmi",
            "--name",
            RAW.name,
            "--version",
            NEW_VERSION,
            "--output-dir",
            str(tmp_path / "out"),
            "--output",
            str(trained),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    repo = ("--repository", str(repository))
    with (
        running_stack(
            servers=2, model_repository=repository, server_args=("--watch-model", "true")
        ) as stack,
        Load(stack.grpc_target, threads=2, max_seconds=150) as grpc_load,
        JsonLoad(stack.http_url, threads=2, max_seconds=150) as json_load,
    ):
        wait_until(json_load.settles_on(RAW.version), 30, "answers from the first version")

        diabetes_models("add", *repo, str(trained))
        diabetes_models("canary", *repo, RAW.name, NEW_VERSION, "--percent", "50")
        canary_set = time.monotonic()
        wait_until(
            lambda: {RAW.version, NEW_VERSION} <= set(json_load.versions_since(canary_set)),
            30,
            "the canary answering its share",
        )
        # Each server reads the new labels within its watch interval; until then a caller
        # naming the label may reach one that has no canary yet (404, never a wrong version).
        asked: list[dict[str, str]] = []
        wait_until(lambda: ask_canary(stack.http_url, asked), 30, "the canary label")
        assert asked[-1]["model_version"] == NEW_VERSION

        diabetes_models("promote", *repo, RAW.name)
        wait_until(json_load.settles_on(NEW_VERSION), 30, "the promoted version everywhere")

        diabetes_models("rollback", *repo, RAW.name)
        wait_until(json_load.settles_on(RAW.version), 30, "the old version back everywhere")
        grpc_load.wait_for_calls(50)

        info = requests.get(f"{stack.http_url}/model", params={"model": RAW.name}, timeout=10)
        listed = {model["name"]: model for model in info.json()["models"]}
        assert listed[RAW.name]["stable"] == RAW.version
        assert listed[RAW.name]["versions"] == sorted([RAW.version, NEW_VERSION])

    grpc_report = grpc_load.report
    print(
        grpc_report.summary("roll-out, gRPC default model"),
        f"[roll-out, JSON {RAW.name}] answers={len(json_load.answers)} "
        f"failed={len(json_load.failures)}",
    )
    assert json_load.failures == []
    assert grpc_report.failed == 0, grpc_report.errors
    # The default model was never touched: every gRPC caller saw its one version.
    bundled = load_artifact(BUNDLED_ARTIFACT).version
    assert all(versions == [bundled] for versions in grpc_report.versions)


def test_unknown_model_or_version_is_404_naming_what_exists(repository: Path) -> None:
    with running_stack(servers=1, model_repository=repository) as stack:
        for params, named in (
            ({"model": "nope"}, '"diabetes-bmi", "diabetes-bmi-raw"'),
            ({"model": RAW.name, "version": "v9"}, f'"{RAW.version}"'),
        ):
            reply = requests.post(
                f"{stack.http_url}/stream", params=params, json={"bmi": 31.0}, timeout=10
            )
            assert reply.status_code == 404
            assert reply.json()["code"] == 5
            assert named in reply.json()["message"]
