"""Every client picks a model: the Python client (blocking and asyncio), its command line and
the Node client, against a real server serving the bundled repository (`diabetes-bmi`, scaled
BMI, the default; `diabetes-bmi-raw`, BMI in kg/m2). A raw BMI asked of the raw model gets
that model's prediction; an unknown model or version is NOT_FOUND naming what is served."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from diabetes_client import AsyncPredictionClient, ModelNotFoundError, PredictionClient
from model.artifact import LinearModel, load_artifact
from model.repository import BUNDLED_REPOSITORY
from tests.integration.conftest import NODE_CLIENT
from tests.support.processes import ROOT, ServerProcess, running_server

RAW = "diabetes-bmi-raw"
SCALED = "diabetes-bmi"
RAW_BMI = 31.0  # kg/m2


@pytest.fixture(scope="module")
def repository_server() -> Iterator[ServerProcess]:
    with running_server() as server:  # no --model: the bundled repository
        yield server


@pytest.fixture(scope="module")
def raw_model() -> LinearModel:
    return load_artifact(BUNDLED_REPOSITORY / f"{RAW}.json")


def raw_prediction(model: LinearModel, *bmi: float) -> list[float]:
    return [float(v) for v in model.predict(np.array([[value] for value in bmi]))]


def assert_names_what_is_served(error: ModelNotFoundError, unknown: str) -> None:
    assert error.code.name == "NOT_FOUND"
    assert unknown in error.message
    assert f'"{SCALED}"' in error.message
    assert f'"{RAW}"' in error.message


def test_python_client_asks_the_model_it_names(
    repository_server: ServerProcess, raw_model: LinearModel
) -> None:
    (expected,) = raw_prediction(raw_model, RAW_BMI)
    with PredictionClient(repository_server.target) as client:
        answer = client.predict({"bmi": RAW_BMI}, model=RAW)
        assert answer.prediction == expected
        assert (answer.model_name, answer.model_version) == (RAW, raw_model.version)
        assert client.predict({"bmi": RAW_BMI}, model=RAW, version="stable").prediction == (
            expected
        )
        default = client.predict({"bmi": 0.05})
        assert default.model_name == SCALED
        assert default.prediction != expected
        bmis = [22.0, RAW_BMI, 40.0]
        columns = client.predict_columns({"bmi": bmis}, model=RAW)
        records = client.predict_batch([{"bmi": b} for b in bmis], model=RAW)
        for batch in (columns, records):
            assert list(batch.predictions) == raw_prediction(raw_model, *bmis)
            assert (batch.model_name, batch.model_version) == (RAW, raw_model.version)
        info = client.info(model=RAW)
        assert (info.name, info.version) == (RAW, raw_model.version)
        assert info.units == {"bmi": "kg/m2"}
        served = {m.name: m for m in info.models}
        assert set(served) == {SCALED, RAW}
        assert served[SCALED].is_default
        assert served[RAW].stable == raw_model.version
    with PredictionClient(repository_server.target, model=RAW) as chosen:
        assert chosen.predict({"bmi": RAW_BMI}).prediction == expected
        assert chosen.predict({"bmi": 0.05}, model="").model_name == SCALED


def test_python_client_names_what_exists_for_an_unknown_model_or_version(
    repository_server: ServerProcess,
) -> None:
    with PredictionClient(repository_server.target) as client:
        with pytest.raises(ModelNotFoundError) as caught:
            client.predict({"bmi": RAW_BMI}, model="diabetes-nope")
        assert_names_what_is_served(caught.value, "diabetes-nope")
        with pytest.raises(ModelNotFoundError) as batch:
            client.predict_columns({"bmi": [RAW_BMI]}, model="diabetes-nope")
        assert_names_what_is_served(batch.value, "diabetes-nope")
        with pytest.raises(ModelNotFoundError) as version:
            client.predict({"bmi": RAW_BMI}, model=RAW, version="v-nope")
        assert "v-nope" in version.value.message
        assert "bmi-raw-" in version.value.message  # the versions it has
        with pytest.raises(ModelNotFoundError):
            client.info(model="diabetes-nope")


def test_asyncio_client_picks_a_model_too(
    repository_server: ServerProcess, raw_model: LinearModel
) -> None:
    (expected,) = raw_prediction(raw_model, RAW_BMI)

    async def calls() -> None:
        async with AsyncPredictionClient(repository_server.target) as client:
            answer = await client.predict({"bmi": RAW_BMI}, model=RAW)
            assert (answer.prediction, answer.model_name) == (expected, RAW)
            batch = await client.predict_batch([{"bmi": RAW_BMI}], model=RAW)
            assert (list(batch.predictions), batch.model_name) == ([expected], RAW)
            columns = await client.predict_columns({"bmi": [RAW_BMI]}, model=RAW)
            assert list(columns.predictions) == [expected]
            assert (await client.info(model=RAW)).name == RAW
            with pytest.raises(ModelNotFoundError) as caught:
                await client.predict({"bmi": RAW_BMI}, model="diabetes-nope")
            assert_names_what_is_served(caught.value, "diabetes-nope")

    asyncio.run(calls())


def run(args: list[str], target: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "DIABETES_TARGET": target, **env},
        timeout=120,
        check=False,
    )


def test_cli_picks_a_model_by_flag_or_variable(
    repository_server: ServerProcess, raw_model: LinearModel
) -> None:
    (expected,) = raw_prediction(raw_model, RAW_BMI)
    cli = [sys.executable, "-m", "diabetes_client"]
    target = repository_server.target
    by_flag = run([*cli, "predict", "--model", RAW, "--version", "stable", "--bmi", "31"], target)
    assert by_flag.returncode == 0, by_flag.stderr
    answer = json.loads(by_flag.stdout)
    assert (answer["prediction"], answer["model_name"]) == (expected, RAW)
    by_env = run([*cli, "predict", "--bmi", "31"], target, DIABETES_MODEL_NAME=RAW)
    assert json.loads(by_env.stdout)["model_name"] == RAW
    info = run([*cli, "--model", RAW, "info"], target)
    assert json.loads(info.stdout)["units"] == {"bmi": "kg/m2"}
    unknown = run([*cli, "--model", "diabetes-nope", "predict", "--bmi", "31"], target)
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr
    assert "diabetes-nope" in unknown.stderr
    assert f'"{RAW}"' in unknown.stderr


def test_node_client_picks_a_model(
    node: str, repository_server: ServerProcess, raw_model: LinearModel
) -> None:
    (expected,) = raw_prediction(raw_model, RAW_BMI)
    cli = [node, str(NODE_CLIENT / "bin" / "diabetes-client.js")]
    target = repository_server.target
    predicted = run([*cli, "predict", "--model", RAW, "--bmi", "31"], target)
    assert predicted.returncode == 0, predicted.stderr
    answer = json.loads(predicted.stdout)
    assert (answer["prediction"], answer["model_name"]) == (expected, RAW)
    assert answer["model_version"] == raw_model.version
    batch = subprocess.run(
        [*cli, "batch", "-"],
        input=json.dumps([{"bmi": RAW_BMI}, {"bmi": 22.0}]),
        capture_output=True,
        text=True,
        env={**os.environ, "DIABETES_TARGET": target, "DIABETES_MODEL_NAME": RAW},
        timeout=120,
        check=False,
    )
    assert batch.returncode == 0, batch.stderr
    result = json.loads(batch.stdout)
    assert result["predictions"] == raw_prediction(raw_model, RAW_BMI, 22.0)
    assert (result["modelName"], result["modelVersion"]) == (RAW, raw_model.version)
    info = json.loads(run([*cli, "info", "--model", RAW, "--version", "stable"], target).stdout)
    assert (info["name"], info["units"]) == (RAW, {"bmi": "kg/m2"})
    assert {m["name"] for m in info["models"]} == {SCALED, RAW}
    unknown = run([*cli, "predict", "--model", "diabetes-nope", "--bmi", "31"], target)
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr
    assert "diabetes-nope" in unknown.stderr
    assert f'"{RAW}"' in unknown.stderr
