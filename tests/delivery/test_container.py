"""The serving image, run for real: health, gRPC, metrics, Envoy in front, shutdown.

Needs a Docker daemon and the image under test in DIABETES_IMAGE; `make container-test`
provides both (it builds the image on a local Debian base, then runs this module).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import requests

from diabetes.v1 import prediction_pb2, prediction_pb2_grpc
from server.stack.processes import Process, free_port
from tests.delivery.docker_cli import Container, daemon_answers, run_detached, run_once
from tests.delivery.envoy_files import COMPOSE_PRODUCTION, jwt_claims, load
from tests.delivery.tools import venv_tool
from tests.support.credentials import SigningKey, write_self_signed_certificate
from tests.support.processes import ROOT, spawn, wait_until

IMAGE = os.environ.get("DIABETES_IMAGE", "")
ENVOY = Path(sys.executable).parent / "envoy"

# Deselected from `make test`; `make container-test` builds the image and runs these.
pytestmark = [pytest.mark.slow, pytest.mark.container]


@pytest.fixture(autouse=True, scope="module")
def _image_and_daemon() -> None:
    assert IMAGE, "DIABETES_IMAGE not set (run `make container-test`)"
    assert daemon_answers(), "no Docker daemon answers"


# How users run it: read-only root, a tmpfs for /tmp, no capabilities, ports on loopback.
HARDENED = (
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    started = run_detached(
        IMAGE, *HARDENED, "--publish", "127.0.0.1::50051", "--publish", "127.0.0.1::9464"
    )
    try:
        started.wait_healthy()
        yield started
    finally:
        started.remove()


@pytest.fixture(scope="module")
def grpc_target(container: Container) -> str:
    return f"127.0.0.1:{container.published_port(50051)}"


def predict(target: str, bmi: float) -> prediction_pb2.PredictResponse:
    with grpc.insecure_channel(target) as channel:
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        request = prediction_pb2.PredictRequest(record=prediction_pb2.Record(bmi=bmi))
        reply: prediction_pb2.PredictResponse = stub.Predict(request, timeout=10)
        return reply


def test_image_config_runs_as_non_root_with_healthcheck_and_ports() -> None:
    config = Container(IMAGE).inspect()["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["diabetes-server"]
    assert set(config["ExposedPorts"]) == {"50051/tcp", "9464/tcp"}
    assert "server.healthcheck" in " ".join(config["Healthcheck"]["Test"])
    assert "DIABETES_HOST=0.0.0.0" in config["Env"]


def test_final_stage_has_no_compilers_pip_or_caches() -> None:
    script = (
        "import glob, importlib.util, os, shutil;"
        "tools = [t for t in ('gcc', 'cc', 'c++', 'make') if shutil.which(t)];"
        "leftovers = [p for p in ('/root/.cache', '/wheels', '/tmp/pip') if os.path.exists(p)];"
        "leftovers += glob.glob('/opt/**/*.whl', recursive=True);"
        "print('found', tools, leftovers, importlib.util.find_spec('pip') is not None)"
    )
    # As root, so that nothing is hidden from the search by permissions. The venv (what
    # serves) has no pip; the base image's own Python may keep its pip.
    out = run_once(IMAGE, "--user", "0", "--entrypoint", "python3", command=["-c", script])
    assert out.strip() == "found [] [] False"


def test_model_artifact_and_generated_code_are_baked_in() -> None:
    script = (
        "from importlib import resources as r;"
        "print((r.files('model') / 'artifacts' / 'diabetes-bmi.json').is_file(),"
        " (r.files('diabetes.v1') / 'prediction_descriptor.pb').is_file());"
        "import diabetes.v1.prediction_pb2_grpc"
    )
    out = run_once(IMAGE, *HARDENED, "--entrypoint", "python3", command=["-c", script])
    assert out.strip() == "True True"


def test_process_runs_as_uid_10001(container: Container) -> None:
    assert container.exec("id", "-u").strip() == "10001"


def test_healthcheck_reports_healthy_on_a_read_only_root(container: Container) -> None:
    assert container.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    assert container.health() == "healthy"


def test_predict_over_grpc(grpc_target: str) -> None:
    low, high = predict(grpc_target, -0.05), predict(grpc_target, 0.1)
    assert low.model_version
    assert low.interval.lower < low.prediction < low.interval.upper
    # Diabetes progression rises with BMI in the bundled model.
    assert high.prediction > low.prediction


def test_metrics_port_serves_prometheus(container: Container, grpc_target: str) -> None:
    predict(grpc_target, 0.02)
    url = f"http://127.0.0.1:{container.published_port(9464)}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = response.read().decode()
    assert "# TYPE" in body


@pytest.fixture(scope="module")
def envoy_url(grpc_target: str) -> Iterator[str]:
    """The host's Envoy, rendered for the container's published gRPC port."""
    http_port, admin_port = free_port(), free_port()
    config = Path(tempfile.mkdtemp(prefix="envoy-container-")) / "envoy.yaml"
    render = [
        sys.executable, "-m", "server.stack.envoy_config",
        "--upstream", grpc_target, "--listen-address", "127.0.0.1",
        "--http-port", str(http_port), "--admin-port", str(admin_port), "-o", str(config),
    ]  # fmt: skip
    subprocess.run(render, check=True, cwd=ROOT, timeout=60)
    envoy: Process = spawn(
        [str(ENVOY), "-c", str(config), "--concurrency", "1", "--disable-hot-restart"]
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{admin_port}/ready"), 30, "Envoy", envoy.alive)
        # Envoy's active health check must mark the container's server healthy first.
        wait_until(lambda: _stream_ok(url), 30, "Envoy to reach the container", envoy.alive)
        yield url
    finally:
        envoy.stop()


def _ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).text.strip() == "LIVE"
    except requests.RequestException:
        return False


def _stream_ok(url: str) -> bool:
    try:
        return requests.post(f"{url}/stream", json={"bmi": 0.0}, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_post_stream_through_envoy_matches_grpc(envoy_url: str, grpc_target: str) -> None:
    response = requests.post(f"{envoy_url}/stream", json={"bmi": 0.05}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["prediction"] == pytest.approx(predict(grpc_target, 0.05).prediction)
    assert body["model_version"]


def test_sigterm_stops_the_container_cleanly() -> None:
    started = run_detached(IMAGE, *HARDENED, "--env", "DIABETES_GRACE_PERIOD=2")
    try:
        started.wait_healthy()
        assert started.stop(timeout=20) == 0, started.logs()
    finally:
        started.remove()


# The project names the container stage's cleanup knows, should a run be interrupted.
COMPOSE_PROJECT = "diabetes-serving-test"
COMPOSE_PRODUCTION_PROJECT = "diabetes-serving-test-production"


@contextlib.contextmanager
def compose_up(project: str, *options: str, env: dict[str, str]) -> Iterator[None]:
    """docker-compose.yml brought up (--wait: until every service reports healthy) with the
    image under test (and ENVOY_IMAGE, if set), then taken down."""
    compose = venv_tool("docker-compose")
    base = [str(compose), "-p", project, "-f", str(ROOT / "docker-compose.yml"), *options]
    full_env = {
        **os.environ,
        "DIABETES_IMAGE": IMAGE,
        "DIABETES_HTTP_ADDRESS": "127.0.0.1",
        "DIABETES_GRPC_PORT": str(free_port()),
        "DIABETES_METRICS_PORT": str(free_port()),
        **env,
    }

    def compose_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args], env=full_env, capture_output=True, text=True, timeout=180, check=False
        )

    try:
        up = compose_run("up", "--detach", "--wait", "--wait-timeout", "120")
        assert up.returncode == 0, up.stderr + compose_run("logs").stdout
        yield
    finally:
        compose_run("down", "--volumes", "--remove-orphans", "--timeout", "30")


@pytest.fixture(scope="module")
def compose_url() -> Iterator[str]:
    """The default profile: the server and the open Envoy."""
    http_port = free_port()
    with compose_up(COMPOSE_PROJECT, env={"DIABETES_HTTP_PORT": str(http_port)}):
        yield f"http://127.0.0.1:{http_port}"


def test_compose_stack_answers_json(compose_url: str) -> None:
    response = requests.post(f"{compose_url}/stream", json={"bmi": 0.05}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["model_version"]
    model = requests.get(f"{compose_url}/model", timeout=10)
    assert model.status_code == 200, model.text


@dataclass
class ProductionCompose:
    url: str
    stats_url: str
    certificate: Path
    key: SigningKey


@pytest.fixture(scope="module")
def production_compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionCompose]:
    """The production profile with a throwaway JWKS and TLS certificate (files Envoy's uid
    101 can read)."""
    files = tmp_path_factory.mktemp("compose-production")
    key = SigningKey.generate("compose-test")
    jwks = files / "jwks.json"
    jwks.write_text(json.dumps(key.jwks()))
    cert, tls_key = write_self_signed_certificate(files)
    for path in (jwks, cert, tls_key):
        path.chmod(0o644)
    http_port, stats_port = free_port(), free_port()
    env = {
        "DIABETES_HTTP_PORT": str(http_port),
        "DIABETES_ENVOY_STATS_PORT": str(stats_port),
        "DIABETES_JWKS": str(jwks),
        "DIABETES_TLS_CERT": str(cert),
        "DIABETES_TLS_KEY": str(tls_key),
    }
    with compose_up(COMPOSE_PRODUCTION_PROJECT, "--profile", "production", env=env):
        yield ProductionCompose(
            f"https://127.0.0.1:{http_port}", f"http://127.0.0.1:{stats_port}", cert, key
        )


def test_compose_production_profile_requires_a_token_over_tls(
    production_compose: ProductionCompose,
) -> None:
    stack = production_compose
    url, verify = f"{stack.url}/stream", str(stack.certificate)
    refused = requests.post(url, json={"bmi": 0.05}, verify=verify, timeout=10)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == 16
    token = stack.key.token(**jwt_claims(load(COMPOSE_PRODUCTION)))
    reply = requests.post(
        url,
        json={"bmi": 0.05},
        headers={"authorization": f"Bearer {token}"},
        verify=verify,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["model_version"]
    stats = requests.get(f"{stack.stats_url}/stats/prometheus", timeout=10)
    assert "envoy_http_jwt_authn_denied" in stats.text
