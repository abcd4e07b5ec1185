"""The Node.js client (client/node) against the real server: its own `node --test` suite,
then its numbers checked here against the model artifact's arithmetic."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from model.artifact import LinearModel
from tests.integration.conftest import NODE_CLIENT
from tests.support.processes import ServerProcess


def run_node(node: str, *args: str, target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, *args],
        cwd=NODE_CLIENT,
        env={**os.environ, "DIABETES_TARGET": target, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_node_suite_passes_and_matches_the_model(
    node: str, two_feature_server: ServerProcess, two_feature_model: LinearModel, tmp_path: Path
):
    results_path = tmp_path / "node-results.json"
    done = run_node(
        node, "--test", "test/", target=two_feature_server.target,
        DIABETES_NODE_RESULTS=str(results_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# fail 0" in done.stdout
    results = json.loads(results_path.read_text())
    assert results["features"] == list(two_feature_model.features)
    X = np.array([[record[name] for name in results["features"]] for record in results["inputs"]])
    expected = two_feature_model.predict(X).tolist()
    assert len(expected) == 25_000
    assert results["predictBatch"] == expected
    assert results["predictColumns"] == expected
    assert results["predict"] == expected[: len(results["predict"])]


def test_node_cli_predicts_one_record(
    node: str, two_feature_server: ServerProcess, two_feature_model: LinearModel
):
    done = run_node(
        node, "bin/diabetes-client.js", "predict", "--bmi", "0.05", "--bp=-0.02",
        target=two_feature_server.target,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["prediction"] == two_feature_model.predict(np.array([[0.05, -0.02]]))[0]
    assert reply["model_version"] == two_feature_model.version


def test_node_cli_reports_server_errors(node: str, two_feature_server: ServerProcess):
    done = run_node(
        node, "bin/diabetes-client.js", "predict", "--bmi", "0.05",
        target=two_feature_server.target,
    )  # fmt: skip
    assert done.returncode == 1
    assert "INVALID_ARGUMENT: record.bp is missing" in done.stderr
