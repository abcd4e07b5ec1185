"""The Go and Java clients (client/go, client/java) against the real server, directly and
through a real Envoy: each library's answers equal the Python client's for the same records
(one, and 10,000 as records and as columns), an unknown model is NOT_FOUND naming the models
served and a bad value INVALID_ARGUMENT naming the field; each CLI prints exactly what the
Python CLI prints for the same commands (JSON, batch files, errors and exit codes)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from diabetes_client import InvalidInputError, ModelNotFoundError, PredictionClient
from server.stack.stack import Stack
from tests.support.compiled_clients import compiled_cli, library_check, python_cli

pytestmark = pytest.mark.slow

RECORDS = 10_000
UNKNOWN_MODEL = "no-such-model"


@pytest.fixture(scope="module")
def records() -> list[dict[str, float]]:
    rng = np.random.default_rng(23)
    return [{"bmi": float(value)} for value in rng.uniform(-0.09, 0.17, RECORDS)]


@pytest.fixture(params=["direct", "envoy"])
def target(request: pytest.FixtureRequest, stack: Stack) -> str:
    """The server itself, or native gRPC through Envoy."""
    return stack.server_target if request.param == "direct" else stack.grpc_target


def python_answers(target: str, records: list[dict[str, float]]) -> dict[str, object]:
    with PredictionClient(target) as client:
        columns = {"bmi": [record["bmi"] for record in records]}
        answers: dict[str, object] = {
            "predict": client.predict(records[0]).prediction,
            "records": client.predict_batch(records).predictions.tolist(),
            "columns": client.predict_columns(columns).predictions.tolist(),
        }
        with pytest.raises(ModelNotFoundError) as not_found:
            client.predict(records[0], model=UNKNOWN_MODEL)
        with pytest.raises(InvalidInputError) as invalid:
            client.predict({"bmi": math.nan})
    answers["not_found"] = str(not_found.value)
    answers["invalid"] = str(invalid.value)
    return answers


def test_library_answers_equal_the_python_clients(
    language: str, target: str, records: list[dict[str, float]], tmp_path: Path
) -> None:
    done, found = library_check(language, tmp_path, target, records)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = python_answers(target, records)
    assert len(found["records"]) == RECORDS
    for key, value in expected.items():
        assert found[key] == value, key
    assert found["not_found"] == (
        f'NOT_FOUND: no model "{UNKNOWN_MODEL}"; this server serves "diabetes-bmi", '
        '"diabetes-bmi-raw"'
    )
    assert found["invalid"] == "INVALID_ARGUMENT: record.bmi must be a finite number, got nan"
    assert found["health"] == "SERVING"
    assert found["model_version"] == found["batch_model_version"] == found["info_version"]


def test_cli_predict_prints_what_the_python_cli_prints(language: str, target: str) -> None:
    args = ("predict", "--bmi", "0.0617")
    done = compiled_cli(language, *args, DIABETES_TARGET=target)
    expected = python_cli(*args, DIABETES_TARGET=target)
    assert expected.returncode == 0, expected.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.stdout
    # The least-squares value for bmi = 0.0617 (issue 23).
    assert round(json.loads(done.stdout)["prediction"], 10) == 210.8081378654


def test_cli_info_and_health_match_the_python_cli(language: str, stack: Stack) -> None:
    env = {"DIABETES_TARGET": stack.grpc_target}
    info = compiled_cli(language, "info", "--model", "diabetes-bmi-raw", **env)
    expected = python_cli("info", "--model", "diabetes-bmi-raw", **env)
    assert info.returncode == 0, info.stderr
    # Protobuf maps (metrics, units) have no order: equal as JSON, not as text.
    assert json.loads(info.stdout) == json.loads(expected.stdout)
    health = compiled_cli(language, "health", **env)
    assert (health.returncode, health.stdout) == (0, "SERVING\n")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("records.csv", ()),
        ("records.csv", ("--format", "jsonl", "--intervals")),
        ("records.jsonl", ("--format", "json", "--intervals", "--max-records-per-call", "3000")),
    ],
)
def test_cli_batch_writes_what_the_python_cli_writes(
    language: str,
    stack: Stack,
    records: list[dict[str, float]],
    tmp_path: Path,
    name: str,
    options: tuple[str, ...],
) -> None:
    source = tmp_path / name
    if name.endswith(".csv"):
        source.write_text("bmi\n" + "".join(f"{r['bmi']!r}\n" for r in records))
    else:
        source.write_text("".join(json.dumps(r) + "\n" for r in records))
    env = {"DIABETES_TARGET": stack.grpc_target}
    done = compiled_cli(language, "batch", str(source), *options, **env)
    expected = python_cli("batch", str(source), *options, **env)
    assert expected.returncode == 0, expected.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.stdout
    assert done.stderr == expected.stderr
    assert done.stderr.startswith(f"predicted {RECORDS} records with diabetes-bmi version ")


def test_cli_batch_output_file_equals_the_python_clis(
    language: str, stack: Stack, records: list[dict[str, float]], tmp_path: Path
) -> None:
    source = tmp_path / "records.csv"
    source.write_text("bmi\n" + "".join(f"{r['bmi']!r}\n" for r in records[:100]))
    env = {"DIABETES_TARGET": stack.server_target}
    ours, theirs = tmp_path / f"{language}.json", tmp_path / "python.json"
    assert compiled_cli(language, "batch", str(source), "-o", str(ours), **env).returncode == 0
    assert python_cli("batch", str(source), "-o", str(theirs), **env).returncode == 0
    assert ours.read_text() == theirs.read_text()
    assert len(json.loads(ours.read_text())) == 100


@pytest.mark.parametrize(
    ("args", "stdin", "exit_code", "message"),
    [
        (
            ("--model", UNKNOWN_MODEL, "predict", "--bmi", "0.05"), "", 1,
            f'NOT_FOUND: no model "{UNKNOWN_MODEL}"; this server serves "diabetes-bmi", '
            '"diabetes-bmi-raw"',
        ),
        (
            ("predict", "--bmi", "nan"), "", 1,
            "INVALID_ARGUMENT: record.bmi must be a finite number, got nan",
        ),
        (
            ("predict", "--age", "0.01"), "", 1,
            "INVALID_ARGUMENT: record.bmi is missing; this model needs bmi",
        ),
        (
            ("batch", "-"), "bmi\n0.05\nlots\n", 2,
            "stdin: line 3, column bmi: 'lots' is not a number",
        ),
        (
            ("batch", "-"), "bmi,weight\n0.05,80\n", 2,
            "stdin: line 1 (the header): unknown feature(s) 'weight'; the features are age, "
            "sex, bmi, bp, s1, s2, s3, s4, s5, s6",
        ),
    ],
    ids=["unknown-model", "nan", "missing-feature", "bad-number", "unknown-column"],
)  # fmt: skip
def test_cli_errors_equal_the_python_clis(
    language: str,
    target: str,
    args: tuple[str, ...],
    stdin: str,
    exit_code: int,
    message: str,
) -> None:
    done = compiled_cli(language, *args, stdin=stdin, DIABETES_TARGET=target)
    expected = python_cli(*args, stdin=stdin, DIABETES_TARGET=target)
    assert (expected.returncode, done.returncode) == (exit_code, exit_code)
    assert done.stdout == expected.stdout == ""
    assert done.stderr == expected.stderr
    where = f" [server {target}]" if exit_code == 1 else ""
    assert done.stderr == f"diabetes-client: error: {message}{where}\n"
