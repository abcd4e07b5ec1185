"""Hostile JSON bodies against a real server behind a real Envoy (the stack `make run`
starts): each is real JSON of the size that used to cost the most (numbers, not
whitespace), answered 400 with the documented message, while the server process's own
peak resident set grows by at most the bound docs/design.md states (4x the body plus
16 MiB), and the same process then still answers `POST /stream` with the model's
prediction. The V2 binary-data header's odd values too, as Envoy passes them on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
import requests

from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from server.stack.stack import Stack
from tests.abuse.results import ShapeResult, record_shape
from tests.support.memory import Growth, peak_growth
from tests.support.stack import running_stack

MIB = 1 << 20
# docs/design.md: "at most 4x its body plus 16 MiB" (the gRPC layer's four copies of it).
BODY_FACTOR, SLACK = 4, 16 * MIB
DEEP = 3_000
V2_INFER = "/v2/models/diabetes-bmi/infer"
NOT_A_RECORD = 'the body of POST /stream must be a JSON record, e.g. {"bmi": 0.05}; got an array'
NOT_COLUMNS = (
    "the body of POST /batch/columns must be a JSON object of one array per feature, "
    'e.g. {"bmi": [0.05, -0.02]}; got an array'
)


def numbers(count: int) -> bytes:
    """A JSON array of `count` real numbers (`0.1`), about 4 bytes each."""
    return b"[" + b"0.1," * (count - 1) + b"0.1]"


def v2_body(data: bytes, shape: str = "[1]") -> bytes:
    return (
        b'{"inputs": [{"name": "bmi", "shape": ' + shape.encode() + b', "datatype": "FP64", '
        b'"data": ' + data + b"}]}"
    )


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: bytes
    message: str
    v2: bool = False
    # What the caller gets: the server's 400, or Envoy's 413 for a route's body cap.
    status: int = 400
    code: int = 3


CASES = [
    Case(
        # POST /stream takes no bulk: Envoy refuses a body over 16 KiB before a server sees it.
        "stream_7m_values",
        "/stream",
        b'{"bmi": ' + numbers(7_000_000) + b"}",
        "request body too large: Payload Too Large",
        status=413,
        code=8,
    ),
    Case(
        "v2_shape_1_with_3m_values",
        V2_INFER,
        v2_body(numbers(3_000_000)),
        "inputs[0] (bmi): shape [1] needs 1 values, data holds more",
        v2=True,
    ),
    Case(
        "columns_1m_values_in_one_column",
        "/batch/columns",
        b'{"bmi": ' + numbers(1_000_000) + b"}",
        "columns.bmi holds more than 100000 values: over the limit of 100000 records per call; "
        "split it into several calls",
    ),
    Case("batch_deep", "/batch", b"[" * DEEP, "records[0]: expected an object, got an array"),
    Case("stream_deep", "/stream", b"[" * DEEP, NOT_A_RECORD),
    Case("columns_deep", "/batch/columns", b"[" * DEEP, NOT_COLUMNS),
    Case(
        "stream_deep_field",
        "/stream",
        b'{"bmi": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        "record.bmi: expected a number, got an array",
    ),
    Case(
        "columns_deep_value",
        "/batch/columns",
        b'{"bmi": [0.1, ' + b"[" * DEEP + b"]" * DEEP + b"]}",
        "columns.bmi[1]: expected a number, got an array",
    ),
    Case(
        "v2_deep_data",
        V2_INFER,
        v2_body(b"[" * DEEP + b"]" * DEEP),
        "the body is not a V2 inference request: it nests arrays or objects too deeply",
        v2=True,
    ),
]


@pytest.fixture(scope="module")
def model() -> LinearModel:
    return load_artifact(BUNDLED_ARTIFACT)


@pytest.fixture(scope="module")
def bounded_stack() -> Iterator[Stack]:
    with running_stack() as stack:
        yield stack


def error_text(reply: requests.Response, v2: bool, code: int = 3) -> str:
    document = reply.json()
    if v2:
        assert set(document) == {"error"}, document
        return str(document["error"])
    assert document["code"] == code, document
    return str(document["message"])


def assert_still_serving(url: str, model: LinearModel) -> None:
    reply = requests.post(f"{url}/stream", json={"bmi": 0.0617}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()["prediction"] == model.predict(np.array([[0.0617]]))[0]


def within_bound(growth: Growth, body: bytes) -> bool:
    print(f"{len(body) / MIB:.1f} MiB body grew the server by {growth.bytes / MIB:.1f} MiB")
    return growth.bytes <= BODY_FACTOR * len(body) + SLACK


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_body_is_refused_within_the_bound(
    bounded_stack: Stack, model: LinearModel, case: Case
) -> None:
    server = bounded_stack.servers[0]
    with peak_growth(server.pid) as growth:
        reply = requests.post(
            bounded_stack.http_url + case.path,
            data=case.body,
            headers={"content-type": "application/json"},
            timeout=120,
        )
    assert reply.status_code == case.status, reply.text[:200]
    assert within_bound(growth, case.body)
    assert error_text(reply, case.v2, case.code) == case.message
    assert server.alive()
    assert_still_serving(bounded_stack.http_url, model)
    record_shape(
        ShapeResult(
            shape=case.name,
            order=CASES.index(case),
            path=case.path,
            sent_bytes=len(case.body),
            status=case.status,
            message=case.message,
            server_growth=growth.bytes,
            bound=BODY_FACTOR * len(case.body) + SLACK,
        )
    )


BINARY_HEADER_MESSAGE = (
    "inference-header-content-length is {!r}: it must be the length of the body's JSON part, "
    "1 to 10 digits (the body has {} bytes)"
)


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("9" * 5_000, "9" * 61 + "..."), ("²", "²"), ("12345678901", "12345678901"), ("-1", "-1")],
    ids=["5000_digits", "superscript_two", "eleven_digits", "negative"],
)
def test_an_odd_binary_header_is_400_naming_it(
    bounded_stack: Stack, model: LinearModel, value: str, quoted: str
) -> None:
    body = v2_body(b"[0.0617]")
    reply = requests.post(
        bounded_stack.http_url + V2_INFER,
        data=body,
        headers={"content-type": "application/json", "inference-header-content-length": value},
        timeout=30,
    )
    assert reply.status_code == 400, reply.text[:200]
    assert error_text(reply, v2=True) == BINARY_HEADER_MESSAGE.format(quoted, len(body))
    assert bounded_stack.servers[0].alive()
    assert_still_serving(bounded_stack.http_url, model)
