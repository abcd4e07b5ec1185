"""JSON through a real Envoy: answers equal the model's, and every bad input gets a 4xx
JSON error that says what was wrong, never a 5xx; the service keeps answering."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests

from model.artifact import LinearModel
from server.stack.stack import Stack
from tests.support.processes import wait_until
from tests.support.stack import log_text


def post(http: requests.Session, stack: Stack, path: str, body: str | bytes) -> requests.Response:
    return http.post(
        f"{stack.http_url}{path}",
        data=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )


def test_stream_answers_like_the_model(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    for bmi in (-0.09, -0.0515, 0.0, 0.0617, 0.17):
        reply = post(http, stack, "/stream", json.dumps({"bmi": bmi}))
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/json")
        body = reply.json()
        assert body["prediction"] == bundled_model.predict(np.array([[bmi]]))[0]
        assert body["model_version"] == bundled_model.version
        assert body["interval"]["lower"] < body["prediction"] < body["interval"]["upper"]
        assert body["interval"]["confidence"] == 0.95
        assert body["baseline"] + body["contributions"]["bmi"] == pytest.approx(body["prediction"])
        assert body["out_of_range_features"] == []


def test_zero_values_are_printed(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    mean = bundled_model.feature_stats[0].mean
    body = post(http, stack, "/stream", json.dumps({"bmi": mean})).json()
    assert body["contributions"] == {"bmi": 0.0}


def test_batch_of_100k_records_is_one_document_streamed_in_pieces(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    values = np.random.default_rng(7).uniform(-0.09, 0.17, 100_000)
    body = json.dumps([{"bmi": value} for value in values.tolist()])
    reply = http.post(f"{stack.http_url}/batch", data=body, timeout=60, stream=True)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["transfer-encoding"] == "chunked"
    answer = json.loads(reply.content)
    assert list(answer) == ["model_name", "model_version", "predictions", "out_of_range_indices"]
    assert answer["model_name"] == bundled_model.name
    assert answer["model_version"] == bundled_model.version
    # Parsed floats equal the model's float64 values exactly (shortest round-trip repr).
    assert answer["predictions"] == bundled_model.predict(values[:, None]).tolist()
    expected = bundled_model.out_of_range([values]).any(axis=0)
    assert answer["out_of_range_indices"] == np.flatnonzero(expected).tolist()


def test_batch_intervals_and_columns(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    values = [0.01, -0.03, 0.5]
    by_records = post(
        http, stack, "/batch?include_intervals=true", json.dumps([{"bmi": v} for v in values])
    ).json()
    by_columns = post(
        http, stack, "/batch/columns?include_intervals=true", json.dumps({"bmi": values})
    ).json()
    assert by_records == by_columns
    assert list(by_records) == [
        "model_name",
        "model_version",
        "predictions",
        "lower",
        "upper",
        "out_of_range_indices",
    ]
    expected = bundled_model.predict(np.array(values)[:, None])
    assert by_records["predictions"] == expected.tolist()
    half = bundled_model.interval_half_width([np.array(values)])
    assert by_records["lower"] == (expected - half).tolist()
    assert by_records["upper"] == (expected + half).tolist()
    assert by_records["out_of_range_indices"] == [2]


def test_columns_of_10k_records_equal_the_model(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    values = np.random.default_rng(8).uniform(-0.09, 0.17, 10_000)
    reply = post(http, stack, "/batch/columns", json.dumps({"bmi": values.tolist()}))
    assert reply.json()["predictions"] == bundled_model.predict(values[:, None]).tolist()


def _bits(values: Any) -> list[int]:
    bit_patterns: list[int] = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    return bit_patterns


def _edge_inputs(model: LinearModel) -> np.ndarray:
    """BMI values whose answers are written with exponents: at the input limit (~1e156),
    where the prediction cancels to almost zero (~1e-14), tiny and signed-zero inputs."""
    limit, root = model.input_limit, -model.intercept / model.coefficients[0]
    near_root = [root, np.nextafter(root, 1.0), np.nextafter(root, -1.0)]
    return np.array([limit, -limit, limit / 7, 1e14, 1e19, -1e21, 5e-324, -0.0, *near_root])


@pytest.mark.parametrize("route", ["/batch", "/batch/columns"])
def test_edge_values_across_the_chunk_boundary_read_back_bit_for_bit(
    http: requests.Session, stack: Stack, bundled_model: LinearModel, route: str
) -> None:
    # One record past the 10,000-record chunk, the edge values on both sides of it, most
    # records out of the training range so the indices span the chunks too.
    values = np.random.default_rng(9).uniform(-0.4, 0.4, 10_001)
    edges = _edge_inputs(bundled_model)
    values[9_990 : 9_990 + len(edges)] = edges  # up to index 10,000, past the chunk
    body = (
        json.dumps([{"bmi": v} for v in values.tolist()])
        if route == "/batch"
        else json.dumps({"bmi": values.tolist()})
    )
    reply = post(http, stack, f"{route}?include_intervals=true", body)
    assert reply.status_code == 200
    assert re.search(rb"[0-9]e\+?15[0-9]", reply.content)
    assert re.search(rb"[0-9]e-1[0-9]", reply.content)
    answer = reply.json()
    predictions = bundled_model.predict(values[:, None])
    half = bundled_model.interval_half_width([values])
    assert _bits(answer["predictions"]) == _bits(predictions)
    assert _bits(answer["lower"]) == _bits(predictions - half)
    assert _bits(answer["upper"]) == _bits(predictions + half)
    indices = np.flatnonzero(bundled_model.out_of_range([values]).any(axis=0))
    assert len(indices) > 10_000 // 2
    assert answer["out_of_range_indices"] == indices.tolist()


def test_stream_edge_values_read_back_bit_for_bit(
    http: requests.Session, stack: Stack, bundled_model: LinearModel
) -> None:
    for bmi in _edge_inputs(bundled_model).tolist():
        reply = post(http, stack, "/stream", json.dumps({"bmi": bmi}))
        assert reply.status_code == 200, reply.text[:200]
        result = bundled_model.explain_one([bmi])
        answer = reply.json()
        assert _bits(answer["prediction"]) == _bits(result.prediction)
        assert _bits([answer["interval"]["lower"], answer["interval"]["upper"]]) == _bits(
            [result.lower, result.upper]
        )
        assert _bits(answer["contributions"]["bmi"]) == _bits(result.contributions["bmi"])


def test_model_route(http: requests.Session, stack: Stack, bundled_model: LinearModel) -> None:
    reply = http.get(f"{stack.http_url}/model", timeout=10)
    assert reply.status_code == 200
    info = reply.json()
    assert info["version"] == bundled_model.version
    assert [f["name"] for f in info["features"]] == list(bundled_model.features)
    assert info["features"][0]["coefficient"] == bundled_model.coefficients[0]
    assert info["limits"]["max_batch_records"] == 100_000
    assert info["n_train"] == bundled_model.interval.n_train  # a 32-bit number, not a string


def test_request_id_is_passed_to_the_server(http: requests.Session, stack: Stack) -> None:
    reply = http.post(
        f"{stack.http_url}/stream",
        data='{"bmi": 0.01}',
        headers={"x-request-id": "e2e-request-42"},
        timeout=10,
    )
    assert reply.status_code == 200
    server_log = f"server-{stack.server_ports[0]}"

    def lines(name: str) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in log_text(stack, name).splitlines()
            if "e2e-request-42" in line
        ]

    # Both write access lines in batches: Envoy every second, the server every 0.2 s.
    wait_until(lambda: bool(lines(server_log)), 10, "the server's access log")
    wait_until(lambda: bool(lines("envoy")), 10, "Envoy's access log")
    assert [line["method"] for line in lines(server_log)] == ["PredictJsonRecord"]
    envoy_lines = lines("envoy")
    assert envoy_lines[0]["path"] == "/stream"
    assert envoy_lines[0]["status"] == 200


LIMIT = 100_000
BAD_INPUTS = [
    # (case, path, body, status, words the message must contain)
    ("malformed JSON", "/stream", '{"bmi": ', 400, "is not valid JSON"),
    ("malformed JSON in batch", "/batch", '[{"bmi": 0.1}', 400, "is not valid JSON"),
    ("trailing garbage in batch", "/batch", '[{"bmi": 0.1}]]', 400, "trailing characters"),
    ("NaN literal in batch", "/batch", '[{"bmi": NaN}]', 400, "is not valid JSON"),
    ("invalid UTF-8 in batch", "/batch", b'[{"bmi\xff": 0.1}]', 400, "not valid UTF-8"),
    ("wrong type", "/stream", '{"bmi": "abc"}', 400, 'record.bmi: expected a number, got "abc"'),
    (
        "number as string",
        "/stream",
        '{"bmi": "0.05"}',
        400,
        'record.bmi: expected a number, got "0.05"',
    ),
    (
        "wrong type in batch",
        "/batch",
        '[{"bmi": 0.1}, {"bmi": true}]',
        400,
        "records[1].bmi: expected a number, got true",
    ),
    (
        "string in batch",
        "/batch",
        '[{"bmi": 0.1}, {"bmi": "abc"}]',
        400,
        'records[1].bmi: expected a number, got "abc"',
    ),
    (
        "number as string in batch",
        "/batch",
        '[{"bmi": "0.05"}]',
        400,
        'records[0].bmi: expected a number, got "0.05"',
    ),
    ("null", "/stream", '{"bmi": null}', 400, "record.bmi is null"),
    ("null in batch", "/batch", '[{"bmi": 0.1}, {"bmi": null}]', 400, "records[1].bmi is null"),
    ("missing feature", "/stream", "{}", 400, "record.bmi is missing; this model needs bmi"),
    ("missing feature in batch", "/batch", '[{"bmi": 0.1}, {}]', 400, "records[1].bmi is missing"),
    ("typo in feature name", "/stream", '{"bmii": 0.05}', 400, 'record: unknown field "bmii"'),
    (
        "typo in feature name in batch",
        "/batch",
        '[{"bmi": 0.1}, {"bmii": 0.05}]',
        400,
        'records[1]: unknown field "bmii"',
    ),
    ("NaN as string", "/stream", '{"bmi": "NaN"}', 400, 'record.bmi: expected a number, got "NaN"'),
    (
        "number out of range",
        "/stream",
        '{"bmi": 1e400}',
        400,
        "record.bmi: expected a finite number",
    ),
    ("overflowing number", "/stream", '{"bmi": 1e308}', 400, "record.bmi: 1e+308 is too large"),
    ("empty body on stream", "/stream", "", 400, "must be a JSON record"),
    (
        "number out of range in batch",
        "/batch",
        '[{"bmi": 0}, {"bmi": 1e400}]',
        400,
        "records[1].bmi: expected a finite number",
    ),
    (
        "prediction not finite",
        "/batch",
        '[{"bmi": 0}, {"bmi": 1.7e308}]',
        400,
        "records[1].bmi: 1.7e+308 is too large",
    ),
    (
        "object where an array is expected",
        "/batch",
        '{"bmi": 0.05}',
        400,
        "must be a JSON array of records",
    ),
    ("record not an object", "/batch", "[0.05]", 400, "records[0]: expected an object, got 0.05"),
    ("array where an object is expected", "/stream", '[{"bmi": 0.05}]', 400, "got an array"),
    ("empty array", "/batch", "[]", 400, "records is empty"),
    ("empty body", "/batch", "", 400, "must be a JSON array of records"),
    ("unknown query parameter", "/stream?bmx=1", '{"bmi": 0.05}', 400, "bmx"),
    ("unknown query parameter on batch", "/batch?intervals=1", '[{"bmi": 0.05}]', 400, "intervals"),
    (
        "over-limit batch",
        "/batch",
        json.dumps([{"bmi": 0.01}] * (LIMIT + 1)),
        400,
        f"over the limit of {LIMIT} records",
    ),
    (
        "over-limit empty records",
        "/batch",
        "[" + ",".join(["{}"] * (LIMIT + 1)) + "]",
        400,
        f"over the limit of {LIMIT} records",
    ),
    ("column missing", "/batch/columns", '{"bp": [0.1]}', 400, "columns.bmi is missing"),
    ("empty columns", "/batch/columns", "{}", 400, "columns is empty"),
    ("array where columns belong", "/batch/columns", "[0.1]", 400, "must be a JSON object"),
    (
        "null in a column",
        "/batch/columns",
        '{"bmi": [0.1, null]}',
        400,
        "columns.bmi[1]: expected a number, got null",
    ),
    (
        "unknown column",
        "/batch/columns",
        '{"bmi": [0.1], "BMI": [0.1]}',
        400,
        'columns: unknown field "BMI"',
    ),
]


@pytest.mark.parametrize(
    ("case", "path", "body", "status", "words"), BAD_INPUTS, ids=[row[0] for row in BAD_INPUTS]
)
def test_bad_input_gets_a_clear_json_error(
    http: requests.Session,
    stack: Stack,
    bundled_model: LinearModel,
    case: str,
    path: str,
    body: str,
    status: int,
    words: str,
) -> None:
    reply = post(http, stack, path, body)
    assert reply.status_code == status, reply.text[:300]
    error = reply.json()
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == 3
    assert words in error["message"]
    # ... and the service still answers correctly.
    ok = post(http, stack, "/stream", '{"bmi": 0.02}').json()
    assert ok["prediction"] == bundled_model.predict(np.array([[0.02]]))[0]


@pytest.mark.parametrize(
    ("method", "path", "words"),
    [
        ("GET", "/nope", "no such route: GET /nope"),
        ("GET", "/stream", "no such route: GET /stream"),
        ("PUT", "/batch", "no such route: PUT /batch"),
        ("POST", "/model", "no such route: POST /model"),
    ],
)
def test_unknown_route_or_method_is_404_json(
    http: requests.Session, stack: Stack, method: str, path: str, words: str
) -> None:
    reply = http.request(method, f"{stack.http_url}{path}", timeout=10)
    assert reply.status_code == 404
    error = reply.json()
    assert error["code"] == 5
    assert words in error["message"]


def test_body_over_the_size_limit_is_413_json(stack: Stack, tmp_path: Path) -> None:
    body = tmp_path / "big.json"
    with body.open("w") as out:  # ~40 MiB of records: over the 32 MiB cap
        out.write("[")
        out.write(",".join(['{"bmi": 0.0123456789012345}'] * 1_500_000))
        out.write("]")
    # curl reads while it sends, so it sees the 413 rather than a reset connection.
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data-binary",
            f"@{body}",
            f"{stack.http_url}/batch",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text, status = result.stdout.rsplit("\n", 1)
    assert status == "413"
    error = json.loads(text)
    assert error["code"] == 8
    assert "request body too large" in error["message"]
