"""Runs INSIDE the MLServer venv (not the project's): trains the peer's model, writes its
model folder and its request bodies.

The peer serves the same scikit-learn LinearRegression as the service (BMI only, trained
on all but the last 20 rows) and, as a second model, the ten-feature one (all ten columns,
the same rows), so ten-feature calls compare like for like. They are saved with joblib
because that is what mlserver-sklearn loads; joblib/pickle is used for the peer only, never
by the service.

Usage: python peer_model.py SERVER_DIR BODIES_DIR VALUES_JSON
VALUES_JSON: {"single": x, "batches": {"n": [x, ...], ...}, "all_features": {"n": [[10
values], ...], ...}}. Prints one JSON line with the peer's predictions for `single` and for
the first ten-feature row, to check both systems serve the same models.
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
ALL_FEATURES_MODEL_NAME = "diabetes-lr-all"
BMI_COLUMN = 2
HELD_OUT_ROWS = 20


def train(model_dir: Path, name: str, columns: list[int] | None) -> LinearRegression:
    X, y = load_diabetes(return_X_y=True)
    inputs = X[:-HELD_OUT_ROWS] if columns is None else X[:-HELD_OUT_ROWS, columns]
    model = LinearRegression().fit(inputs, y[:-HELD_OUT_ROWS])
    model_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_dir / "model.joblib")
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return model


def rest_body(rows: list[list[float]]) -> bytes:
    data = [v for row in rows for v in row]
    shape = [len(rows), len(rows[0])]
    tensor = {"name": "input-0", "shape": shape, "datatype": "FP64", "data": data}
    return json.dumps({"inputs": [tensor]}, separators=(",", ":")).encode()


def grpc_body(rows: list[list[float]], model_name: str) -> bytes:
    request = dataplane.ModelInferRequest(model_name=model_name)
    shape = [len(rows), len(rows[0])]
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=shape)
    tensor.contents.fp64_contents.extend(v for row in rows for v in row)
    message: bytes = request.SerializeToString()
    return b"\x00" + len(message).to_bytes(4, "big") + message


def write_bodies(bodies_dir: Path, name: str, rows: list[list[float]], model_name: str) -> None:
    (bodies_dir / f"peer-rest-{name}.json").write_bytes(rest_body(rows))
    (bodies_dir / f"peer-grpc-{name}.bin").write_bytes(grpc_body(rows, model_name))


def main(argv: list[str]) -> int:
    server_dir, bodies_dir, values_path = (Path(arg) for arg in argv)
    values = json.loads(values_path.read_text())
    model = train(server_dir / MODEL_NAME, MODEL_NAME, [BMI_COLUMN])
    all_model = train(server_dir / ALL_FEATURES_MODEL_NAME, ALL_FEATURES_MODEL_NAME, None)
    bodies_dir.mkdir(parents=True, exist_ok=True)
    inputs: dict[str, list[float]] = {"single": [values["single"]], **values["batches"]}
    for name, batch in inputs.items():
        write_bodies(bodies_dir, name, [[v] for v in batch], MODEL_NAME)
    first_row: list[float] = []
    for n, rows in values["all_features"].items():
        write_bodies(bodies_dir, f"all-{n}", rows, ALL_FEATURES_MODEL_NAME)
        first_row = rows[0]
    prediction = float(model.predict([[values["single"]]])[0])
    all_prediction = float(all_model.predict([first_row])[0]) if first_row else None
    print(json.dumps({"prediction": prediction, "all_features_prediction": all_prediction}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
