"""Make small, valid model artifacts for tests (closed-form fit, no training loop)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from scipy import stats
from sklearn.datasets import load_diabetes

from model.artifact import LinearModel, load_artifact, save_artifact
from model.data import BUNDLED_SOURCE, BUNDLED_TARGET, rows_fingerprint
from model.features import FEATURE_NAMES, SCALED


def write_test_artifact(
    path: Path,
    features: tuple[str, ...] = ("bmi",),
    version: str = "test-1",
    scale: float = 1.0,
    name: str = "diabetes-test",
) -> Path:
    """A least-squares model of the diabetes data on `features`; `scale` multiplies the
    coefficients so that two versions give visibly different predictions."""
    data = load_diabetes()
    columns = [FEATURE_NAMES.index(name) for name in features]
    X, y = data.data[:-20, columns], data.target[:-20]
    means = X.mean(axis=0)
    centred = X - means
    coefficients, *_ = np.linalg.lstsq(centred, y - y.mean(), rcond=None)
    coefficients = coefficients * scale
    intercept = float(y.mean() - means @ coefficients)
    residuals = y - (X @ coefficients + intercept)
    dof = len(y) - len(features) - 1
    document = {
        "name": name,
        "version": version,
        "created_at": "2026-01-01T00:00:00Z",
        "features": list(features),
        "units": dict.fromkeys(features, SCALED),
        "scaling": None,
        "coefficients": coefficients.tolist(),
        "intercept": intercept,
        "feature_stats": {
            name: {
                "mean": float(X[:, j].mean()),
                "std": float(X[:, j].std()),
                "min": float(X[:, j].min()),
                "max": float(X[:, j].max()),
            }
            for j, name in enumerate(features)
        },
        "interval": {
            "confidence": 0.95,
            "residual_std_error": float(np.sqrt(residuals @ residuals / dof)),
            "degrees_of_freedom": dof,
            "t_quantile": float(stats.t.ppf(0.975, dof)),
            "n_train": len(y),
            "xtx_inv_centered": np.linalg.inv(centred.T @ centred).tolist(),
        },
        "metrics": {"test_r2": 0.5},
        "training_data": {
            "source": f"{BUNDLED_SOURCE}(scaled=True)",
            "target": BUNDLED_TARGET,
            "fingerprint": rows_fingerprint(features, X, y),
            "data_fingerprint": rows_fingerprint(features, data.data[:, columns], data.target),
            "n_rows": len(data.target),
            "n_train": len(y),
            "n_test": 20,
            "split": {
                "method": "tail",
                "test_size": 20,
                "random_state": None,
                "description": "the last 20 rows test",
            },
        },
        "hyperparameters": {},
        "library_versions": {},
    }
    return save_artifact(document, path)


def make_test_model(features: tuple[str, ...] = ("bmi",)) -> LinearModel:
    """A loaded test model (the artifact is written to a temporary folder and removed)."""
    with tempfile.TemporaryDirectory() as folder:
        return load_artifact(write_test_artifact(Path(folder) / "model.json", features))
