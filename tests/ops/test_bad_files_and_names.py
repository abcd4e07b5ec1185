"""Against real servers: a repository with a bad file serves every good model and version
and reports the bad one (GetModelInfo, metrics, one log line); a file watch picks up a good
change beside a newly bad file; a default model that cannot be served stops the start with a
clear message (exit 2); a model name that is not a valid one is INVALID_ARGUMENT / 400
through Envoy, quoting at most 64 characters of it; `diabetes-models add` of an artifact
named `../../x` writes nothing anywhere."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import grpc
import pytest
import requests

from bench.procs import free_port
from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, load_artifact
from tests.ops.test_metrics_and_logs import scrape, value
from tests.support.artifacts import write_test_artifact
from tests.support.processes import running_server, spawn, wait_until
from tests.support.stack import running_stack

BMI = load_artifact(BUNDLED_ARTIFACT)
RAW = load_artifact(RAW_UNITS_ARTIFACT)
# Under Envoy's 16 KiB body cap for Predict, so the server's own name check answers.
LONG_NAME = "m" * 10_000
QUOTED_LONG_NAME = f'"{"m" * 64}"... (10,000 characters) is not valid'


def diabetes_models(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model.models_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for artifact in (BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT):
        done = diabetes_models("add", "--repository", str(root), str(artifact))
        assert done.returncode == 0, done.stderr
    return root


def _info(target: str, model: str = "") -> pb.GetModelInfoResponse:
    with grpc.insecure_channel(target) as channel:
        info: pb.GetModelInfoResponse = pb_grpc.PredictionServiceStub(channel).GetModelInfo(
            pb.GetModelInfoRequest(model=model), timeout=5
        )
    return info


def _predict(target: str, model: str, version: str = "") -> pb.PredictResponse:
    with grpc.insecure_channel(target) as channel:
        answer: pb.PredictResponse = pb_grpc.PredictionServiceStub(channel).Predict(
            pb.PredictRequest(record=pb.Record(bmi=0.02), model=model, version=version),
            timeout=5,
        )
    return answer


def _reloaded(target: str, version: str, refused: int) -> bool:
    """Whether the server serves `version` of the raw model and lists `refused` files."""
    info = _info(target)
    served = {model.name: list(model.versions) for model in info.models}
    return version in served[RAW.name] and len(info.refused_files) == refused


def test_a_server_started_with_a_bad_file_serves_the_good_ones_and_reports_it(
    repository: Path, tmp_path: Path
) -> None:
    (repository / RAW.name / "unused.json").write_text("{")
    metrics_port = free_port()
    with running_server(
        "--model-repository",
        str(repository),
        "--metrics-port",
        str(metrics_port),
        "--watch-model",
        "true",
    ) as server:
        assert _predict(server.target, BMI.name).model_version == BMI.version
        assert _predict(server.target, RAW.name).model_version == RAW.version
        (refused,) = _info(server.target).refused_files
        assert (refused.path, refused.model, refused.still_served) == (
            f"{RAW.name}/unused.json",
            RAW.name,
            False,
        )
        assert refused.reason.startswith("the artifact is not valid JSON: Expecting")
        assert value(scrape(metrics_port), "diabetes_model_files_refused", model=RAW.name) == 1

        # Newly bad files beside a good change: the change is served, the served version
        # whose file went bad keeps serving from memory, an unreadable file (a dangling
        # link) is refused alone.
        write_test_artifact(tmp_path / "raw-2.json", version="raw-2", name=RAW.name)
        (repository / RAW.name / f"{RAW.version}.json").write_text("")
        (repository / RAW.name / "gone.json").symlink_to(tmp_path / "nowhere.json")
        new_version = tmp_path / "raw-2.json"
        added = diabetes_models("add", "--repository", str(repository), str(new_version))
        assert added.returncode == 0, added.stderr
        wait_until(partial(_reloaded, server.target, "raw-2", 3), 20, "the reload with raw-2")
        assert _predict(server.target, RAW.name, "raw-2").model_version == "raw-2"
        assert _predict(server.target, RAW.name).model_version == RAW.version
        listed = {(f.path, f.still_served) for f in _info(server.target).refused_files}
        assert listed == {
            (f"{RAW.name}/gone.json", False),
            (f"{RAW.name}/unused.json", False),
            (f"{RAW.name}/{RAW.version}.json", True),
        }
        wait_until(
            lambda: (
                value(scrape(metrics_port), "diabetes_model_files_refused", model=RAW.name) == 3
            ),
            10,
            "the refused-files gauge",
        )
        logs = server.json_logs()
    refusals = [line for line in logs if line.get("message", "").startswith("model file refused")]
    assert refusals[0]["message"] == f"model file refused: {RAW.name}/unused.json"
    assert refusals[0]["level"] == "ERROR"
    assert refusals[0]["error"].startswith("the artifact is not valid JSON")
    assert "Traceback" not in server.log_text()


def test_a_default_model_that_cannot_be_served_stops_the_start(repository: Path) -> None:
    (repository / BMI.name / f"{BMI.version}.json").write_text("{")
    process = spawn([sys.executable, "-m", "server", "--model-repository", str(repository)])
    code = process.popen.wait(timeout=60)
    assert code == 2
    assert (
        f"cannot start: the default model '{BMI.name}' of {repository} cannot be served: "
        f"{BMI.name}/{BMI.version}.json: the artifact is not valid JSON"
    ) in process.log_text()


def test_a_name_that_is_not_valid_is_invalid_argument_through_envoy(repository: Path) -> None:
    with running_stack(servers=1, model_repository=repository) as stack:
        with grpc.insecure_channel(stack.grpc_target) as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(
                    pb.PredictRequest(record=pb.Record(bmi=0.02), model=LONG_NAME), timeout=10
                )
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error.value.details().startswith(f"model name {QUOTED_LONG_NAME}")
            assert "m" * 65 not in error.value.details()
            # A 200 kB name is over Predict's body cap: Envoy refuses it, not retried.
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(
                    pb.PredictRequest(record=pb.Record(bmi=0.02), model="m" * 200_000),
                    timeout=10,
                )
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error.value.details() == (
                "request body too large for this method: Payload Too Large"
            )
            # The same process still answers.
            answer = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.02)), timeout=10)
            assert answer.model_name == BMI.name

        reply = requests.post(
            f"{stack.http_url}/stream", params={"model": "m" * 6000}, json={"bmi": 0.02}, timeout=10
        )
        assert reply.status_code == 400
        assert reply.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert reply.json()["message"].startswith(
            f'model name "{"m" * 64}"... (6,000 characters) is not valid'
        )
        assert len(reply.content) < 400
        # Between grpcio's default metadata limits (8-16 KiB): still the server's own 400.
        reply = requests.post(
            f"{stack.http_url}/stream",
            params={"model": "m" * 12_000},
            json={"bmi": 0.02},
            timeout=10,
        )
        assert (reply.status_code, reply.json()["code"]) == (400, 3)
        # Over Envoy's request-header limit: its 431, code 3 INVALID_ARGUMENT, not a retried
        # RESOURCE_EXHAUSTED or an INTERNAL.
        for length in (20_000, 200_000):
            reply = requests.post(
                f"{stack.http_url}/stream",
                params={"model": "m" * length},
                json={"bmi": 0.02},
                timeout=10,
            )
            assert reply.status_code == 431
            assert reply.json() == {
                "code": 3,
                "message": "request headers over 16 KiB (the URL included): "
                "Request Header Fields Too Large",
                "details": [],
            }
        reply = requests.post(
            f"{stack.http_url}/v2/models/{'m' * 3000}/infer",
            json={"inputs": [{"name": "bmi", "datatype": "FP64", "shape": [1], "data": [0.02]}]},
            timeout=10,
        )
        assert reply.status_code == 400
        assert reply.json()["error"].startswith(
            f'model name "{"m" * 64}"... (3,000 characters) is not valid'
        )
        # A valid name that is not served is still a 404 naming what is.
        reply = requests.post(
            f"{stack.http_url}/stream", params={"model": "nope"}, json={"bmi": 0.02}, timeout=10
        )
        assert reply.status_code == 404
        assert f'"{BMI.name}", "{RAW.name}"' in reply.json()["message"]


def test_add_of_an_artifact_named_to_climb_out_writes_nothing_anywhere(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "models"
    root.mkdir(parents=True)
    artifact = write_test_artifact(tmp_path / "evil.json", version="v1", name="../../x")
    before = sorted(tmp_path.rglob("*"))
    done = diabetes_models("add", "--repository", str(root), str(artifact))
    assert done.returncode == 1
    assert done.stderr.startswith('diabetes-models: the artifact\'s name "../../x" is not valid')
    assert sorted(tmp_path.rglob("*")) == before
    assert not (tmp_path / "a" / "x").exists()
