"""The V2 REST face's decoder in process, on a real grpc server (add_service, as the server
registers it): every refusal of a hostile or malformed body, each before the values it
would build, with the message the caller gets (Envoy turns it into `{"error": ...}`)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass

import grpc
import pytest
from google.api.httpbody_pb2 import HttpBody

from diabetes.v1 import inference_rest_pb2 as pb
from model.artifact import LinearModel
from server.faces.oip_rest import (
    MAX_OBJECTS_AND_KEYS,
    SERVICE,
    InferenceRequest,
    OpenInferenceRestServicer,
    RequestInput,
    WireInput,
    WireRequest,
)
from server.inference import Inference, Limits
from server.model_store import ModelStore
from server.rpc import CallObserver, add_service
from tests.support.artifacts import write_test_artifact

LIMIT = 100
HEADER = "inference-header-content-length"


@dataclass
class Served:
    channel: grpc.Channel
    model: LinearModel

    def infer(self, body: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> bytes:
        rpc = self.channel.unary_unary(
            f"/{SERVICE.full_name}/Infer",
            request_serializer=pb.InferRequest.SerializeToString,
            response_deserializer=HttpBody.FromString,
        )
        request = pb.InferRequest(model_name=self.model.name, body=HttpBody(data=body))
        reply: HttpBody = rpc(request, metadata=metadata, timeout=30)
        return bytes(reply.data)

    def refusal(self, body: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> str:
        with pytest.raises(grpc.RpcError) as error:
            self.infer(body, metadata)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return error.value.details() or ""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    artifact = write_test_artifact(tmp_path_factory.mktemp("v2") / "m.json", features=("bmi", "bp"))
    store = ModelStore(artifact)
    observer = CallObserver(access_log=None)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    limits = Limits(LIMIT, batch_chunk_records=LIMIT, max_receive_message_bytes=1 << 20)
    servicer = OpenInferenceRestServicer(Inference(store, limits, observer), lambda: True)
    add_service(server, servicer, SERVICE, observer)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(channel, store.current)
    finally:
        server.stop(None)


def matrix(data: str, shape: str = "[1, 2]", name: str = "x", datatype: str = "FP64") -> bytes:
    return (
        f'{{"inputs": [{{"name": "{name}", "shape": {shape}, "datatype": "{datatype}", '
        f'"data": {data}}}]}}'
    ).encode()


def test_the_decoded_types_have_the_documented_fields() -> None:
    assert WireRequest.__struct_fields__ == InferenceRequest.__struct_fields__
    assert WireInput.__struct_fields__ == RequestInput.__struct_fields__


@pytest.mark.parametrize(
    "body",
    [matrix("[0.1, 0.2]"), matrix("[[0.1, 0.2]]"), matrix("[0.1, 0.2]", datatype="FP32")],
    ids=["flat", "nested", "fp32"],
)
def test_flat_and_nested_data_are_read(served: Served, body: bytes) -> None:
    assert b'"name":"predict"' in served.infer(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            matrix("[" + ", ".join(["0.1"] * 10_000) + "]"),
            "inputs[0] (x): shape [1, 2] needs 2 values, data holds more",
        ),
        (
            matrix("[0.1]"),
            "inputs[0] (x): shape [1, 2] needs 2 values, got 1",
        ),
        (
            matrix("[[0.1], [0.2, 0.3]]", shape="[2, 2]"),
            "inputs[0] (x): data is nested unevenly",
        ),
        (matrix("[[0.1], 0.2]"), "inputs[0] (x): data is nested unevenly"),
        (matrix("[0.1, [0.2]]"), "inputs[0] (x): data is nested unevenly"),
        (matrix('[0.1, "a"]'), "inputs[0] (x): data must hold numbers only"),
        (matrix("[0.1, true]"), "inputs[0] (x): data must hold numbers only"),
        (
            matrix("[0.1, 1e999]"),
            "the body is not a V2 inference request: Number out of range - at "
            "`$.inputs[0].data[1]`",
        ),
        (
            matrix("5"),
            "the body is not a V2 inference request: Expected `array`, got `int` - at "
            "`$.inputs[0].data`",
        ),
        (matrix("null"), "inputs[0] (x): data is missing"),
        (
            matrix("[" * 3_000 + "]" * 3_000),
            "the body is not a V2 inference request: it nests arrays or objects too deeply",
        ),
        (
            matrix("[0.1]", shape="[" + ", ".join(["1"] * 200) + "]"),
            "inputs[0] (x): shape is 600 bytes of JSON; a shape is a short array of integers",
        ),
        (
            matrix("[0.1]", shape="[1, 1, 1, 1, 1, 1, 1, 1, 1]"),
            "inputs[0] (x): shape has 9 dimensions; at most 8",
        ),
        (
            matrix("[0.1]", shape='["1"]'),
            "the body is not a V2 inference request: Expected `int`, got `str` - at "
            "`$.inputs[0].shape[0]`",
        ),
        (
            matrix("[0.1]", shape="[99999999999999999999999, 2]"),
            "batch of 99999999999999999999999 records is over the limit of 100 records per call",
        ),
        (matrix("[0.1]", shape="[-1, 2]"), "inputs[0] (x): shape [-1, 2] is negative"),
        (
            b'{"inputs": [], "parameters": {' + b'"p": 1, ' * MAX_OBJECTS_AND_KEYS + b'"q": 1}}',
            "the body is not a V2 inference request this server takes: it holds more than "
            f"{MAX_OBJECTS_AND_KEYS} objects and keys (inputs, outputs, parameters); "
            "tensor values go in data",
        ),
        (
            b'{"inputs": [], "' + b"z" * 1_000 + b'": 1}',
            "the body is not a V2 inference request: Object contains unknown field "
            f"`{'z' * 61}...`",
        ),
        (
            matrix("[0.1, 0.2]", shape="[2]", name="n" * 1_000),
            f'inputs[0] ({"n" * 61}...): no feature is named "{"n" * 61}..."; ',
        ),
        (
            matrix("[0.1, 0.2]", datatype="D" * 1_000),
            f"inputs[0] (x): datatype {'D' * 61}... is not supported; send FP64 or FP32",
        ),
    ],
)
def test_a_bad_body_is_refused_before_its_values_are_built(
    served: Served, body: bytes, message: str
) -> None:
    assert served.refusal(body).startswith(message)


def test_an_id_longer_than_1024_characters_is_refused(served: Served) -> None:
    body = matrix("[0.1, 0.2]")[:-1] + b', "id": "' + b"i" * 1_025 + b'"}'
    assert served.refusal(body) == (f'id is 1025 characters long; at most 1024: "{"i" * 61}..."')
    assert b'"id":"' + b"i" * 1_024 + b'"' in served.infer(
        matrix("[0.1, 0.2]")[:-1] + b', "id": "' + b"i" * 1_024 + b'"}'
    )


def test_an_output_name_is_quoted_short(served: Served) -> None:
    body = matrix("[0.1, 0.2]")[:-1] + b', "outputs": [{"name": "' + b"o" * 1_000 + b'"}]}'
    assert served.refusal(body) == (
        f'output "{"o" * 61}..." is not produced by this model; it produces predict, lower, upper'
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("9" * 5_000, "9" * 61 + "..."),
        ("0x10", "0x10"),
        ("12345678901", "12345678901"),
        ("-1", "-1"),
        ("", ""),
        ("100000", "100000"),
    ],
    ids=["5000_digits", "hexadecimal", "eleven_digits", "negative", "empty", "past_end"],
)
def test_the_binary_data_header_is_one_to_ten_digits_within_the_body(
    served: Served, value: str, shown: str
) -> None:
    body = matrix("[0.1, 0.2]")
    assert served.refusal(body, ((HEADER, value),)) == (
        f"{HEADER} is {shown!r}: it must be the length of the body's JSON part, "
        f"1 to 10 digits (the body has {len(body)} bytes)"
    )


def test_binary_data_is_counted_against_the_shape(served: Served) -> None:
    header = (
        b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", '
        b'"parameters": {"binary_data_size": 24}}]}'
    )
    body = header + b"\0" * 24
    assert served.refusal(body, ((HEADER, str(len(header))),)) == (
        "inputs[0] (x): shape [1, 2] needs 2 values, got 3"
    )
