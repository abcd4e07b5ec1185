"""`diabetes-train` / `python -m model`: train, evaluate, plot and write the artifact.

diabetes-train                                   # BMI only, into out/
diabetes-train --features all --search           # 10 features, grid search
diabetes-train --units raw                       # BMI in kg/m2 (the raw data set)
diabetes-train --data rows.csv --target y --features bmi,bp --output out/mine.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from command_settings import Setting, SettingsParser
from model.artifact import LinearModel, load_artifact, save_artifact
from model.csv_data import read_csv
from model.data import (
    DEFAULT_TEST_SIZE,
    UNIT_CHOICES,
    Dataset,
    Split,
    Units,
    bundled_dataset,
    split_dataset,
)
from model.document import build_document
from model.estimator import SimpleLinearRegression
from model.evaluation import regression_metrics
from model.features import resolve_features
from model.names import InvalidNameError, check_name
from model.plots import plot_fit, plot_loss

# Every learning rate here is stable on standardised data with up to 10 features
# (the Hessian's largest eigenvalue is at most n_features + l2).
SEARCH_GRID: dict[str, list[Any]] = {
    "learning_rate": ["auto", 0.1],
    "l2": [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
    "tol": [1e-6, 1e-8],
}
# Averaged mini-batch descent converges only as 1/epochs: looser tolerances.
MINI_BATCH_TOLERANCES = [1e-3, 1e-4]


def search_grid(batch_size: int | None) -> dict[str, list[Any]]:
    if batch_size is None:
        return SEARCH_GRID
    return {**SEARCH_GRID, "tol": MINI_BATCH_TOLERANCES}


@dataclass(frozen=True)
class Search:
    best_params: dict[str, Any]
    cv_r2: float
    cv_r2_std: float
    folds: int


SCALING_CHOICES = ("none", "standard")


def _flag(flag: str, help: str, default: Any, **kwargs: Any) -> Setting:
    """A training flag: no environment variable (a training run is what its command says)."""
    return Setting(flag, help, default=default, env=None, **kwargs)


def settings() -> tuple[Setting, ...]:
    # The estimator's hyperparameters: defaults from the estimator itself, never re-typed.
    defaults = SimpleLinearRegression().get_params()
    return (
        _flag(
            "--data",
            "CSV file of training rows: a header naming the feature columns (age, sex, bmi, "
            "bp, s1-s6) and the target (default: scikit-learn's bundled data set)",
            None,
            type=Path,
        ),
        _flag("--target", "the target column of --data (required with --data)", None),
        _flag(
            "--features",
            "comma-separated feature names, or 'all' for the 10 (default: %(default)s)",
            "bmi",
        ),
        _flag(
            "--units",
            "what the feature values are: 'scaled' (the data set's scaled values) or 'raw' "
            "(clinical units: years, kg/m2, mm Hg, ...); picks the bundled data set's version, "
            "or declares what --data holds (default: scaled for the bundled data, raw for "
            "--data)",
            None,
            choices=UNIT_CHOICES,
        ),
        _flag(
            "--scaling",
            "'standard' scales raw columns as the data set does, (raw - mean) / (std * "
            "sqrt(n)), and records it: the model then reads scaled values; 'none' keeps the "
            "units as they are (default: %(default)s)",
            "none",
            choices=SCALING_CHOICES,
        ),
        _flag(
            "--search",
            "grid-search learning rate, l2 and tol with K-fold cross-validation on the "
            "training rows (the corresponding flags are then ignored)",
            False,
            switch=True,
        ),
        _flag("--cv-folds", "folds for --search (default: %(default)s)", 5, type=int),
        _flag(
            "--output-dir",
            "where the plots and the artifact go (default: %(default)s)",
            Path("out"),
            type=Path,
        ),
        _flag(
            "--output",
            "artifact path (default: OUTPUT_DIR/NAME.json)",
            None,
            type=Path,
            dest="artifact",
            aliases=("--artifact",),
        ),
        _flag(
            "--name",
            "model name recorded in the artifact (default: diabetes-<features>, plus -raw "
            "for raw units)",
            None,
            type=_name_argument,
        ),
        _flag(
            "--version",
            "version string recorded in the artifact (default: <features>-<date>-<hash>)",
            None,
            type=_name_argument,
        ),
        _flag(
            "--test-size",
            "rows held out for testing (default: %(default)s)",
            DEFAULT_TEST_SIZE,
            type=int,
        ),
        _flag(
            "--random-state",
            "shuffle the rows with this seed before holding out the test rows (default: no "
            "shuffle, the last rows are the test rows)",
            None,
            type=int,
        ),
        _flag(
            "--seed",
            "seed for mini-batch shuffles and CV folds (default: %(default)s)",
            0,
            type=int,
        ),
        _flag(
            "--learning-rate",
            "'auto' (1/L) or a step size on standardised data (default: %(default)s)",
            defaults["learning_rate"],
            type=_learning_rate,
        ),
        _flag(
            "--l2",
            "L2 penalty on standardised coefficients (default: %(default)s)",
            defaults["l2"],
            type=float,
        ),
        _flag(
            "--tol", "gradient-norm tolerance (default: %(default)s)", defaults["tol"], type=float
        ),
        _flag("--max-iter", "iteration cap (default: %(default)s)", defaults["max_iter"], type=int),
        _flag(
            "--batch-size",
            "mini-batch size, unset for the full batch (default: %(default)s)",
            defaults["batch_size"],
            type=int,
        ),
    )


def build_parser() -> SettingsParser:
    parser = SettingsParser(
        prog="diabetes-train",
        description=(
            "Fit SimpleLinearRegression (gradient descent) on scikit-learn's diabetes data or "
            "on the rows of a CSV file, training on all rows but the last --test-size (or a "
            "seeded shuffle's) and testing on those; print test metrics, write a fit plot, a "
            "loss-curve plot and the JSON model artifact."
        ),
        # The help strings say which defaults matter, and how.
        formatter_class=argparse.HelpFormatter,
    )
    for setting in settings():
        parser.add_setting(setting)
    return parser


def _name_argument(text: str) -> str:
    """A --name or --version: a valid name (`model.names`), as a model repository needs."""
    try:
        return check_name(text, "")
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc).strip()) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        split = split_dataset(_dataset(args), args.test_size, args.random_state)
    except ValueError as exc:
        parser.error(str(exc))
    if args.search and args.cv_folds < 2:
        parser.error("--cv-folds must be at least 2")

    estimator = SimpleLinearRegression(
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        tol=args.tol,
        l2=args.l2,
        batch_size=args.batch_size,
        random_state=args.seed,
    )
    try:
        search = None
        if args.search:
            estimator, search = _grid_search(estimator, split, args.cv_folds, args.seed)
        else:
            estimator.fit(split.X_train, split.y_train)
    except ValueError as exc:
        print(f"diabetes-train: training failed: {exc}", file=sys.stderr)
        return 1

    metrics = {
        **regression_metrics(split.y_test, estimator.predict(split.X_test), "test"),
        **regression_metrics(split.y_train, estimator.predict(split.X_train), "train"),
        "n_iter": float(estimator.n_iter_),
    }
    hyperparameters: dict[str, Any] = dict(estimator.get_params())
    if search is not None:
        metrics["cv_r2"] = search.cv_r2
        metrics["cv_r2_std"] = search.cv_r2_std
        hyperparameters["search"] = {
            "method": "GridSearchCV",
            "cv": f"KFold(n_splits={search.folds}, shuffle=True, random_state={args.seed})",
            "scoring": "r2",
            "grid": search_grid(args.batch_size),
        }

    try:
        document = build_document(
            estimator, split, metrics, hyperparameters, version=args.version, name=args.name
        )
    except ValueError as exc:
        print(f"diabetes-train: training failed: {exc}", file=sys.stderr)
        return 1
    artifact_path = args.artifact or args.output_dir / f"{document['name']}.json"
    try:
        save_artifact(document, artifact_path)
        model = load_artifact(artifact_path)
        _check_served_predictions(model, estimator, split)
        fit_png = plot_fit(model, split, args.output_dir / f"{model.name}-fit.png")
        loss_png = plot_loss(estimator, args.output_dir / f"{model.name}-loss.png")
    except OSError as exc:
        print(f"diabetes-train: cannot write {exc.filename or 'output'}: {exc}", file=sys.stderr)
        return 1
    _report(model, estimator, split, search, [artifact_path, fit_png, loss_png])
    return 0


def _dataset(args: argparse.Namespace) -> Dataset:
    """The rows to train on, in the units the model will read; ValueError names what is
    wrong."""
    features = resolve_features(args.features)
    if args.data is None:
        if args.target is not None:
            raise ValueError("--target names a column of --data; the bundled data set has one")
        units: Units = args.units or "scaled"
        dataset = bundled_dataset(features, units)
    else:
        if not args.target:
            raise ValueError("--data needs --target COLUMN (the column to predict)")
        dataset = read_csv(args.data, args.target.strip(), features, args.units or "raw")
    if args.scaling == "standard":
        dataset = dataset.standardised()
    return dataset


def _grid_search(
    estimator: SimpleLinearRegression, split: Split, folds: int, seed: int
) -> tuple[SimpleLinearRegression, Search]:
    search = GridSearchCV(
        estimator,
        search_grid(estimator.batch_size),
        cv=KFold(n_splits=folds, shuffle=True, random_state=seed),
        scoring="r2",
        error_score="raise",
    )
    search.fit(split.X_train, split.y_train)
    best = search.best_index_
    return search.best_estimator_, Search(
        best_params=dict(search.best_params_),
        cv_r2=float(search.best_score_),
        cv_r2_std=float(search.cv_results_["std_test_score"][best]),
        folds=folds,
    )


def _check_served_predictions(
    model: LinearModel, estimator: SimpleLinearRegression, split: Split
) -> None:
    """The artifact must reproduce the estimator's predictions bit for bit."""
    X = np.concatenate([split.X_train, split.X_test])
    if not np.array_equal(model.predict(X), estimator.predict(X)):
        raise RuntimeError("the written artifact does not reproduce the estimator's predictions")


def _report(
    model: LinearModel,
    estimator: SimpleLinearRegression,
    split: Split,
    search: Search | None,
    written: list[Path],
) -> None:
    m = model.metrics
    state = "converged" if estimator.converged_ else "STOPPED AT max_iter"
    unit = "iteration" if estimator.batch_size is None else "epoch"
    plural = "" if estimator.n_iter_ == 1 else "s"
    terms = "  ".join(
        f"{name}={coef:.4f}" for name, coef in zip(model.features, model.coefficients, strict=True)
    )
    units = ", ".join(f"{name} [{model.units[name]}]" for name in model.features)
    lines = [
        f"Trained {model.name} on {units} from {split.dataset.source}: "
        f"{split.n_train} training rows, {split.n_test} test rows",
        f"  gradient descent: {estimator.n_iter_} {unit}{plural}, {state} "
        f"(gradient norm {estimator.gradient_norm_curve_[-1]:.2g}, tol {estimator.tol:g}, "
        f"step {estimator.learning_rate_:.4g})",
        f"  coefficients: {terms}",
        f"  intercept: {model.intercept:.4f}",
        f"Test split ({split.n_test} rows): MSE {m['test_mse']:.2f}  "
        f"MAE {m['test_mae']:.2f}  R² {m['test_r2']:.4f}",
        f"Train split: MSE {m['train_mse']:.2f}  MAE {m['train_mae']:.2f}  R² {m['train_r2']:.4f}",
    ]
    if search is not None:
        best = ", ".join(f"{key}={value}" for key, value in sorted(search.best_params.items()))
        lines.append(
            f"Cross-validation ({search.folds}-fold, R²): {search.cv_r2:.4f} "
            f"± {search.cv_r2_std:.4f}; best {best}"
        )
    lines.append(f"Version {model.version}; wrote:")
    lines.extend(f"  {path}" for path in written)
    print("\n".join(lines))


def _learning_rate(text: str) -> float | str:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the learning rate must be > 0, got {value}")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
