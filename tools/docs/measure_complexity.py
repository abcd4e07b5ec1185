"""Measure what docs/complexity.md reports: training cost per iteration and to
convergence, and prediction cost per call and per record, on this machine.

    python -m tools.docs.measure_complexity            # prints Markdown tables
    python -m tools.docs.measure_complexity --quick    # fewer repeats
    python -m tools.docs.measure_complexity --json docs/results/complexity.json
                                                       # the committed run the docs render

`committed_facts_problems` compares the committed run's deterministic facts with a fresh fit
(tests/docs/test_complexity.py); `make check` only checks the run against itself
(tools/docs/complexity_run.py), without training.

Times are the best of several repeats (the least disturbed by other load); they vary by
machine, the iteration counts and condition numbers do not.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from model.artifact import LinearModel, load_artifact, save_artifact
from model.data import load_split
from model.document import build_document
from model.estimator import SimpleLinearRegression
from model.evaluation import regression_metrics
from model.features import FEATURE_NAMES
from model.linear import FloatArray
from tools.docs.complexity_run import COMMITTED_RUN

FIXED_ITERATIONS = 1000


@dataclass(frozen=True)
class Convergence:
    """The deterministic facts of a default fit."""

    label: str
    n_train: int
    n_features: int
    iterations: int
    condition_number: float


def best_time(action: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def convergence(label: str, features: Sequence[str]) -> tuple[Convergence, SimpleLinearRegression]:
    split = load_split(features)
    estimator = SimpleLinearRegression().fit(split.X_train, split.y_train)
    z = (split.X_train - split.X_train.mean(axis=0)) / split.X_train.std(axis=0)
    eigenvalues = np.linalg.eigvalsh(z.T @ z / len(z))
    facts = Convergence(
        label=label,
        n_train=split.n_train,
        n_features=len(split.features),
        iterations=int(estimator.n_iter_),
        condition_number=float(eigenvalues[-1] / eigenvalues[0]),
    )
    return facts, estimator


def convergence_facts() -> list[Convergence]:
    return [
        convergence("BMI", ["bmi"])[0],
        convergence("all 10", list(FEATURE_NAMES))[0],
    ]


def _fit_default(X: FloatArray, y: FloatArray) -> None:
    SimpleLinearRegression().fit(X, y)


def _explain_many(model: LinearModel, record: list[float], calls: int) -> None:
    for _ in range(calls):
        model.explain_one(record)


def _predict_batch(model: LinearModel, columns: list[FloatArray]) -> None:
    model.predict_columns(columns)
    model.interval_half_width(columns)


def _fit_fixed(X: FloatArray, y: FloatArray, iterations: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SimpleLinearRegression(max_iter=iterations, tol=0.0).fit(X, y)


def training_table(repeats: int) -> list[str]:
    rows = [
        "| Features | n | p | Iterations to tol 1e-8 | Condition number | "
        "Time to convergence | Time per iteration |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, features in (("BMI", ["bmi"]), ("all 10", list(FEATURE_NAMES))):
        facts, _ = convergence(label, features)
        split = load_split(features)
        total = best_time(partial(_fit_default, split.X_train, split.y_train), repeats)
        fixed = best_time(
            partial(_fit_fixed, split.X_train, split.y_train, FIXED_ITERATIONS),
            max(1, repeats // 2),
        )
        rows.append(
            f"| {label} | {facts.n_train} | {facts.n_features} | {facts.iterations:,} | "
            f"{facts.condition_number:.1f} | {_ms(total)} | {_us(fixed / FIXED_ITERATIONS)} |"
        )
    return rows


def scaling_table(repeats: int) -> list[str]:
    """Per-iteration time and peak memory of a fit against n, on synthetic data (p = 10)."""
    rng = np.random.default_rng(0)
    rows = [
        "| n (p = 10, synthetic) | Time per iteration | Peak memory of fit |",
        "|---|---|---|",
    ]
    for n in (1_000, 10_000, 100_000):
        X = rng.standard_normal((n, 10))
        y = X @ rng.standard_normal(10) + rng.standard_normal(n)
        iterations = 200
        seconds = best_time(partial(_fit_fixed, X, y, iterations), repeats)
        tracemalloc.start()
        _fit_fixed(X, y, iterations)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(f"| {n:,} | {_us(seconds / iterations)} | {peak / 2**20:.1f} MiB |")
    return rows


def model_for(features: Sequence[str], folder: Path) -> LinearModel:
    split = load_split(features)
    estimator = SimpleLinearRegression().fit(split.X_train, split.y_train)
    metrics = regression_metrics(split.y_test, estimator.predict(split.X_test), "test")
    document = build_document(estimator, split, metrics, estimator.get_params())
    path = folder / f"{len(features)}.json"
    save_artifact(document, path)
    return load_artifact(path)


def prediction_table(repeats: int) -> list[str]:
    rng = np.random.default_rng(1)
    rows = [
        "| Model | Operation | Records per call | Time per call | Time per record |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        for label, features in (("BMI", ["bmi"]), ("all 10", list(FEATURE_NAMES))):
            model = model_for(features, Path(folder))
            record = [0.01] * len(features)
            calls = 2_000
            one = best_time(partial(_explain_many, model, record, calls), 5)
            rows.append(
                f"| {label} | `explain_one` (Predict: prediction, interval, contributions) "
                f"| 1 | {_us(one / calls)} | {_us(one / calls)} |"
            )
            for size in (100, 10_000, 100_000):
                columns = [rng.uniform(-0.1, 0.1, size) for _ in features]
                seconds = best_time(partial(_predict_batch, model, columns), repeats)
                rows.append(
                    f"| {label} | `predict_columns` + `interval_half_width` (PredictBatch) "
                    f"| {size:,} | {_us(seconds)} | {_ns(seconds / size)} |"
                )
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _us(seconds: float) -> str:
    return _ms(seconds) if seconds >= 1e-3 else f"{seconds * 1e6:.1f} µs"


def _ns(seconds: float) -> str:
    return f"{seconds * 1e9:.1f} ns"


def committed_facts_problems(path: Path = COMMITTED_RUN) -> list[str]:
    """Where the committed run's deterministic facts (and its training table's n, p,
    iterations and condition number) differ from a fresh fit."""
    run = json.loads(path.read_text())
    fresh = {fact.label: fact for fact in convergence_facts()}
    committed = {fact["label"]: fact for fact in run["convergence"]}
    problems = []
    if set(committed) != set(fresh):
        problems.append(f"labels {sorted(committed)} != {sorted(fresh)}")
    for label, fact in fresh.items():
        saved = committed.get(label, {})
        for name in ("n_train", "n_features", "iterations"):
            if saved.get(name) != getattr(fact, name):
                problems.append(f"{label}: {name} {saved.get(name)} != {getattr(fact, name)}")
        if abs(float(saved.get("condition_number", 0.0)) - fact.condition_number) > 0.05:
            problems.append(f"{label}: condition number differs from a fresh fit")
    for label, n, p, iterations, condition, *_times in run["tables"]["training"][1:]:
        row_fact = fresh.get(label)
        if row_fact is None or (int(n), int(p), int(iterations.replace(",", ""))) != (
            row_fact.n_train,
            row_fact.n_features,
            row_fact.iterations,
        ):
            problems.append(f"training table row {label!r} differs from a fresh fit")
        elif abs(float(condition) - row_fact.condition_number) > 0.05:
            problems.append(f"training table row {label!r}: condition number differs")
    return problems


def cells(rows: Sequence[str]) -> list[list[str]]:
    """Markdown table rows as lists of cells (header first, no separator)."""
    return [
        [cell.strip() for cell in row.strip().strip("|").split("|")]
        for row in rows
        if not row.startswith("|---")
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, help="also write the run here (docs/results/...)")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 9
    tables = {
        "training": training_table(repeats),
        "scaling": scaling_table(repeats),
        "prediction": prediction_table(repeats),
    }
    for title, table in zip(
        (
            "Training (scikit-learn's diabetes data)",
            "Training cost against n",
            "Prediction, in process (no RPC)",
        ),
        tables.values(),
        strict=True,
    ):
        print(f"\n{title}\n")
        print("\n".join(table))
    if args.json:
        run = {
            "repeats": repeats,
            "convergence": [asdict(fact) for fact in convergence_facts()],
            "tables": {name: cells(rows) for name, rows in tables.items()},
        }
        args.json.write_text(json.dumps(run, indent=1, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
