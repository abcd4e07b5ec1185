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

from model.data import Split
from model.estimator import SimpleLinearRegression
from model.evaluation import feature_statistics, interval_terms
from model.features import FEATURE_NAMES, SCALED


def features_slug(features: tuple[str, ...], units: Mapping[str, str] | None = None) -> str:
    """`bmi`, `bmi-bp`, or `all` for the ten features; `-raw` added when any feature is in
    raw units, so a name says which units a model reads."""
    slug = "all" if features == FEATURE_NAMES else "-".join(features)
    if units and any(units[name] != SCALED for name in features):
        slug += "-raw"
    return slug


def artifact_name(features: tuple[str, ...], units: Mapping[str, str] | None = None) -> str:
    """The model's name, also its file's stem: `diabetes-bmi`, `diabetes-bmi-raw`, ..."""
    return f"diabetes-{features_slug(features, units)}"


def default_version(
    slug: str, fingerprint: str, estimator: SimpleLinearRegression, now: datetime
) -> str:
    """`<slug>-<UTC date>-<8 hex of a hash of the training data and the fit>`."""
    fit = json.dumps([fingerprint, estimator.coef_.tolist(), estimator.intercept_])
    short = hashlib.sha256(fit.encode()).hexdigest()[:8]
    return f"{slug}-{now:%Y%m%d}-{short}"


def build_document(
    estimator: SimpleLinearRegression,
    split: Split,
    metrics: Mapping[str, float],
    hyperparameters: Mapping[str, Any],
    version: str | None = None,
    now: datetime | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The artifact's content, everything but `format`, `format_version` and `checksum`."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    data = split.dataset
    fingerprint = split.fingerprint()
    fitted = estimator.predict(split.X_train)
    slug = features_slug(split.features, data.units)
    return {
        "name": name or f"diabetes-{slug}",
        "version": version or default_version(slug, fingerprint, estimator, now),
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "features": list(split.features),
        "units": {feature: data.units[feature] for feature in split.features},
        "scaling": data.scaling.to_document() if data.scaling else None,
        "coefficients": estimator.coef_.tolist(),
        "intercept": estimator.intercept_,
        "feature_stats": feature_statistics(split.X_train, split.features),
        "interval": interval_terms(split.X_train, split.y_train, fitted),
        "metrics": dict(metrics),
        "training_data": {
            "source": data.source,
            "target": data.target,
            "fingerprint": fingerprint,
            "data_fingerprint": data.fingerprint(),
            "n_rows": data.n_rows,
            "n_train": split.n_train,
            "n_test": split.n_test,
            "split": {
                "method": split.method,
                "test_size": split.test_size,
                "random_state": split.random_state,
                "description": split.description,
            },
        },
        "hyperparameters": dict(hyperparameters),
        "library_versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
        },
    }
