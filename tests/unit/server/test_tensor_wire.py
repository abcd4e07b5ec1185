"""V2 tensors checked on the wire before a ModelInfer parse (`server.bounds.tensor_wire`): what a
client sends for a full batch passes; one value, dimension or parameter more is named."""

from __future__ import annotations

from typing import Any

import pytest

from diabetes.inference import open_inference_grpc_pb2 as oip
from server.bounds.tensor_wire import tensor_problem

MOST = 1_000_000


def _request(**tensor: Any) -> bytes:
    inputs = [oip.ModelInferRequest.InferInputTensor(name="x", datatype="FP64", **tensor)]
    return oip.ModelInferRequest(model_name="m", inputs=inputs).SerializeToString()


def test_a_full_batch_matrix_passes() -> None:
    contents = oip.InferTensorContents(fp64_contents=[0.01] * MOST)
    assert tensor_problem(_request(shape=[100_000, 10], contents=contents), MOST) is None


@pytest.mark.parametrize(
    ("tensor", "problem"),
    [
        (
            {"contents": oip.InferTensorContents(fp64_contents=[0.01] * (MOST + 1))},
            f"inputs[0]: contents has more than {MOST} values",
        ),
        (
            {"contents": oip.InferTensorContents(int_contents=[1] * (MOST + 1))},
            f"inputs[0]: contents has more than {MOST} values",
        ),
        (
            {"contents": oip.InferTensorContents(bytes_contents=[b""] * (MOST + 1))},
            f"inputs[0]: contents has more than {MOST} values",
        ),
        ({"shape": [1] * 9}, "inputs[0]: shape has more than 8 dimensions"),
        (
            {"parameters": {f"p{i}": oip.InferParameter(bool_param=True) for i in range(65)}},
            "inputs[0]: more than 64 parameters",
        ),
    ],
    ids=["fp64", "packed-int32", "byte-strings", "dimensions", "parameters"],
)
def test_one_more_is_named(tensor: dict[str, Any], problem: str) -> None:
    assert tensor_problem(_request(**tensor), MOST) == problem
