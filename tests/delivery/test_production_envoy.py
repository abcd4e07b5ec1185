"""The production Envoy configs that Kubernetes and compose ship, run for real on loopback
in front of a real server: no token or a bad one gets 401 JSON, a good one the prediction,
each client has its own rate limit, the token-free health route carries no large body, and
Prometheus gets Envoy's stats. Compose's config terminates TLS (the test's self-signed
certificate stands in for the operator's)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.healthcheck import check
from server.stack.processes import free_port
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
from tests.support.credentials import SigningKey, write_self_signed_certificate
from tests.support.ops import Envoy
from tests.support.processes import ServerProcess, json_lines, spawn, wait_until

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

    def health_ok(self) -> bool:
        """gRPC health's Check through Envoy, over TLS when the config terminates it."""
        target = f"127.0.0.1:{self.envoy.http_port}"
        if self.envoy.scheme == "http":
            return check(target, timeout=5)
        ca = Path(os.environ["REQUESTS_CA_BUNDLE"]).read_bytes()
        with grpc.secure_channel(target, grpc.ssl_channel_credentials(ca)) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=5
            )
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@contextlib.contextmanager
def _production_envoy(
    config_path: Path,
    server: ServerProcess,
    signing_key: SigningKey,
    workdir: Path,
    refill_seconds: float | None = None,
) -> Iterator[ProductionEnvoy]:
    """Envoy running a generated production config on loopback; its JWKS holds the test key's
    public half (the placeholder's private half exists nowhere). `refill_seconds` stretches
    every rate-limit bucket's refill to that interval (same sizes), so that a bucket holds
    exactly its size whatever the speed of the caller."""
    (workdir / "jwks.json").write_text(json.dumps(signing_key.jwks()))
    shipped = load(config_path)
    cert, _ = write_self_signed_certificate(workdir)
    http_port, admin_port, stats_port = free_port(), free_port(), free_port()
    config = on_loopback(
        relocate(
            shipped,
            {"/etc/envoy/tls/": workdir, "/etc/envoy/": BASE.parent, "/etc/jwks/": workdir},
        ),
        upstream_port=server.port,
        http_port=http_port,
        admin_port=admin_port,
        stats_port=stats_port,
    )
    if refill_seconds is not None:
        _stretch_refills(config, f"{refill_seconds:g}s")
    path = workdir / "envoy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    process = spawn(envoy_command(path))
    tls = "transport_socket" in config["static_resources"]["listeners"][0]["filter_chains"][0]
    running = Envoy(process, http_port, admin_port, "https" if tls else "http")
    # requests trusts the test certificate (the one Envoy serves when it terminates TLS).
    patch = pytest.MonkeyPatch()
    patch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    try:
        wait_until(
            lambda: healthy_upstreams(running.admin_url) == 1,
            30,
            "Envoy with a healthy upstream",
            process.alive,
        )
        yield ProductionEnvoy(running, stats_port, shipped)
    finally:
        patch.undo()
        process.stop()


def _stretch_refills(node: Any, interval: str) -> None:
    """Every token bucket in the config refills once per `interval` instead."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "token_bucket" and isinstance(value, dict):
                value["fill_interval"] = interval
            else:
                _stretch_refills(value, interval)
    elif isinstance(node, list):
        for item in node:
            _stretch_refills(item, interval)


@pytest.fixture(scope="module", params=[K8S_PRODUCTION, COMPOSE_PRODUCTION], ids=["k8s", "compose"])
def envoy(
    request: pytest.FixtureRequest,
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ProductionEnvoy]:
    with _production_envoy(
        request.param, test_artifact_server, signing_key, tmp_path_factory.mktemp("envoy")
    ) as running:
        yield running


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
    assert envoy.health_ok()


def _until_rate_limited(
    url: str, client: str, token: str | None = None, limit: int = 2000
) -> requests.Response | None:
    """Calls (401s count too: the address's limit comes before the token) from one client
    address, back to back, until one is refused; None if none was within `limit` calls."""
    headers = {"x-forwarded-for": client}
    if token:
        headers["authorization"] = f"Bearer {token}"
    with requests.Session() as session:
        for _ in range(limit):
            reply = session.post(f"{url}/stream", json=RECORD, headers=headers, timeout=10)
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


def _channel(envoy: ProductionEnvoy) -> grpc.Channel:
    target = f"127.0.0.1:{envoy.envoy.http_port}"
    if envoy.envoy.scheme == "http":
        return grpc.insecure_channel(target)
    ca = Path(os.environ["REQUESTS_CA_BUNDLE"]).read_bytes()
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(ca))


def _upstream_requests(envoy: ProductionEnvoy) -> int:
    """Requests Envoy sent to the server (its own health checks are not counted)."""
    reply = requests.get(
        f"{envoy.envoy.admin_url}/stats?filter=^cluster\\.diabetes_grpc\\.upstream_rq_total$",
        timeout=10,
    )
    return int(reply.text.split(": ")[1])


def test_the_token_free_health_route_refuses_a_body_over_its_cap_at_envoy(
    envoy: ProductionEnvoy,
) -> None:
    """The one route open without a token cannot carry megabytes to a server: Envoy holds at
    most 16 KiB of its body and answers INVALID_ARGUMENT without forwarding it."""
    before = _upstream_requests(envoy)
    with _channel(envoy) as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        with pytest.raises(grpc.RpcError) as caught:
            check(health_pb2.HealthCheckRequest(service="x" * 1_000_000), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "request body too large for this method: Payload Too Large"
    assert _upstream_requests(envoy) == before  # the server never saw it
    assert envoy.health_ok()  # a normal check still answers SERVING, through the server
    assert _upstream_requests(envoy) == before + 1


def test_exemptions_are_by_method_and_tokens_only_from_the_header(
    envoy: ProductionEnvoy, signing_key: SigningKey
) -> None:
    claims = envoy.claims()
    # The page is GET only: any other method on "/" needs a token, so its body is never read.
    _assert_401_json(requests.post(f"{envoy.url}/", data=b"x" * 1_000_000, timeout=10))
    # A good token anywhere but the Authorization header counts for nothing.
    token = signing_key.token(**claims)
    _assert_401_json(requests.get(f"{envoy.url}/model?access_token={token}", timeout=10))
    assert requests.get(f"{envoy.url}/", timeout=10).status_code == 200


def test_token_without_expiry_is_refused(envoy: ProductionEnvoy, signing_key: SigningKey) -> None:
    token = signing_key.token(**envoy.claims(), exp=None)  # no `exp` claim at all
    _assert_401_json(_post(envoy.url, token))


def test_reflection_and_health_watch_are_not_public(
    envoy: ProductionEnvoy, signing_key: SigningKey
) -> None:
    metadata = (("authorization", f"Bearer {signing_key.token(**envoy.claims())}"),)
    with _channel(envoy) as channel:
        watch = channel.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        reflection = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/Info")
        for call in (
            lambda: next(iter(watch(health_pb2.HealthCheckRequest(), metadata=metadata))),
            lambda: next(iter(reflection(iter([b""]), metadata=metadata, timeout=5))),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                call()
            assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_headers_with_underscores_and_escaped_slashes_are_refused(
    envoy: ProductionEnvoy, signing_key: SigningKey
) -> None:
    token = signing_key.token(**envoy.claims())
    assert _post(envoy.url, token, x_forwarded_for="203.0.113.9").status_code == 400
    escaped = requests.get(
        f"{envoy.url}/model%2Fx", headers={"authorization": f"Bearer {token}"}, timeout=10
    )
    assert escaped.status_code == 400


def test_the_callers_subject_is_in_both_access_logs(
    envoy: ProductionEnvoy, signing_key: SigningKey, test_artifact_server: ServerProcess
) -> None:
    subject = "subject-for-the-access-logs"
    request_id = f"req-subject-{envoy.envoy.http_port}"
    reply = _post(
        envoy.url,
        signing_key.token(sub=subject, **envoy.claims()),
        **{"x-request-id": request_id, "x-jwt-subject": "forged"},
    )
    assert reply.status_code == 200, reply.text

    def logged(lines: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((x for x in lines if x.get("request_id") == request_id), None)

    wait_until(lambda: logged(json_lines(envoy.envoy.process.log_text())) is not None, 10, "log")
    wait_until(lambda: logged(test_artifact_server.json_logs()) is not None, 10, "server log")
    assert logged(json_lines(envoy.envoy.process.log_text()))["subject"] == subject  # type: ignore[index]
    # The caller's own x-jwt-subject header never reaches the server.
    assert logged(test_artifact_server.json_logs())["subject"] == subject  # type: ignore[index]


# Its own Envoy, whose buckets refill once an hour: a bucket then holds exactly its size, so
# the 429 comes however slowly this machine sends (the shipped refill rate would outpace a
# loaded machine's caller).
@pytest.mark.parametrize(
    "config_path", [K8S_PRODUCTION, COMPOSE_PRODUCTION], ids=["k8s", "compose"]
)
def test_each_caller_has_its_own_rate_limit(
    config_path: Path,
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path: Path,
) -> None:
    with _production_envoy(
        config_path, test_artifact_server, signing_key, tmp_path, refill_seconds=3600
    ) as envoy:
        _assert_each_caller_has_its_own_rate_limit(envoy, signing_key)


def _assert_each_caller_has_its_own_rate_limit(
    envoy: ProductionEnvoy, signing_key: SigningKey
) -> None:
    claims = envoy.claims()
    limited = _until_rate_limited(
        envoy.url, "203.0.113.7", signing_key.token(sub="first-caller", **claims)
    )
    assert limited is not None, "no 429 from the production rate limit"
    assert limited.json() == {
        "code": 8,
        "message": "rate limited: local_rate_limited",
        "details": [],
    }
    assert limited.headers["retry-after"] == "1"
    # Another subject from the same address has its own bucket.
    second = signing_key.token(sub="second-caller", **claims)
    assert _post(envoy.url, second, **{"x-forwarded-for": "203.0.113.7"}).status_code == 200
    if connection_manager(envoy.shipped).get("xff_num_trusted_hops") == 1:
        # Behind the Ingress, a caller without a token is the address it appends to
        # X-Forwarded-For: one address runs out, another does not.
        assert _until_rate_limited(envoy.url, "203.0.113.8") is not None
        _assert_401_json(_post(envoy.url, **{"x-forwarded-for": "203.0.113.9"}))
