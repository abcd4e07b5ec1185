"""Calls made with Triton's gRPC client, run in a child process by `test_grpc.py`.

`tritonclient.grpc` registers its own copy of the protocol (package `inference`) in
protobuf's default descriptor pool, as does the server's generated code; one process cannot
load both. The tests load the server's code elsewhere (e.g. the unit tests), so Triton's
client only ever runs here, in a spawned child, and returns plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

# (input name, datatype, values); the shape is the array's.
Input = tuple[str, str, np.ndarray]

# A protocol error comes back as {"error": (status, message)}: plain data, so that the parent
# never has to import this module (or tritonclient.grpc) to read it.


def health(target: str, model: str, version: str = "") -> dict[str, Any]:
    client = triton.InferenceServerClient(url=target)
    try:
        return {
            "live": client.is_server_live(),
            "ready": client.is_server_ready(),
            "model_ready": client.is_model_ready(model, version),
            "server": client.get_server_metadata(as_json=True),
            "model": client.get_model_metadata(model, version, as_json=True),
        }
    except InferenceServerException as exc:
        return {"error": (str(exc.status()), str(exc.message()))}
    finally:
        client.close()


def infer(
    target: str,
    model: str,
    inputs: Sequence[Input],
    version: str = "",
    outputs: Sequence[str] = (),
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    client = triton.InferenceServerClient(url=target)
    try:
        tensors = []
        for name, datatype, values in inputs:
            tensor = triton.InferInput(name, list(values.shape), datatype)
            tensor.set_data_from_numpy(values)
            tensors.append(tensor)
        result = client.infer(
            model,
            tensors,
            model_version=version,
            outputs=[triton.InferRequestedOutput(name) for name in outputs] or None,
            parameters=parameters,
            request_id="call-1",
        )
        response = result.get_response(as_json=True)
        answer = {output["name"]: result.as_numpy(output["name"]) for output in response["outputs"]}
        answer["_response"] = response
        return answer
    except InferenceServerException as exc:
        return {"error": (str(exc.status()), str(exc.message()))}
    finally:
        client.close()
