"""In-process ceilings for a 10,000-record batch: what the arithmetic alone costs, and what
protobuf decode → predict → encode costs with no server around it; and every bulk face's
floors, stage by stage, at 10,000 and 100,000 records (`bench.floors`).

Usage: python -m bench.ceilings MODEL_PATH [RECORDS]   (prints one JSON object; run it pinned)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import floors, payloads
from diabetes.v1 import prediction_pb2 as pb
from model.artifact import load_artifact
from model.linear import FloatArray
from server.wire import packed_doubles

CEILING_RECORDS = 10_000


def best_seconds(call: Callable[[], object], budget: float = 0.3, rounds: int = 5) -> float:
    """Fastest mean time of one call over `rounds` rounds of about `budget`/`rounds` s each."""
    call()
    start = time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget / rounds / once))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def measure(model_path: Path, records: int = CEILING_RECORDS) -> dict[str, float]:
    """Records per second for each ceiling."""
    model = load_artifact(model_path)
    if model.features != ("bmi",):
        raise SystemExit(f"the ceilings assume the BMI-only model, got {model.features}")
    values = np.array(payloads.bmi_values(records))
    columns_bytes = payloads.batch_columns_request(records)
    records_bytes = payloads.batch_records_request(records)
    version = model.version

    def numpy_predict() -> FloatArray:
        return model.predict_columns([values])

    def encode_packed(predictions: FloatArray) -> bytes:
        reply = pb.PredictBatchResponse.FromString(packed_doubles(2, predictions))
        reply.model_version = version
        return reply.SerializeToString()

    def encode_api(predictions: FloatArray) -> bytes:
        return pb.PredictBatchResponse(
            predictions=predictions.tolist(), model_version=version
        ).SerializeToString()

    def columns_packed() -> bytes:
        request = pb.PredictBatchRequest.FromString(columns_bytes)
        return encode_packed(model.predict_columns([np.array(request.columns.bmi)]))

    def columns_api() -> bytes:
        request = pb.PredictBatchRequest.FromString(columns_bytes)
        return encode_api(model.predict_columns([np.array(request.columns.bmi)]))

    def records_packed() -> bytes:
        request = pb.PredictBatchRequest.FromString(records_bytes)
        bmi = np.fromiter((r.bmi for r in request.records), np.float64, len(request.records))
        return encode_packed(model.predict_columns([bmi]))

    check = pb.PredictBatchResponse.FromString(columns_packed())
    if not np.array_equal(np.array(check.predictions), numpy_predict()):
        raise SystemExit("packed encoding does not round-trip")
    candidates = {
        "numpy_predict": numpy_predict,
        "protobuf_columns": columns_packed,
        "protobuf_columns_api_encode": columns_api,
        "protobuf_records": records_packed,
    }
    return {name: records / best_seconds(call) for name, call in candidates.items()}


def main(argv: list[str]) -> int:
    model_path = Path(argv[0])
    records = int(argv[1]) if len(argv) > 1 else CEILING_RECORDS
    model = load_artifact(model_path)
    document = {
        "records": records,
        "records_per_s": measure(model_path, records),
        "floors": floors.measure(model.coefficients, model.intercept, best_seconds),
    }
    print(json.dumps(document))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
