"""`python -m diabetes_client` end to end: a subprocess against the real server."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.artifact import LinearModel
from tests.support.processes import ROOT, ServerProcess, refusing_port

COUNT = 2_500


def run_cli(
    *args: str, target: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if target is not None:
        env["DIABETES_TARGET"] = target
    return subprocess.run(
        [sys.executable, "-m", "diabetes_client", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def records() -> np.ndarray:
    return np.random.default_rng(11).normal(0.0, 0.03, size=(COUNT, 2))


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory, records: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("cli") / "records.csv"
    # Columns in a different order from the model's, and a blank line.
    lines = ["bp,bmi", *(f"{bp!r},{bmi!r}" for bmi, bp in records.tolist())]
    lines.insert(10, "")
    # As a spreadsheet saves it: a byte-order mark and CRLF line ends.
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    return path


@pytest.fixture(scope="module")
def jsonl_file(tmp_path_factory: pytest.TempPathFactory, records: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("cli") / "records.jsonl"
    path.write_text("".join(json.dumps({"bmi": a, "bp": b}) + "\n" for a, b in records.tolist()))
    return path


def test_batch_csv_to_csv_with_intervals(
    two_feature_server: ServerProcess,
    two_feature_model: LinearModel,
    csv_file: Path,
    records: np.ndarray,
    tmp_path: Path,
):
    output = tmp_path / "predictions.csv"
    done = run_cli(
        "batch", str(csv_file), "--intervals", "--max-records-per-call", "1000",
        "--output", str(output), "--target", two_feature_server.target,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"predicted {COUNT} records with diabetes-test version test-1" in done.stderr
    with output.open() as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == ["prediction", "lower", "upper", "out_of_range"]
    expected = two_feature_model.predict(records)
    half_width = two_feature_model.interval_half_width([records[:, 0], records[:, 1]])
    assert [float(row["prediction"]) for row in rows] == expected.tolist()
    assert [float(row["upper"]) for row in rows] == (expected + half_width).tolist()
    flagged = two_feature_model.out_of_range([records[:, 0], records[:, 1]]).any(axis=0)
    assert [row["out_of_range"] == "true" for row in rows] == flagged.tolist()


def test_batch_jsonl_to_json_target_from_env(
    two_feature_server: ServerProcess,
    two_feature_model: LinearModel,
    jsonl_file: Path,
    records: np.ndarray,
):
    done = run_cli("batch", str(jsonl_file), "--format", "json", target=two_feature_server.target)
    assert done.returncode == 0, done.stderr
    predictions = [row["prediction"] for row in json.loads(done.stdout)]
    assert predictions == two_feature_model.predict(records).tolist()


def test_batch_from_stdin_to_json_lines(
    two_feature_server: ServerProcess, two_feature_model: LinearModel, jsonl_file: Path
):
    lines = jsonl_file.read_text().splitlines()[:3]
    done = run_cli(
        "--target", two_feature_server.target, "batch", "-", "--format", "jsonl",
        stdin="\n".join(lines) + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = [json.loads(line)["prediction"] for line in done.stdout.splitlines()]
    X = np.array([[r["bmi"], r["bp"]] for r in map(json.loads, lines)])
    assert got == two_feature_model.predict(X).tolist()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("typo.csv", "bmi,bpp\n0.1,0.2\n", "line 1 (the header): unknown feature(s) 'bpp'"),
        ("word.csv", "bmi,bp\n0.1,0.2\n0.1,high\n", "line 3, column bp: 'high' is not a number"),
        ("short.csv", "bmi,bp\n0.1,0.2\n0.3\n", "line 3: 1 values for 2 columns"),
        ("nan.csv", "bmi,bp\n0.1,nan\n", "line 2, column bp: nan is not a finite number"),
        ("empty.csv", "bmi,bp\n", "no records"),
        ("broken.jsonl", '{"bmi": 0.1, "bp": 0.2}\n{"bmi": 0.1,\n', "line 2: not valid JSON"),
        ("mixed.jsonl", '{"bmi": 0.1, "bp": 0.2}\n{"bmi": 0.1}\n', "line 2: has features"),
        ("text.jsonl", '{"bmi": "0.1", "bp": 0.2}\n', 'line 1, bmi: "0.1" is not a finite number'),
    ],
)
def test_bad_files_give_a_clear_error(
    two_feature_server: ServerProcess, tmp_path: Path, name: str, content: str, message: str
):
    path = tmp_path / name
    path.write_text(content)
    output = tmp_path / "out.csv"
    done = run_cli("batch", str(path), "-o", str(output), "--target", two_feature_server.target)
    assert done.returncode == 2
    assert f"diabetes-client: error: {path}: {message}" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == [path]  # no partial output left behind


def test_server_refusal_prints_its_message(two_feature_server: ServerProcess, tmp_path: Path):
    path = tmp_path / "bmi-only.csv"
    path.write_text("bmi\n0.1\n")
    done = run_cli("batch", str(path), "--target", two_feature_server.target)
    assert done.returncode == 1
    assert "INVALID_ARGUMENT: columns.bp is missing; this model needs bmi, bp" in done.stderr


def test_predict_one_record(two_feature_server: ServerProcess, two_feature_model: LinearModel):
    done = run_cli(
        "predict", "--bmi", "0.05", "--bp", "-0.02", "--target", two_feature_server.target
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["prediction"] == two_feature_model.predict(np.array([[0.05, -0.02]]))[0]
    assert result["model_version"] == "test-1"
    assert set(result["contributions"]) == {"bmi", "bp"}


def test_predict_missing_feature_exits_nonzero(two_feature_server: ServerProcess):
    done = run_cli("predict", "--bmi", "0.05", "--target", two_feature_server.target)
    assert done.returncode == 1
    assert "record.bp is missing" in done.stderr


def test_health_and_info(two_feature_server: ServerProcess, two_feature_model: LinearModel):
    health = run_cli("health", "--target", two_feature_server.target)
    assert (health.returncode, health.stdout.strip()) == (0, "SERVING")
    info = run_cli("info", "--target", two_feature_server.target)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["checksum"] == two_feature_model.checksum


def test_unreachable_server(tmp_path: Path):
    with refusing_port() as port:
        done = run_cli("health", "--target", f"127.0.0.1:{port}", "--timeout", "5")
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr
