"""Bad input beyond the JSON suite: random and garbled protobuf bytes straight to the gRPC
port, and hypothesis-generated JSON bodies through Envoy. Never a 5xx or INTERNAL, never a
crash, nothing logged as an unhandled exception."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import grpc
import pytest
import requests
from google.api import httpbody_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diabetes.v1 import json_pb2 as json_pb
from diabetes.v1 import prediction_pb2 as pb
from server.healthcheck import check
from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.stack import log_text, running_stack

METHODS = (
    "PredictionService/Predict",
    "PredictionService/PredictBatch",
    "PredictionService/GetModelInfo",
    "JsonPredictionService/PredictJsonRecords",
    "JsonPredictionService/PredictJsonColumns",
)
STREAMING = {"PredictBatch", "PredictJsonRecords", "PredictJsonColumns"}
# Codes a caller may get for nonsense; INTERNAL or UNKNOWN would be a server bug.
# Garbled bytes can still parse into a message that names a model or version: NOT_FOUND
# (naming what exists) is the right answer to those.
ACCEPTABLE = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    model = write_test_artifact(
        tmp_path_factory.mktemp("fuzz") / "model.json", features=("age", "bmi", "bp")
    )
    with running_stack(servers=1, model=model) as stack:
        yield stack


def _valid_messages() -> list[bytes]:
    record = pb.Record(age=0.01, bmi=0.05, bp=-0.02)
    return [
        pb.PredictRequest(record=record).SerializeToString(),
        pb.PredictBatchRequest(records=[record] * 5, include_intervals=True).SerializeToString(),
        pb.PredictBatchRequest(
            columns=pb.FeatureColumns(age=[0.0, 0.1], bmi=[0.0, 0.2], bp=[0.1, 0.1])
        ).SerializeToString(),
        pb.GetModelInfoRequest().SerializeToString(),
        json_pb.PredictJsonRecordsRequest(
            body=httpbody_pb2.HttpBody(data=b'[{"age": 0.01, "bmi": 0.05, "bp": -0.02}]'),
            include_intervals=True,
        ).SerializeToString(),
    ]


def _garbled(rng: random.Random, message: bytes) -> bytes:
    mutation = rng.randrange(4)
    data = bytearray(message)
    if mutation == 0 and data:  # truncated
        return bytes(data[: rng.randrange(len(data))])
    if mutation == 1 and data:  # flipped bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if mutation == 2:  # junk appended
        return bytes(data) + rng.randbytes(rng.randint(1, 16))
    return rng.randbytes(rng.randint(0, 256))  # pure noise


def _call(channel: grpc.Channel, method: str, body: bytes) -> grpc.StatusCode:
    path = f"/diabetes.v1.{method}"
    try:
        if method.rsplit("/", 1)[1] in STREAMING:
            for _ in channel.unary_stream(path)(body, timeout=10):
                pass
        else:
            channel.unary_unary(path)(body, timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def _assert_clean(stack: Stack) -> None:
    assert all(server.alive() for server in stack.servers)
    assert check(stack.server_target)
    log = log_text(stack, f"server-{stack.server_ports[0]}")
    for marker in ("Traceback", "unhandled", '"level": "CRITICAL"', "Exception deserializing"):
        assert marker not in log


def test_random_and_garbled_protobuf_bytes_straight_to_the_grpc_port(fuzz_stack: Stack) -> None:
    rng = random.Random(20261128)
    seen: dict[str, int] = {}
    with grpc.insecure_channel(fuzz_stack.server_target) as channel:
        for index in range(600):
            method = METHODS[index % len(METHODS)]
            body = _garbled(rng, rng.choice(_valid_messages()))
            code = _call(channel, method, body)
            seen[code.name] = seen.get(code.name, 0) + 1
            assert code in ACCEPTABLE, (method, body, code)
    print(f"[protobuf fuzz] 600 calls: {seen}")
    assert seen.get("INVALID_ARGUMENT", 0) > 0
    _assert_clean(fuzz_stack)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["age", "bmi", "bp", "sex", "s1", "columns", "records", "x", "bmi\x00"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
BODIES = JSON_VALUES.map(json.dumps) | st.binary(max_size=200) | st.text(max_size=100)
ROUTES = st.sampled_from(
    [
        ("POST", "/stream"),
        ("POST", "/batch"),
        ("POST", "/batch/columns"),
        ("POST", "/batch?include_intervals=true"),
        ("POST", "/batch/columns?include_intervals=true"),
        ("GET", "/model"),
        ("POST", "/model"),
        ("POST", "/stream?bmi=abc"),
        ("PUT", "/batch"),
    ]
)


@settings(  # type: ignore[untyped-decorator]
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=ROUTES, body=BODIES)  # type: ignore[untyped-decorator]
def test_hypothesis_json_bodies_through_envoy_never_get_a_5xx(
    fuzz_stack: Stack, route: tuple[str, str], body: str | bytes
) -> None:
    method, path = route
    reply = requests.request(
        method,
        fuzz_stack.http_url + path,
        data=body.encode() if isinstance(body, str) else body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert reply.status_code < 500, (reply.status_code, reply.text)
    if reply.status_code >= 400:
        error = reply.json()
        assert set(error) == {"code", "message", "details"}


def test_server_is_clean_after_the_fuzzing(fuzz_stack: Stack) -> None:
    _assert_clean(fuzz_stack)
