"""The diabetes progression model: estimator, artifact, training (no transport code here).

`SimpleLinearRegression` is imported lazily so that loading an artifact for serving
does not import scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model.artifact import ArtifactError, LinearModel, load_artifact, save_artifact

if TYPE_CHECKING:
    from model.estimator import SimpleLinearRegression

__all__ = [
    "ArtifactError",
    "LinearModel",
    "SimpleLinearRegression",
    "load_artifact",
    "save_artifact",
]


def __getattr__(name: str) -> Any:
    if name == "SimpleLinearRegression":
        from model.estimator import SimpleLinearRegression

        return SimpleLinearRegression
    raise AttributeError(f"module 'model' has no attribute {name!r}")
