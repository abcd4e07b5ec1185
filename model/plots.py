"""PNG figures of a training run: the fit, and the loss curve of gradient descent.

Figures are drawn with matplotlib's object API on the Agg canvas: no display, no pyplot
global state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from model.artifact import LinearModel
from model.data import Split
from model.estimator import SimpleLinearRegression
from model.linear import FloatArray


def plot_fit(model: LinearModel, split: Split, path: Path) -> Path:
    """One feature: the data, the fitted line and its 95% prediction band. Several
    features: predicted against actual, with the identity line."""
    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.add_subplot()
    if len(split.features) == 1:
        feature = split.features[0]
        _scatter_split(axes, split.X_train[:, 0], split.y_train, split.X_test[:, 0], split.y_test)
        everything = np.concatenate([split.X_train[:, 0], split.X_test[:, 0]])
        grid = np.linspace(everything.min(), everything.max(), 200)
        line = model.predict_columns([grid])
        half = model.interval_half_width([grid])
        confidence = round(model.interval.confidence * 100)
        axes.plot(grid, line, color="black", label="fit")
        axes.fill_between(
            grid,
            line - half,
            line + half,
            color="grey",
            alpha=0.2,
            label=f"{confidence}% prediction interval",
        )
        axes.set_xlabel(f"{feature} ({model.units[feature]})")
        axes.set_ylabel("disease progression")
        axes.set_title(
            f"{model.name}: y = {model.coefficients[0]:.2f}·{feature} + {model.intercept:.2f}"
        )
    else:
        train_pred = model.predict(split.X_train)
        test_pred = model.predict(split.X_test)
        _scatter_split(axes, split.y_train, train_pred, split.y_test, test_pred)
        low = min(split.y_train.min(), split.y_test.min())
        high = max(split.y_train.max(), split.y_test.max())
        axes.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
        axes.set_xlabel("actual disease progression")
        axes.set_ylabel("predicted")
        axes.set_title(f"{model.name}: predicted against actual ({len(split.features)} features)")
    test_r2 = model.metrics.get("test_r2")
    if test_r2 is not None:
        axes.text(0.02, 0.97, f"test R² = {test_r2:.4f}", transform=axes.transAxes, va="top")
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_loss(estimator: SimpleLinearRegression, path: Path) -> Path:
    """Training objective and gradient norm against iteration (log scale)."""
    figure = Figure(figsize=(9, 4), layout="constrained")
    loss_axes, gradient_axes = figure.subplots(1, 2)
    iterations = np.arange(len(estimator.loss_curve_))
    unit = "iteration" if estimator.batch_size is None else "epoch"
    plural = "" if estimator.n_iter_ == 1 else "s"
    loss_axes.plot(iterations, estimator.loss_curve_, marker="." if len(iterations) < 50 else "")
    loss_axes.set_xlabel(unit)
    loss_axes.set_ylabel("training objective (MSE + L2 term)")
    loss_axes.set_title(
        f"objective {estimator.loss_curve_[-1]:.2f} after {estimator.n_iter_} {unit}{plural}"
    )
    # An exact zero (a one-step solve) cannot sit on a log axis.
    norms = np.maximum(estimator.gradient_norm_curve_, np.finfo(np.float64).tiny)
    gradient_axes.semilogy(iterations, norms, marker="." if len(iterations) < 50 else "")
    gradient_axes.axhline(
        estimator.tol, color="grey", linestyle="--", label=f"tol {estimator.tol:g}"
    )
    gradient_axes.set_xlabel(loss_axes.get_xlabel())
    gradient_axes.set_ylabel("gradient norm (standardised)")
    gradient_axes.set_title("converged" if estimator.converged_ else "stopped at max_iter")
    gradient_axes.legend()
    for axes in (loss_axes, gradient_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _save(figure, path)


def _scatter_split(
    axes: Axes, x_train: FloatArray, y_train: FloatArray, x_test: FloatArray, y_test: FloatArray
) -> None:
    axes.scatter(x_train, y_train, s=12, alpha=0.45, color="tab:blue", label="train")
    axes.scatter(x_test, y_test, s=28, color="tab:orange", edgecolor="black", label="test")


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(path)
    return path
