"""Every client through the production edge (curl, the Python client and CLI, the Node,
Go and Java clients; the page has its own suite): a real Envoy with JWT and TLS in front of the
real server. The Python client (sync and asyncio), its command line and the Node, Go and
Java clients succeed with a token over TLS and fail clearly (UNAUTHENTICATED) without one; a
rate-limited caller is told it was rate limited, not that its message was too large."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from diabetes_client import (
    AsyncPredictionClient,
    PredictionClient,
    RateLimitedError,
    Tls,
    UnauthenticatedError,
    UnavailableError,
)
from tests.integration.conftest import NODE_CLIENT
from tests.support.compiled_clients import compiled_cli, library_check
from tests.support.credentials import AUDIENCE, ISSUER, SigningKey, write_self_signed_certificate
from tests.support.ops import running_envoy
from tests.support.processes import ServerProcess

pytestmark = pytest.mark.slow

RECORD = {"bmi": 0.05}


@dataclass(frozen=True)
class Edge:
    # 127.0.0.1:PORT; the certificate names localhost and 127.0.0.1.
    target: str
    ca_file: Path
    token: str


@pytest.fixture(scope="module")
def edge(
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Edge]:
    workdir = tmp_path_factory.mktemp("edge")
    jwks = workdir / "jwks.json"
    jwks.write_text(json.dumps(signing_key.jwks()))
    cert, key = write_self_signed_certificate(workdir)
    with running_envoy(
        [test_artifact_server.target],
        jwks=jwks,
        jwt_issuer=ISSUER,
        jwt_audiences=(AUDIENCE,),
        tls_cert=cert,
        tls_key=key,
    ) as envoy:
        yield Edge(f"127.0.0.1:{envoy.http_port}", cert, signing_key.token(ttl=3600))


# -- curl, as the docs show it ----------------------------------------------------------


def curl(
    edge: Edge, path: str, body: str, *headers: str, http: str = "--http2"
) -> tuple[int, dict[str, object]]:
    """POST `body` to the edge over HTTPS (trusting only the test CA); status and JSON."""
    args = ["curl", "-s", http, "--cacert", str(edge.ca_file), "-w", "\n%{http_code}"]
    for header in headers:
        args += ["-H", header]
    args += ["-X", "POST", f"https://{edge.target}{path}", "-d", body]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, (done.returncode, done.stderr)
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text)


def test_curl_with_a_token_over_tls(edge: Edge) -> None:
    status, answer = curl(
        edge, "/stream", json.dumps(RECORD), f"Authorization: Bearer {edge.token}"
    )
    assert status == 200, answer
    with PredictionClient(edge.target, token=edge.token, tls=Tls(ca_file=edge.ca_file)) as client:
        assert answer["prediction"] == client.predict(RECORD).prediction
    status, batch = curl(
        edge, "/batch", json.dumps([RECORD, RECORD]), f"Authorization: Bearer {edge.token}"
    )
    assert status == 200, batch
    assert batch["predictions"] == [answer["prediction"]] * 2


def test_curl_without_a_token_is_401_json(edge: Edge) -> None:
    # Over HTTP/1.1: Envoy refuses at the headers and resets the HTTP/2 stream whose body it
    # did not read, which curl 7.88 sometimes reports as error 92 instead of the 401.
    status, answer = curl(edge, "/stream", json.dumps(RECORD), http="--http1.1")
    assert (status, answer) == (401, {"code": 16, "message": "Jwt is missing", "details": []})


# -- the Python client ------------------------------------------------------------------


def test_python_client_with_a_token_over_tls(edge: Edge) -> None:
    with PredictionClient(edge.target, token=edge.token, tls=Tls(ca_file=edge.ca_file)) as client:
        prediction = client.predict(RECORD)
        assert prediction.model_version == "test-1"
        assert prediction.lower < prediction.prediction < prediction.upper
        batch = client.predict_columns({"bmi": [0.05, -0.02, 0.01]}, include_intervals=True)
        assert len(batch) == 3
        assert batch.predictions[0] == prediction.prediction
        assert client.info().version == "test-1"


def test_python_client_checks_the_certificate_against_the_server_name(edge: Edge) -> None:
    port = edge.target.rpartition(":")[2]
    tls = Tls(ca_file=edge.ca_file, server_name="localhost")
    with PredictionClient(f"127.0.0.1:{port}", token=edge.token, tls=tls) as client:
        assert client.predict(RECORD).model_version == "test-1"
    # A name the certificate does not carry: the handshake fails (no retries to wait for).
    wrong = Tls(ca_file=edge.ca_file, server_name="elsewhere.test")
    with (
        PredictionClient(edge.target, token=edge.token, tls=wrong, retry=None) as client,
        pytest.raises(UnavailableError),
    ):
        client.predict(RECORD)


def test_python_client_without_a_token_is_unauthenticated(edge: Edge) -> None:
    with (
        PredictionClient(edge.target, tls=Tls(ca_file=edge.ca_file)) as client,
        pytest.raises(UnauthenticatedError) as caught,
    ):
        client.predict(RECORD)
    assert str(caught.value) == "UNAUTHENTICATED: Jwt is missing"


def test_python_client_with_an_expired_token_is_unauthenticated(
    edge: Edge, signing_key: SigningKey
) -> None:
    expired = signing_key.token(ttl=-600)
    with (
        PredictionClient(edge.target, token=expired, tls=Tls(ca_file=edge.ca_file)) as client,
        pytest.raises(UnauthenticatedError, match="Jwt is expired"),
    ):
        client.predict_batch([RECORD])


def test_python_client_without_tls_cannot_reach_a_tls_edge(edge: Edge) -> None:
    with (
        PredictionClient(edge.target, token=edge.token, retry=None) as client,
        pytest.raises(UnavailableError),
    ):
        client.predict(RECORD)


def test_async_client_with_and_without_a_token(edge: Edge) -> None:
    async def calls() -> None:
        tls = Tls(ca_file=edge.ca_file)
        async with AsyncPredictionClient(edge.target, token=edge.token, tls=tls) as client:
            assert (await client.predict(RECORD)).model_version == "test-1"
            batch = await client.predict_batch([RECORD, RECORD])
            assert list(batch.predictions) == [batch.predictions[0]] * 2
        async with AsyncPredictionClient(edge.target, tls=tls) as client:
            with pytest.raises(UnauthenticatedError, match="Jwt is missing"):
                await client.info()

    asyncio.run(calls())


# -- the command line -------------------------------------------------------------------


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIABETES_")}
    return subprocess.run(
        [sys.executable, "-m", "diabetes_client", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_with_a_token_over_tls_from_the_environment(edge: Edge) -> None:
    done = run_cli(
        "predict", "--bmi", "0.05",
        DIABETES_TARGET=edge.target, DIABETES_TOKEN=edge.token,
        DIABETES_TLS_CA=str(edge.ca_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model_version"] == "test-1"


def test_cli_with_a_token_over_tls_from_flags(edge: Edge) -> None:
    port = edge.target.rpartition(":")[2]
    done = run_cli(
        "--target", f"127.0.0.1:{port}", "--tls-ca", str(edge.ca_file),
        "--tls-server-name", "localhost", "info", "--token", edge.token,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == "test-1"


def test_cli_without_a_token_says_unauthenticated(edge: Edge) -> None:
    done = run_cli(
        "predict", "--bmi", "0.05", "--target", edge.target, "--tls-ca", str(edge.ca_file)
    )
    assert done.returncode == 1
    assert f"UNAUTHENTICATED: Jwt is missing [server {edge.target}]" in done.stderr


# -- the Node client --------------------------------------------------------------------


def run_node(
    node: str, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIABETES_")}
    return subprocess.run(
        [node, "bin/diabetes-client.js", *args],
        cwd=NODE_CLIENT,
        env={**clean, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_node_client_with_a_token_over_tls_from_the_environment(node: str, edge: Edge) -> None:
    done = run_node(
        node, "predict", "--bmi", "0.05",
        DIABETES_TARGET=edge.target, DIABETES_TOKEN=edge.token,
        DIABETES_TLS_CA=str(edge.ca_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model_version"] == "test-1"


def test_node_client_with_a_token_over_tls_from_flags(node: str, edge: Edge) -> None:
    port = edge.target.rpartition(":")[2]
    done = run_node(
        node, "batch", "-", "--target", f"127.0.0.1:{port}", "--token", edge.token,
        "--tls-ca", str(edge.ca_file), "--tls-server-name", "localhost",
        stdin='[{"bmi": 0.05}, {"bmi": -0.02}]',
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    batch = json.loads(done.stdout)
    assert batch["modelVersion"] == "test-1"
    assert len(batch["predictions"]) == 2


def test_node_client_without_a_token_says_unauthenticated(node: str, edge: Edge) -> None:
    done = run_node(node, "info", "--target", edge.target, DIABETES_TLS_CA=str(edge.ca_file))
    assert done.returncode == 1
    assert "UNAUTHENTICATED: Jwt is missing" in done.stderr


# -- the Go and Java clients ------------------------------------------------------------


def test_compiled_library_with_a_token_over_tls(language: str, edge: Edge, tmp_path: Path) -> None:
    done, found = library_check(
        language, tmp_path, edge.target, DIABETES_TOKEN=edge.token,
        DIABETES_TLS_CA=str(edge.ca_file),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with PredictionClient(edge.target, token=edge.token, tls=Tls(ca_file=edge.ca_file)) as client:
        assert found["predict"] == client.predict({"bmi": 0.0617}).prediction
    assert found["model_version"] == "test-1"


def test_compiled_cli_with_a_token_over_tls_from_the_environment(language: str, edge: Edge) -> None:
    env = {
        "DIABETES_TARGET": edge.target,
        "DIABETES_TOKEN": edge.token,
        "DIABETES_TLS_CA": str(edge.ca_file),
    }
    done = compiled_cli(language, "predict", "--bmi", "0.05", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == run_cli("predict", "--bmi", "0.05", **env).stdout
    assert json.loads(done.stdout)["model_version"] == "test-1"


def test_compiled_cli_with_a_token_over_tls_from_flags(language: str, edge: Edge) -> None:
    port = edge.target.rpartition(":")[2]
    done = compiled_cli(
        language, "--target", f"127.0.0.1:{port}", "--tls-ca", str(edge.ca_file),
        "--tls-server-name", "localhost", "info", "--token", edge.token,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == "test-1"


def test_compiled_cli_without_a_token_says_unauthenticated(language: str, edge: Edge) -> None:
    done = compiled_cli(
        language, "predict", "--bmi", "0.05", "--target", edge.target, "--tls-ca", str(edge.ca_file)
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"diabetes-client: error: UNAUTHENTICATED: Jwt is missing [server {edge.target}]\n"
    )


def test_compiled_cli_with_the_wrong_server_name_fails_the_handshake(
    language: str, edge: Edge
) -> None:
    done = compiled_cli(
        language, "health", "--target", edge.target, "--tls-ca", str(edge.ca_file),
        "--tls-server-name", "elsewhere.test", "--token", edge.token, "--timeout", "10",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("diabetes-client: error: UNAVAILABLE: ")


# -- rate limiting ------------------------------------------------------------------------


def test_a_rate_limited_caller_is_told_so(test_artifact_server: ServerProcess) -> None:
    """Envoy's local rate limiter (1 call/s, a burst of 2): the client raises
    RateLimitedError, not MessageTooLargeError, with Envoy's words (retries off: with them,
    gRPC retries RESOURCE_EXHAUSTED with back-off, which a rate of 1/s lets through)."""

    def predict_until_refused(client: PredictionClient) -> None:
        for _ in range(20):
            client.predict(RECORD)

    with (
        running_envoy([test_artifact_server.target], rate_limit_rps=1, rate_limit_burst=2) as envoy,
        PredictionClient(f"127.0.0.1:{envoy.http_port}", retry=None) as client,
        pytest.raises(RateLimitedError) as caught,
    ):
        predict_until_refused(client)
    print(f"[rate limit] {caught.value}")
    assert "rate limited" in caught.value.message
