"""Assemble the artifact document of a trained model (`model.artifact` seals and saves it)."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import scipy
import sklearn

from model.data import DATASET, FEATURE_SCALING, TARGET, Split
from model.estimator import SimpleLinearRegression
from model.evaluation import feature_statistics, interval_terms
from model.features import FEATURE_NAMES


def features_slug(features: tuple[str, ...]) -> str:
    """`bmi`, `bmi-bp`, or `all` for the ten features."""
    return "all" if features == FEATURE_NAMES else "-".join(features)


def artifact_name(features: tuple[str, ...]) -> str:
    """The model's name, also its file's stem: `diabetes-bmi`, `diabetes-all`, ..."""
    return f"diabetes-{features_slug(features)}"


def default_version(
    features: tuple[str, ...], fingerprint: str, estimator: SimpleLinearRegression, now: datetime
) -> str:
    """`<features>-<UTC date>-<8 hex of a hash of the training data and the fit>`."""
    fit = json.dumps([fingerprint, estimator.coef_.tolist(), estimator.intercept_])
    short = hashlib.sha256(fit.encode()).hexdigest()[:8]
    return f"{features_slug(features)}-{now:%Y%m%d}-{short}"


def build_document(
    estimator: SimpleLinearRegression,
    split: Split,
    metrics: Mapping[str, float],
    hyperparameters: Mapping[str, Any],
    version: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The artifact's content, everything but `format`, `format_version` and `checksum`."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    fingerprint = split.fingerprint()
    fitted = estimator.predict(split.X_train)
    return {
        "name": artifact_name(split.features),
        "version": version or default_version(split.features, fingerprint, estimator, now),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": list(split.features),
        "coefficients": estimator.coef_.tolist(),
        "intercept": estimator.intercept_,
        "feature_stats": feature_statistics(split.X_train, split.features),
        "interval": interval_terms(split.X_train, split.y_train, fitted),
        "metrics": dict(metrics),
        "training_data": {
            "dataset": DATASET,
            "target": TARGET,
            "feature_scaling": FEATURE_SCALING,
            "fingerprint": fingerprint,
            "n_train": split.n_train,
            "n_test": split.n_test,
            "split": split.description,
        },
        "hyperparameters": dict(hyperparameters),
        "library_versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
        },
    }
