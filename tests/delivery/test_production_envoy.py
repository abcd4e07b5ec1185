"""The production Envoy configs that Kubernetes and compose ship, run for real on loopback
in front of a real server: no token or a bad one gets 401 JSON, a good one the prediction,
each client has its own rate limit, and Prometheus gets Envoy's stats."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
import requests
import yaml

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.healthcheck import check
from server.processes import free_port
from server.stack.stack import envoy_command, healthy_upstreams
from tests.delivery.envoy_files import (
    BASE,
    COMPOSE_PRODUCTION,
    K8S_PRODUCTION,
    Config,
    connection_manager,
    jwt_claims,
    load,
    on_loopback,
    relocate,
)
from tests.support.credentials import SigningKey
from tests.support.ops import Envoy
from tests.support.processes import ServerProcess, spawn, wait_until

RECORD = {"bmi": 0.05}


@dataclass
class ProductionEnvoy:
    envoy: Envoy
    stats_port: int
    # The generated config as shipped (before it was moved onto loopback).
    shipped: Config

    @property
    def url(self) -> str:
        return self.envoy.url

    def claims(self) -> dict[str, Any]:
        return jwt_claims(self.shipped)


@pytest.fixture(scope="module", params=[K8S_PRODUCTION, COMPOSE_PRODUCTION], ids=["k8s", "compose"])
def envoy(
    request: pytest.FixtureRequest,
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProductionEnvoy]:
    """Envoy running the generated production config; its JWKS holds the test key's public
    half (the placeholder's private half exists nowhere)."""
    workdir = tmp_path_factory.mktemp("envoy")
    (workdir / "jwks.json").write_text(json.dumps(signing_key.jwks()))
    shipped = load(request.param)
    http_port, admin_port, stats_port = free_port(), free_port(), free_port()
    config = on_loopback(
        relocate(shipped, {"/etc/envoy/": BASE.parent, "/etc/jwks/": workdir}),
        upstream_port=test_artifact_server.port,
        http_port=http_port,
        admin_port=admin_port,
        stats_port=stats_port,
    )
    path = workdir / "envoy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = spawn(envoy_command(path))
    running = Envoy(process, http_port, admin_port)
    try:
        wait_until(
            lambda: healthy_upstreams(running.admin_url) == 1,
            30,
            "Envoy with a healthy upstream",
            process.alive,
        )
        yield ProductionEnvoy(running, stats_port, shipped)
    finally:
        process.stop()


def _post(url: str, token: str | None = None, **headers: str) -> requests.Response:
    if token:
        headers["authorization"] = f"Bearer {token}"
    return requests.post(f"{url}/stream", json=RECORD, headers=headers, timeout=10)


def _assert_401_json(reply: requests.Response) -> None:
    assert reply.status_code == 401, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["code"] == 16  # UNAUTHENTICATED
    assert body["message"]


def test_missing_or_bad_token_gets_401_json(
    envoy: ProductionEnvoy, signing_key: SigningKey
) -> None:
    claims = envoy.claims()
    _assert_401_json(_post(envoy.url))
    _assert_401_json(requests.get(f"{envoy.url}/model", timeout=10))
    for token in (
        "not-a-jwt",
        SigningKey.generate(signing_key.kid).token(**claims),  # right kid, another key
        signing_key.token(iss="https://elsewhere.test", aud=claims["aud"]),
        signing_key.token(ttl=-600, **claims),  # expired
    ):
        _assert_401_json(_post(envoy.url, token))


def test_good_token_gets_the_servers_prediction(
    envoy: ProductionEnvoy, signing_key: SigningKey, test_artifact_server: ServerProcess
) -> None:
    reply = _post(envoy.url, signing_key.token(**envoy.claims()))
    assert reply.status_code == 200, reply.text
    with grpc.insecure_channel(test_artifact_server.target) as channel:
        direct = pb_grpc.PredictionServiceStub(channel).Predict(
            pb.PredictRequest(record=pb.Record(**RECORD)), timeout=10
        )
    assert reply.json()["prediction"] == pytest.approx(direct.prediction)
    assert reply.json()["model_version"] == direct.model_version == "test-1"


def test_try_it_page_and_grpc_health_need_no_token(envoy: ProductionEnvoy) -> None:
    assert requests.get(f"{envoy.url}/", timeout=10).status_code == 200
    # Load balancers' gRPC health checks through Envoy.
    assert check(envoy.url.removeprefix("http://"), timeout=5)


def _until_rate_limited(url: str, client: str, limit: int = 2000) -> requests.Response | None:
    """Calls (401s count too: the limit comes first) from one client address, back to back,
    until one is refused; None if none was within `limit` calls."""
    with requests.Session() as session:
        for _ in range(limit):
            reply = session.post(
                f"{url}/stream", json=RECORD, headers={"x-forwarded-for": client}, timeout=10
            )
            if reply.status_code == 429:
                return reply
    return None


def test_stats_listener_serves_prometheus_only(envoy: ProductionEnvoy) -> None:
    stats = f"http://127.0.0.1:{envoy.stats_port}"
    _post(envoy.url)
    body = requests.get(f"{stats}/stats/prometheus", timeout=10).text
    assert "envoy_http_jwt_authn_denied" in body
    assert "envoy_cluster_membership_healthy" in body
    assert requests.get(f"{stats}/clusters", timeout=10).status_code == 404


def test_each_client_has_its_own_rate_limit(envoy: ProductionEnvoy) -> None:
    behind_ingress = connection_manager(envoy.shipped).get("xff_num_trusted_hops") == 1
    # The bucket refills 50 tokens each second, so a refill can land between the 429 and the
    # next call; a shared bucket shows as a 429 on at least one of a few tries, never none.
    for _ in range(3):
        limited = _until_rate_limited(envoy.url, "203.0.113.7")
        assert limited is not None, "no 429 from the production rate limit"
        assert limited.json()["code"] == 8  # RESOURCE_EXHAUSTED
        assert limited.headers["retry-after"] == "1"
        another_client = _post(envoy.url, **{"x-forwarded-for": "203.0.113.8"})
        if behind_ingress or another_client.status_code == 429:
            break
    if behind_ingress:
        # Behind the Ingress, the client is the address it appends to X-Forwarded-For.
        _assert_401_json(another_client)
    else:
        # Facing callers directly, X-Forwarded-For is not believed: loopback is one client.
        assert another_client.status_code == 429
