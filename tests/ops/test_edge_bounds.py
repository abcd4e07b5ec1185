"""What Envoy bounds before a server does any work, through a real Envoy: the body cap of the
routes that take no bulk, a server's refusal (RESOURCE_EXHAUSTED) retried on another host and
answered 503 with Retry-After when no host can take it, and rate limits per caller (the verified
token's subject, else the address) weighted by body size."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
import requests
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.contract import SERVICE_NAME
from server.errors import RetryLaterError
from tests.support.credentials import AUDIENCE, ISSUER, SigningKey
from tests.support.ops import Envoy, running_envoy
from tests.support.processes import ServerProcess

RECORD = {"bmi": 0.05}
CAP = 16 * 1024  # envoy.yaml's body cap on the routes that take no bulk
TOO_LARGE_JSON = {"code": 8, "message": "request body too large: Payload Too Large", "details": []}
TOO_LARGE_GRPC = "request body too large for this method: Payload Too Large"
REFUSAL = "over this server's memory budget (the test's refusing server)"


def _stub(envoy: Envoy) -> pb_grpc.PredictionServiceStub:
    return pb_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{envoy.http_port}"))


def _upstream_requests(envoy: Envoy) -> int:
    """Requests Envoy sent to the servers (its own health checks are not counted)."""
    reply = requests.get(
        f"{envoy.admin_url}/stats?filter=^cluster\\.diabetes_grpc\\.upstream_rq_total$", timeout=10
    )
    return int(reply.text.split(": ")[1])


@pytest.fixture(scope="module")
def open_envoy(test_artifact_server: ServerProcess) -> Iterator[Envoy]:
    with running_envoy([test_artifact_server.target]) as envoy:
        yield envoy


def test_routes_that_take_no_bulk_refuse_a_body_over_their_cap_before_a_server_sees_it(
    open_envoy: Envoy,
) -> None:
    url, padding = open_envoy.url, "x" * (CAP + 1)
    before = _upstream_requests(open_envoy)
    stream = requests.post(f"{url}/stream", json={"bmi": 0.05, "pad": padding}, timeout=10)
    assert (stream.status_code, stream.json()) == (413, TOO_LARGE_JSON)
    ready = requests.get(f"{url}/v2/health/ready", data=padding.encode(), timeout=10)
    assert ready.status_code == 413
    assert ready.json() == {"error": TOO_LARGE_JSON["message"]}
    with pytest.raises(grpc.RpcError) as caught:
        _stub(open_envoy).Predict(
            pb.PredictRequest(record=pb.Record(bmi=0.05), model=padding), timeout=10
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == TOO_LARGE_GRPC
    assert _upstream_requests(open_envoy) == before
    # Under the cap, and on the bulk routes, bodies pass as before.
    assert requests.post(f"{url}/stream", json=RECORD, timeout=10).status_code == 200
    batch = requests.post(f"{url}/batch", json=[RECORD] * 10_000, timeout=10)
    assert batch.status_code == 200, batch.text
    assert len(batch.json()["predictions"]) == 10_000


class _Refuser(grpc.GenericRpcHandler):  # type: ignore[misc]
    """Answers every call RESOURCE_EXHAUSTED before reading further, with the retry
    metadata a server over its memory budget sends (`RetryLaterError`); counts them."""

    def __init__(self) -> None:
        self.refused = 0
        self._lock = threading.Lock()

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        return grpc.unary_unary_rpc_method_handler(self._refuse)

    def _refuse(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.refused += 1
        context.set_trailing_metadata(RetryLaterError(REFUSAL).trailing_metadata())
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, REFUSAL)
        raise AssertionError("abort returns only by raising")


@contextlib.contextmanager
def _refusing_server() -> Iterator[tuple[str, _Refuser]]:
    """A grpcio server that is healthy (Envoy's health checks pass) and refuses all else."""
    refuser = _Refuser()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    checks = health.HealthServicer()
    checks.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    server.add_generic_rpc_handlers((refuser,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", refuser
    finally:
        server.stop(grace=None)


def test_a_refusal_is_retried_on_another_host(test_artifact_server: ServerProcess) -> None:
    with (
        _refusing_server() as (refusing, refuser),
        running_envoy([refusing, test_artifact_server.target]) as envoy,
    ):
        stub = _stub(envoy)
        predictions = [
            stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10)
            for _ in range(20)
        ]
        replies = [requests.post(f"{envoy.url}/stream", json=RECORD, timeout=10) for _ in range(20)]
        batches = [
            requests.post(f"{envoy.url}/batch", json=[RECORD] * 100, timeout=10) for _ in range(20)
        ]
    print(f"[retry] the refusing host refused {refuser.refused} of 60 calls; all were retried")
    assert {p.model_version for p in predictions} == {"test-1"}
    assert [r.status_code for r in replies + batches] == [200] * 40
    assert refuser.refused > 0  # the refusing host was picked, and its refusals retried


def test_when_no_host_can_take_a_call_json_gets_503_with_retry_after() -> None:
    with (
        _refusing_server() as (first, refused_by_first),
        _refusing_server() as (second, refused_by_second),
        running_envoy([first, second]) as envoy,
    ):
        record = requests.post(f"{envoy.url}/stream", json=RECORD, timeout=10)
        batch = requests.post(f"{envoy.url}/batch", json=[RECORD], timeout=10)
        infer = requests.post(
            f"{envoy.url}/v2/models/diabetes-bmi/infer",
            json={"inputs": [{"name": "bmi", "shape": [1], "datatype": "FP64", "data": [0.05]}]},
            timeout=10,
        )
        with pytest.raises(grpc.RpcError) as caught:
            _stub(envoy).Predict(pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10)
    for reply in (record, batch, infer):
        assert reply.status_code == 503, reply.text
        assert reply.headers["retry-after"] == "1"
        assert reply.headers["content-type"] == "application/json"
    assert record.json() == batch.json() == {"code": 8, "message": REFUSAL, "details": []}
    assert infer.json() == {"error": REFUSAL}
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert caught.value.details() == REFUSAL
    # Each of the 4 calls was tried 3 times (2 retries) before its refusal was answered.
    assert refused_by_first.refused + refused_by_second.refused == 12


@pytest.fixture(scope="module")
def limited_envoy(
    test_artifact_server: ServerProcess,
    signing_key: SigningKey,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Envoy]:
    """JWT, 1 request/s per caller with room for 1,000 at once (so only the byte bucket
    refuses here), and 64 KiB of body per caller, refilled by 1 byte/s."""
    jwks = tmp_path_factory.mktemp("jwks") / "jwks.json"
    jwks.write_text(json.dumps(signing_key.jwks()))
    with running_envoy(
        [test_artifact_server.target],
        jwks=jwks,
        jwt_issuer=ISSUER,
        jwt_audiences=(AUDIENCE,),
        rate_limit_rps=1,
        rate_limit_burst=1000,
        rate_limit_bytes_per_second=1,
        rate_limit_bytes_burst=64 * 1024,
        max_request_bytes=64 * 1024,
    ) as envoy:
        yield envoy


def _batch(envoy: Envoy, token: str, body: bytes) -> requests.Response:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return requests.post(f"{envoy.url}/batch", data=body, headers=headers, timeout=10)


def _records(count: int) -> bytes:
    return json.dumps([RECORD] * count).encode()


def test_each_subject_has_its_own_buckets_and_a_large_body_costs_more(
    limited_envoy: Envoy, signing_key: SigningKey
) -> None:
    large, small = _records(2_000), _records(1)  # 26 KiB and 15 bytes
    heavy, light = signing_key.token(sub="heavy-caller"), signing_key.token(sub="light-caller")
    heavy_replies = [_batch(limited_envoy, heavy, large) for _ in range(3)]
    heavy_codes = [reply.status_code for reply in heavy_replies]
    light_codes = [_batch(limited_envoy, light, small).status_code for _ in range(30)]
    print(f"[rate limit] 3 x 26 KiB: {heavy_codes}; 30 x 15 bytes, same address: {light_codes}")
    # 64 KiB of body: two large calls fit, the third is refused; thirty small ones all pass,
    # from the same address (each subject has its own buckets).
    assert heavy_codes == [200, 200, 429]
    assert light_codes == [200] * 30
    limited = heavy_replies[-1]
    assert limited.json() == {
        "code": 8,
        "message": "rate limited: local_rate_limited",
        "details": [],
    }
    assert limited.headers["retry-after"] == "1"
    # What is left of the heavy caller's bucket (about 12 KiB) still takes a small call.
    assert _batch(limited_envoy, heavy, small).status_code == 200


def test_the_token_free_health_route_is_limited_by_address(limited_envoy: Envoy) -> None:
    """Without a subject, the address is the caller: its requests bucket (1,000 at once)."""
    with grpc.insecure_channel(f"127.0.0.1:{limited_envoy.http_port}") as channel:
        check = health_pb2_grpc.HealthStub(channel).Check
        statuses: list[Any] = []
        for _ in range(1100):
            try:
                check(health_pb2.HealthCheckRequest(), timeout=10)
                statuses.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                statuses.append(error.code())
                break
    assert statuses[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(statuses) > 1000
