"""Exposing the service publicly: JWT authentication, TLS termination, a per-client rate
limit and request size caps at Envoy, all rendered by `server.stack.envoy_config` and proven
against a real Envoy; admin interfaces only on loopback; no pickle anywhere."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import requests
import yaml

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.stack.envoy_config import EnvoyOptions, render
from server.stack.processes import free_port
from tests.support.credentials import AUDIENCE, ISSUER, SigningKey, write_self_signed_certificate
from tests.support.ops import running_envoy
from tests.support.processes import ROOT, ServerProcess, running_server

RECORD = {"bmi": 0.05}
# What the wheel and the image hold, and the tools that build artifacts.
SHIPPED_PACKAGES = ("model", "server", "client/src", "tools")


@pytest.fixture(scope="module")
def jwt_envoy(
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps(signing_key.jwks()))
    with running_envoy(
        [test_artifact_server.target], jwks=jwks, jwt_issuer=ISSUER, jwt_audiences=(AUDIENCE,)
    ) as envoy:
        yield envoy.url


def _assert_unauthenticated(reply: requests.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["code"] == 16
    assert body["details"] == []
    assert body["message"]


def _post(url: str, token: str | None = None) -> requests.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/stream", json=RECORD, headers=headers, timeout=10)


class TestJwt:
    def test_missing_token_gets_401_json(self, jwt_envoy: str) -> None:
        _assert_unauthenticated(_post(jwt_envoy))
        _assert_unauthenticated(requests.get(f"{jwt_envoy}/model", timeout=10))

    def test_bad_tokens_get_401_json(self, jwt_envoy: str, signing_key: SigningKey) -> None:
        stranger = SigningKey.generate(signing_key.kid)
        for token in (
            "not-a-jwt",
            stranger.token(),  # right kid, wrong key
            signing_key.token(ttl=-600),  # expired (beyond Envoy's 60 s clock skew)
            signing_key.token(iss="https://elsewhere.test"),
            signing_key.token()[:-4] + "AAAA",  # tampered signature
        ):
            _assert_unauthenticated(_post(jwt_envoy, token))

    def test_token_for_another_audience_is_forbidden(
        self, jwt_envoy: str, signing_key: SigningKey
    ) -> None:
        reply = _post(jwt_envoy, signing_key.token(aud="someone-else"))
        assert reply.status_code == 403
        assert reply.json() == {
            "code": 7,
            "message": "Audiences in Jwt are not allowed",
            "details": [],
        }

    def test_good_token_passes(self, jwt_envoy: str, signing_key: SigningKey) -> None:
        reply = _post(jwt_envoy, signing_key.token())
        assert reply.status_code == 200, reply.text
        assert reply.json()["model_version"] == "test-1"

    def test_native_grpc_needs_the_token_too(self, jwt_envoy: str, signing_key: SigningKey) -> None:
        request = pb.PredictRequest(record=pb.Record(bmi=0.05))
        with grpc.insecure_channel(jwt_envoy.removeprefix("http://")) as channel:
            predict = pb_grpc.PredictionServiceStub(channel).Predict
            with pytest.raises(grpc.RpcError) as caught:
                predict(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            metadata = [("authorization", f"Bearer {signing_key.token()}")]
            assert predict(request, metadata=metadata, timeout=10).model_version == "test-1"

    def test_try_it_page_stays_open(self, jwt_envoy: str) -> None:
        assert requests.get(f"{jwt_envoy}/", timeout=10).status_code == 200


def test_tls_termination_for_json_and_native_grpc(
    test_artifact_server: ServerProcess, tmp_path: Path
) -> None:
    cert, key = write_self_signed_certificate(tmp_path)
    with running_envoy([test_artifact_server.target], tls_cert=cert, tls_key=key) as envoy:
        reply = requests.post(f"{envoy.url}/stream", json=RECORD, verify=str(cert), timeout=10)
        assert reply.status_code == 200
        assert reply.json()["model_version"] == "test-1"
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(f"{envoy.url}/stream", json=RECORD, timeout=10)  # untrusted CA
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(f"http://127.0.0.1:{envoy.http_port}/stream", json=RECORD, timeout=10)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        with grpc.secure_channel(f"localhost:{envoy.http_port}", credentials) as channel:
            reply_pb = pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10
            )
        assert reply_pb.model_version == "test-1"


def _post_from(source: str, port: int) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST", "/stream", body=json.dumps(RECORD), headers={"content-type": "application/json"}
        )
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_per_client_rate_limit_gives_429_json(test_artifact_server: ServerProcess) -> None:
    with running_envoy(
        [test_artifact_server.target], rate_limit_rps=1, rate_limit_burst=5
    ) as envoy:
        statuses = [_post_from("127.0.0.1", envoy.http_port) for _ in range(20)]
        codes = [status for status, _ in statuses]
        print(f"[rate limit] 20 calls from one client, burst 5, 1/s: {codes}")
        assert codes[:5] == [200] * 5
        assert set(codes) == {200, 429}
        assert codes.count(429) >= 8
        limited = next(body for status, body in statuses if status == 429)
        assert limited["code"] == 8
        assert "rate limited" in str(limited["message"])
        # Another client address has its own bucket.
        assert _post_from("127.0.0.2", envoy.http_port)[0] == 200
        # Native gRPC callers over their limit get RESOURCE_EXHAUSTED.
        with (
            grpc.insecure_channel(f"127.0.0.1:{envoy.http_port}") as channel,
            pytest.raises(grpc.RpcError) as caught,
        ):
            pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10
            )
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_request_body_cap_gives_413_json(test_artifact_server: ServerProcess) -> None:
    with running_envoy([test_artifact_server.target], max_request_bytes=64 * 1024) as envoy:
        small = requests.post(f"{envoy.url}/batch", json=[RECORD] * 100, timeout=10)
        assert small.status_code == 200
        large = requests.post(f"{envoy.url}/batch", json=[RECORD] * 10_000, timeout=10)
        assert large.status_code == 413
        assert large.json()["code"] == 8


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, port_hex = local.partition(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_admin_interfaces_listen_on_loopback_only(test_artifact_server: ServerProcess) -> None:
    for options in (EnvoyOptions(), EnvoyOptions(listen_address="0.0.0.0", rate_limit_rps=5)):
        admin = render(options)["admin"]["address"]["socket_address"]
        assert admin["address"] == "127.0.0.1"
    shipped = yaml.safe_load((ROOT / "envoy.yaml").read_text())
    assert shipped["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    with running_envoy([test_artifact_server.target]) as envoy:
        assert _listening_addresses(envoy.admin_port) == {"0100007F"}  # 127.0.0.1
    # The server's only other port is Prometheus, bound like --host (loopback by default).
    metrics_port = free_port()
    with running_server(
        "--metrics-port", str(metrics_port), model=server_model(test_artifact_server)
    ):
        assert _listening_addresses(metrics_port) == {"0100007F"}


def server_model(server: ServerProcess) -> Path:
    args = server.popen.args
    assert isinstance(args, list)
    return Path(args[args.index("--model") + 1])


def test_no_pickle_anywhere() -> None:
    """Models are JSON artifacts; nothing the project ships or runs loads or writes a pickle."""
    pattern = re.compile(r"\b(import pickle|from pickle|cPickle|dill|joblib|torch\.load)\b")
    offenders = [
        str(path.relative_to(ROOT))
        for package in SHIPPED_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if pattern.search(path.read_text(errors="replace"))
    ]
    assert offenders == []
    for artifact in (ROOT / "model" / "artifacts").glob("*"):
        assert artifact.suffix == ".json", artifact
