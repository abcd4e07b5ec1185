"""The V2 REST face through the real Envoy: the protocol's JSON exactly, and Triton's own
HTTP client (`tritonclient.http`, from PyPI) getting the model's numbers bit for bit and
the service's messages in its errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from model.artifact import LinearModel
from server.faces.oip_rest import InferenceResponse
from server.stack.stack import Stack
from tests.oip.conftest import BATCH_LIMIT


@pytest.fixture(scope="module")
def client(oip_stack: Stack) -> Iterator[Any]:
    address = oip_stack.http_url.removeprefix("http://")
    client = triton.InferenceServerClient(url=address, network_timeout=30)
    yield client
    client.close()


def _inputs(*tensors: tuple[str, str, np.ndarray], binary: bool = False) -> list[Any]:
    inputs = []
    for name, datatype, values in tensors:
        tensor = triton.InferInput(name, list(values.shape), datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _outputs(*names: str) -> list[Any]:
    return [triton.InferRequestedOutput(name, binary_data=False) for name in names]


def _features(rows: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.05, size=(rows, 2))


def test_health_and_metadata_are_the_protocols_json(
    oip_stack: Stack, oip_model: LinearModel
) -> None:
    base = oip_stack.http_url
    expected = {
        "/v2/health/live": {"live": True},
        "/v2/health/ready": {"ready": True},
        f"/v2/models/{oip_model.name}/ready": {"name": oip_model.name, "ready": True},
        f"/v2/models/{oip_model.name}/versions/{oip_model.version}/ready": {
            "name": oip_model.name,
            "ready": True,
        },
    }
    for path, document in expected.items():
        reply = requests.get(base + path, timeout=10)
        assert (reply.status_code, reply.headers["content-type"]) == (200, "application/json")
        assert reply.json() == document, path
    metadata = requests.get(f"{base}/v2/models/{oip_model.name}", timeout=10).json()
    assert metadata == {
        "name": oip_model.name,
        "versions": [oip_model.version],
        "platform": "numpy_linear",
        "inputs": [
            {"name": "bmi", "datatype": "FP64", "shape": [-1]},
            {"name": "bp", "datatype": "FP64", "shape": [-1]},
        ],
        "outputs": [
            {"name": name, "datatype": "FP64", "shape": [-1]}
            for name in ("predict", "lower", "upper")
        ],
    }
    server = requests.get(f"{base}/v2", timeout=10).json()
    assert server["name"] == "diabetes-serving"
    assert server["extensions"] == []


def test_tritonclient_health_and_metadata(client: Any, oip_model: LinearModel) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(oip_model.name)
    assert client.is_model_ready(oip_model.name, oip_model.version)
    assert not client.is_model_ready("other")
    assert client.get_model_metadata(oip_model.name)["versions"] == [oip_model.version]
    assert client.get_server_metadata()["name"] == "diabetes-serving"


def test_one_input_per_feature_gives_the_models_numbers(
    client: Any, oip_model: LinearModel
) -> None:
    X = _features(500)
    result = client.infer(
        oip_model.name,
        _inputs(("bmi", "FP64", X[:, 0]), ("bp", "FP64", X[:, 1])),
        request_id="rest-1",
    )
    assert result.as_numpy("predict").tolist() == oip_model.predict(X).tolist()
    response = result.get_response()
    assert response["id"] == "rest-1"
    assert response["model_version"] == oip_model.version
    assert [output["name"] for output in response["outputs"]] == ["predict"]


def test_one_matrix_fp32_and_versioned_route(client: Any, oip_model: LinearModel) -> None:
    X = _features(BATCH_LIMIT, seed=2)
    result = client.infer(
        oip_model.name, _inputs(("input-0", "FP64", X)), model_version=oip_model.version
    )
    assert result.as_numpy("predict").tolist() == oip_model.predict(X).tolist()
    X32 = X[:10].astype(np.float32)
    result = client.infer(
        oip_model.name, _inputs(("bmi", "FP32", X32[:, :1]), ("bp", "FP32", X32[:, 1:]))
    )
    assert result.as_numpy("predict").tolist() == (
        oip_model.predict(X32.astype(np.float64)).tolist()
    )


def test_binary_tensor_data_as_tritonclient_sends_by_default(
    client: Any, oip_model: LinearModel
) -> None:
    X = _features(300, seed=5)
    X32 = X.astype(np.float32)
    bmi = triton.InferInput("bmi", [300], "FP64")
    bmi.set_data_from_numpy(X[:, 0])  # binary_data=True is tritonclient's default
    bp = triton.InferInput("bp", [300, 1], "FP32")
    bp.set_data_from_numpy(X32[:, 1:])
    result = client.infer(oip_model.name, [bmi, bp])
    expected = oip_model.predict(np.column_stack([X[:, 0], X32[:, 1].astype(np.float64)]))
    assert result.as_numpy("predict").tolist() == expected.tolist()
    matrix = client.infer(oip_model.name, _inputs(("input-0", "FP64", X), binary=True))
    assert matrix.as_numpy("predict").tolist() == oip_model.predict(X).tolist()


def test_interval_bounds_when_asked(client: Any, oip_model: LinearModel) -> None:
    X = _features(40, seed=3)
    columns = [X[:, 0], X[:, 1]]
    predictions = oip_model.predict_columns(columns)
    half = oip_model.interval_half_width(columns)
    inputs = _inputs(("input-0", "FP64", X))
    result = client.infer(oip_model.name, inputs, parameters={"include_intervals": True})
    assert result.as_numpy("lower").tolist() == (predictions - half).tolist()
    assert result.as_numpy("upper").tolist() == (predictions + half).tolist()
    result = client.infer(oip_model.name, inputs, outputs=_outputs("lower"))
    assert result.as_numpy("lower").tolist() == (predictions - half).tolist()
    assert result.as_numpy("predict") is None


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        (
            [("input-0", "INT32", np.ones((3, 2), dtype=np.int32))],
            "inputs[0] (input-0): datatype INT32 is not supported; send FP64 or FP32",
        ),
        ([("input-0", "FP64", np.ones((3, 3)))], "inputs[0] (input-0): shape [3, 3] is not [N, 2]"),
        (
            [("input-0", "FP64", np.ones((BATCH_LIMIT + 1, 2)))],
            f"batch of {BATCH_LIMIT + 1} records is over the limit of {BATCH_LIMIT} records",
        ),
        ([("bmi", "FP64", np.ones(2))], "input bp is missing"),
    ],
)
def test_bad_inputs_are_400_with_the_services_message(
    client: Any, oip_model: LinearModel, tensors: list[Any], message: str
) -> None:
    with pytest.raises(InferenceServerException) as error:
        client.infer(oip_model.name, _inputs(*tensors))
    assert error.value.status() == "400"
    assert message in error.value.message()


def test_unknown_model_is_404_naming_the_served_one(client: Any, oip_model: LinearModel) -> None:
    for name, version in (("other", ""), (oip_model.name, "v0")):
        with pytest.raises(InferenceServerException) as error:
            client.infer(name, _inputs(("input-0", "FP64", np.ones((1, 2)))), version)
        assert error.value.status() == "404"
        assert f'serves model "{oip_model.name}" version "{oip_model.version}"' in (
            error.value.message()
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not a V2 inference request: JSON is malformed"),
        (b'{"inputs": [], "extra": 1}', "Object contains unknown field `extra`"),
        (b'{"inputs": [{"name": "bmi", "shape": [1]}]}', "missing required field `datatype`"),
        (
            b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [[1, "a"]]}]}',
            "inputs[0] (x): data must hold numbers only",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", '
            b'"data": [[1], [2, 3]]}]}',
            "inputs[0] (x): data is nested unevenly",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64"}]}',
            "inputs[0] (x): data is missing",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", '
            b'"parameters": {"binary_data_size": 16}}]}',
            "binary_data_size add up to 16 bytes but 0 bytes follow the JSON",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 1e999]}]}',
            "Number out of range - at `$.inputs[0].data[1]`",
        ),
    ],
)
def test_malformed_bodies_are_400_with_the_v2_error_object(
    oip_stack: Stack, oip_model: LinearModel, body: bytes, message: str
) -> None:
    url = f"{oip_stack.http_url}/v2/models/{oip_model.name}/infer"
    reply = requests.post(url, data=body, timeout=10)
    assert reply.status_code == 400
    assert reply.headers["content-type"] == "application/json"
    document = reply.json()
    assert set(document) == {"error"}
    assert message in document["error"]


def _edge_features(model: LinearModel) -> np.ndarray:
    """Rows whose predictions are written with exponents: at the input limit (~1e156),
    where the prediction cancels to almost zero (~1e-14), tiny and signed-zero inputs."""
    limit = model.input_limit
    root = -model.intercept / model.coefficients[0]
    bmi = [limit, -limit, limit / 7, 1e14, 1e19, root, np.nextafter(root, 1.0), 5e-324, -0.0]
    return np.column_stack([bmi, [0.0, 0.0, -limit / 5, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0]])


def test_edge_values_read_back_bit_for_bit_in_the_protocols_json(
    oip_stack: Stack, client: Any, oip_model: LinearModel
) -> None:
    X = _edge_features(oip_model)
    columns = [X[:, 0], X[:, 1]]
    predictions = oip_model.predict(X)
    half = oip_model.interval_half_width(columns)
    expected = {"predict": predictions, "lower": predictions - half, "upper": predictions + half}
    document = {
        "inputs": [
            {"name": "input-0", "shape": list(X.shape), "datatype": "FP64", "data": X.tolist()}
        ],
        "parameters": {"include_intervals": True},
    }
    url = f"{oip_stack.http_url}/v2/models/{oip_model.name}/infer"
    for request_id in (None, "", "edge-1"):
        sent = document if request_id is None else {**document, "id": request_id}
        reply = requests.post(url, json=sent, timeout=10)
        assert (reply.status_code, reply.headers["content-type"]) == (200, "application/json")
        assert re.search(r"[0-9]e\+?15[0-9]", reply.text)
        assert re.search(r"[0-9]e-1[0-9]", reply.text)
        answer = reply.json()
        typed = msgspec.json.decode(reply.content, type=InferenceResponse)  # as described
        assert (typed.model_name, typed.id) == (oip_model.name, request_id)
        order = ["model_name", "model_version", "outputs"]
        assert list(answer) == (order if request_id is None else [*order, "id"])
        assert answer.get("id") == request_id
        assert [list(output) for output in answer["outputs"]] == [
            ["name", "shape", "datatype", "data"]
        ] * 3
        for output in answer["outputs"]:
            assert (output["shape"], output["datatype"]) == ([len(X)], "FP64")
            values = np.array(output["data"], dtype=np.float64)
            assert values.view(np.uint64).tolist() == (
                expected[output["name"]].view(np.uint64).tolist()
            ), output["name"]
    # Triton's client parses with rapidjson: the exponents and digits read back exactly.
    result = client.infer(
        oip_model.name,
        _inputs(("input-0", "FP64", X)),
        outputs=_outputs("predict", "lower", "upper"),
    )
    for name, values in expected.items():
        assert result.as_numpy(name).view(np.uint64).tolist() == values.view(np.uint64).tolist()
