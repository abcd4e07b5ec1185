"""The JSON lane's batch answers: byte for byte in process, and through a real grpc server
(the servicer registered as the server registers it, with a small chunk): one reply message
up to `chunk` records, past it pieces of at most `chunk` numbers of each array, and every
number parsing back to the model's float64 bit for bit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import msgspec
import numpy as np
import pytest
from google.api.httpbody_pb2 import HttpBody

from diabetes.v1 import json_pb2
from model.artifact import BUNDLED_ARTIFACT, LinearModel, load_artifact
from server.faces.json_lane.encode import answer_pieces
from server.faces.json_lane.schema import JsonSchema
from server.faces.json_lane.servicer import SERVICE, JsonPredictionServicer
from server.inference import Inference, Limits
from server.model_store import ModelStore
from server.rpc import CallObserver, add_service

CHUNK = 100
LIMIT = 1_000
# Floats whose shortest form is unusual: signed zero, subnormals, the largest double,
# exponents both ways, the points where the notation switches.
EDGE_OUTPUTS = [
    -0.0,
    0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-300 / 3,
    1e-7,
    1e-5,
    0.0001,
    0.1,
    1 / 3,
    123456789.12345679,
    1e15,
    9999999999999998.0,
    1e16,
    1e22,
    -1.2345678901234568e17,
    1.7976931348623157e308,
    -1.7976931348623157e308,
]


def bits(values: object) -> list[int]:
    """The float64 values' bit patterns: `==` on floats takes -0.0 for 0.0."""
    bit_patterns: list[int] = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    return bit_patterns


def edge_inputs(model: LinearModel) -> np.ndarray:
    """BMI values whose predictions or intervals are written with exponents or many digits:
    at the input limit, where the prediction cancels to almost zero, and tiny inputs."""
    limit = model.input_limit
    root = -model.intercept / model.coefficients[0]
    near_root = [root]
    for _ in range(4):
        near_root.append(float(np.nextafter(near_root[-1], np.inf)))
    values = [limit, -limit, limit / 7, -limit / 3, 1e14, 1e19, -1e21, 5e-324, -0.0, 0.0]
    return np.array([*values, *near_root, 0.0617, -0.09, 0.17])


def numbers_per_piece(pieces: list[bytes]) -> list[dict[str, int]]:
    """How many numbers of each array each piece holds (no number may be cut in two)."""
    document = b"".join(pieces)
    ends = np.cumsum([len(piece) for piece in pieces])
    counts: list[dict[str, int]] = [{} for _ in pieces]
    for array in re.finditer(rb'"(\w+)":\[([^\]]*)\]', document):
        key = array[1].decode()
        for number in re.finditer(rb"[^,]+", array[2]):
            first = array.start(2) + number.start()
            last = array.start(2) + number.end() - 1
            piece = int(np.searchsorted(ends, first, side="right"))
            assert piece == int(np.searchsorted(ends, last, side="right")), number[0]
            counts[piece][key] = counts[piece].get(key, 0) + 1
    return counts


def expected_pieces(lengths: list[int], chunk: int) -> int:
    """One piece, and one more each time an array's next `chunk` numbers begin."""
    return 1 + sum(max(math.ceil(length / chunk), 1) - 1 for length in lengths)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, len(EDGE_OUTPUTS) - 1, len(EDGE_OUTPUTS), 10_000])
def test_pieces_join_to_the_one_piece_answer_with_every_float_exact(chunk: int) -> None:
    values = np.array(EDGE_OUTPUTS)
    arrays = {"predictions": values, "lower": values[::-1].copy(), "upper": -values}
    indices = np.array([0, 2, 3, 5, 8, 13, 18], dtype=np.intp)
    whole = list(answer_pieces("m", "v1", arrays, indices, chunk=len(values)))
    pieces = list(answer_pieces("m", "v1", arrays, indices, chunk=chunk))
    assert len(whole) == 1
    assert b"".join(pieces) == whole[0]
    assert len(pieces) == expected_pieces([len(values)] * 3 + [len(indices)], chunk)
    assert all(count <= chunk for piece in numbers_per_piece(pieces) for count in piece.values())
    for parse in (json.loads, msgspec.json.decode):
        answer = parse(whole[0])
        assert list(answer) == ["model_name", "model_version", "predictions", "lower", "upper",
                                "out_of_range_indices"]  # fmt: skip
        for name, array in arrays.items():
            assert bits(answer[name]) == bits(array), name
        assert answer["out_of_range_indices"] == indices.tolist()


def test_floats_are_written_in_their_shortest_form_with_signed_exponents() -> None:
    (document,) = answer_pieces(
        "m", "v1", {"predictions": np.array(EDGE_OUTPUTS)}, np.array([], np.intp), chunk=100
    )
    written = document.split(b'"predictions":[')[1].split(b"]")[0].split(b",")
    assert written[:4] == [b"-0.0", b"0.0", b"5e-324", b"-5e-324"]
    assert written[6:10] == [b"1e-7", b"0.00001", b"0.0001", b"0.1"]
    assert written[12:16] == [b"1000000000000000.0", b"9999999999999998.0", b"1e+16", b"1e+22"]
    assert written[17] == b"1.7976931348623157e+308"
    assert document.endswith(b',"out_of_range_indices":[]}')


def test_a_strided_view_is_written_like_its_copy() -> None:
    values = np.random.default_rng(3).normal(0, 1e6, 40)
    view = values[::2]
    assert not view.flags.c_contiguous
    for chunk in (20, 7):
        assert list(answer_pieces("m", "v", {"predictions": view}, np.arange(3), chunk)) == list(
            answer_pieces("m", "v", {"predictions": view.copy()}, np.arange(3), chunk)
        )


def test_an_empty_batch_is_one_document() -> None:
    empty = np.array([], dtype=np.float64)
    pieces = list(answer_pieces("m", "v", {"predictions": empty}, np.array([], np.intp), 1))
    assert pieces == [b'{"model_name":"m","model_version":"v","predictions":[],'
                      b'"out_of_range_indices":[]}']  # fmt: skip


@dataclass
class Lane:
    channel: grpc.Channel
    model: LinearModel

    def replies(self, route: str, values: np.ndarray, intervals: bool) -> list[HttpBody]:
        request_type: type[json_pb2.PredictJsonRecordsRequest | json_pb2.PredictJsonColumnsRequest]
        if route == "records":
            method, request_type = "PredictJsonRecords", json_pb2.PredictJsonRecordsRequest
            body = json.dumps([{"bmi": value} for value in values.tolist()])
        else:
            method, request_type = "PredictJsonColumns", json_pb2.PredictJsonColumnsRequest
            body = json.dumps({"bmi": values.tolist()})
        call = self.channel.unary_stream(
            f"/{SERVICE.full_name}/{method}",
            request_serializer=request_type.SerializeToString,
            response_deserializer=HttpBody.FromString,
        )
        request = request_type(body=HttpBody(data=body.encode()), include_intervals=intervals)
        return list(call(request, timeout=30))


@pytest.fixture(scope="module")
def lane() -> Iterator[Lane]:
    store = ModelStore(BUNDLED_ARTIFACT)
    observer = CallObserver(access_log=None)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    limits = Limits(LIMIT, batch_chunk_records=CHUNK, max_receive_message_bytes=4 << 20)
    servicer = JsonPredictionServicer(
        Inference(store, limits, observer), JsonSchema.from_contract()
    )
    add_service(server, servicer, SERVICE, observer)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Lane(channel, store.current)
    finally:
        server.stop(None)


@pytest.mark.parametrize("route", ["records", "columns"])
@pytest.mark.parametrize("intervals", [False, True], ids=["predictions", "intervals"])
@pytest.mark.parametrize("records", [1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1])
def test_the_answer_is_one_message_per_chunk_and_exactly_the_models(
    lane: Lane, route: str, intervals: bool, records: int
) -> None:
    model = load_artifact(BUNDLED_ARTIFACT)
    assert model.version == lane.model.version
    # Most records outside the training range, so the indices span chunks too; the edge
    # values straddle the first chunk boundary.
    spread = np.random.default_rng(records).uniform(-0.4, 0.4, 2 * CHUNK + 1)
    values = np.roll(np.concatenate([edge_inputs(model), spread]), CHUNK - 5)[:records]
    replies = lane.replies(route, values, intervals)

    predictions = model.predict(values[:, None])
    half = model.interval_half_width([values])
    expected = {"predictions": predictions}
    if intervals:
        expected |= {"lower": predictions - half, "upper": predictions + half}
    indices = np.flatnonzero(model.out_of_range([values]).any(axis=0))
    lengths = [records] * len(expected) + [len(indices)]
    assert len(replies) == expected_pieces(lengths, CHUNK)
    assert [reply.content_type for reply in replies] == ["application/json"] + [""] * (
        len(replies) - 1
    )
    pieces = [reply.data for reply in replies]
    assert max(max(piece.values()) for piece in numbers_per_piece(pieces)) <= CHUNK
    answer = json.loads(b"".join(pieces))
    assert list(answer) == ["model_name", "model_version", *expected, "out_of_range_indices"]
    for name, array in expected.items():
        assert bits(answer[name]) == bits(array), name
    assert answer["out_of_range_indices"] == indices.tolist()


def test_edge_inputs_give_exponents_in_the_answer(lane: Lane) -> None:
    values = edge_inputs(lane.model)
    (reply,) = lane.replies("columns", values, intervals=True)
    answer = reply.data.split(b'"predictions":[')[1]
    # At the input limit the predictions are ~1e156; near the root, ~1e-14.
    assert re.search(rb"[0-9]e\+15[0-9]", answer)
    assert re.search(rb"[0-9]e-1[0-9]", answer)
    assert bits(json.loads(reply.data)["predictions"]) == bits(lane.model.predict(values[:, None]))
