"""Runs INSIDE the MLServer venv (not the project's): trains the peer's model, writes its
model folder and its request bodies.

The peer serves the same scikit-learn LinearRegression as the service (BMI only, trained
on all but the last 20 rows). It is saved with joblib because that is what
mlserver-sklearn loads; joblib/pickle is used for the peer only, never by the service.

Usage: python peer_model.py MODEL_DIR BODIES_DIR VALUES_JSON
VALUES_JSON: {"single": x, "batches": {"n": [x, ...], ...}}. Prints one JSON line with
the peer's prediction for `single`, to check both systems serve the same model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib  # type: ignore[import-untyped, import-not-found, unused-ignore]
from mlserver.grpc import (  # type: ignore[import-not-found, unused-ignore]
    dataplane_pb2 as dataplane,
)
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

MODEL_NAME = "diabetes-lr"
BMI_COLUMN = 2
HELD_OUT_ROWS = 20


def train(model_dir: Path) -> LinearRegression:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X[:-HELD_OUT_ROWS, [BMI_COLUMN]], y[:-HELD_OUT_ROWS])
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return model


def rest_body(values: list[float]) -> bytes:
    tensor = {"name": "bmi", "shape": [len(values), 1], "datatype": "FP64", "data": values}
    return json.dumps({"inputs": [tensor]}, separators=(",", ":")).encode()


def grpc_body(values: list[float]) -> bytes:
    request = dataplane.ModelInferRequest(model_name=MODEL_NAME)
    tensor = request.inputs.add(name="bmi", datatype="FP64", shape=[len(values), 1])
    tensor.contents.fp64_contents.extend(values)
    message: bytes = request.SerializeToString()
    return b"\x00" + len(message).to_bytes(4, "big") + message


def main(argv: list[str]) -> int:
    model_dir, bodies_dir, values_path = (Path(arg) for arg in argv)
    values = json.loads(values_path.read_text())
    model = train(model_dir)
    bodies_dir.mkdir(parents=True, exist_ok=True)
    inputs: dict[str, list[float]] = {"single": [values["single"]], **values["batches"]}
    for name, batch in inputs.items():
        (bodies_dir / f"peer-rest-{name}.json").write_bytes(rest_body(batch))
        (bodies_dir / f"peer-grpc-{name}.bin").write_bytes(grpc_body(batch))
    prediction = float(model.predict([[values["single"]]])[0])
    print(json.dumps({"prediction": prediction}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
