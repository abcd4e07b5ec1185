"""`python -m bench.shadow_cost`: what a shadow version costs a call's server work, in
process: the typed `Predict` and a 10,000-record `PredictBatch` through the servicer (as
registered, without the call observer), on a repository whose model has no shadow and on
the same repository with a shadow version. Best of `--repeats` runs of `--calls` calls;
only the difference between the two rows means anything on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import RAW_UNITS_ARTIFACT, load_artifact, save_artifact
from model.models_cli import add_version, move_labels
from server.faces.prediction_service import PredictionServicer
from server.inference import Inference, Limits
from server.model_store import ModelStore
from server.rpc import CallObserver
from server.shadow import Shadows

LIMITS = Limits(
    max_batch_records=100_000, batch_chunk_records=10_000, max_receive_message_bytes=64 << 20
)
BATCH = 10_000


def repository(root: Path) -> tuple[Path, str]:
    """RAW as stable and a second version of it (coefficient + 1) to shadow it."""
    stable = load_artifact(RAW_UNITS_ARTIFACT)
    add_version(root, RAW_UNITS_ARTIFACT)
    document: dict[str, Any] = {
        k: v
        for k, v in stable.document.items()
        if k not in ("checksum", "format", "format_version")
    }
    document["version"] = "bench-shadow"
    document["coefficients"] = [c + 1.0 for c in stable.document["coefficients"]]
    add_version(root, save_artifact(document, root.parent / "shadow.json"))
    return root, stable.name


def best_seconds(call: Callable[[], object], calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def measure(calls: int, repeats: int) -> dict[str, dict[str, float]]:
    """Both settings measured in turn, `repeats` rounds, the best of each kept (so a busy
    moment of a shared machine weighs on neither more than the other)."""
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        servicers: dict[str, tuple[PredictionServicer, Shadows]] = {}
        name = ""
        for setting in ("no shadow", "shadow"):
            root, name = repository(Path(folder) / setting.replace(" ", "-") / "models")
            if setting == "shadow":
                move_labels(root, name, "shadow", "bench-shadow", 0.0)
            store = ModelStore(root)
            shadows = Shadows(store)
            observer = CallObserver(access_log=None)
            core = Inference(store, LIMITS, observer, shadows)
            servicers[setting] = (PredictionServicer(core), shadows)
        single = pb.PredictRequest(model=name, record=pb.Record(bmi=31.0))
        batch = pb.PredictBatchRequest(
            model=name, records=[pb.Record(bmi=float(v)) for v in rng.uniform(18, 42, BATCH)]
        )
        results: dict[str, dict[str, float]] = {}
        for _ in range(repeats):
            for setting, (servicer, _shadows) in servicers.items():
                row = timings(servicer, single, batch, calls, 1)
                kept = results.setdefault(setting, row)
                for key, value in row.items():
                    kept[key] = min(kept[key], value)
        for setting, (_servicer, shadows) in servicers.items():
            compared = shadows.totals.samples()["compared"].values()
            results[setting]["records compared"] = sum(value[0] for value in compared)
        return results


def timings(
    servicer: PredictionServicer,
    single: pb.PredictRequest,
    batch: pb.PredictBatchRequest,
    calls: int,
    repeats: int,
) -> dict[str, float]:
    context: Any = None
    predict_us = 1e6 * best_seconds(lambda: servicer.Predict(single, context), calls, repeats)
    batch_us = 1e6 * best_seconds(
        lambda: list(servicer.PredictBatch(batch, context)), max(calls // 100, 5), repeats
    )
    return {"Predict (µs)": predict_us, f"PredictBatch {BATCH:,} (µs)": batch_us}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.shadow_cost", description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.calls, args.repeats)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    columns = [c for c in next(iter(results.values())) if c != "records compared"]
    print("| | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for setting, row in results.items():
        print(f"| {setting} | " + " | ".join(f"{row[c]:.1f}" for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
