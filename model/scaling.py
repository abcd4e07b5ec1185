"""Input scaling: how a raw clinical value becomes the scaled value a model reads.

scikit-learn's diabetes data set scales each feature as ``(raw - mean) / (std * sqrt(n))``
(population standard deviation over all n rows), so every column's squares sum to 1. A
model that reads scaled values records, per feature, the raw unit, `mean` and `scale` of
that transform. Numpy only: the server loads this with the artifact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from model.linear import FloatArray

STANDARD = "standard"
STANDARD_DESCRIPTION = (
    "each feature mean-centred and divided by its population standard deviation times "
    "sqrt(n), over all n rows of the data: scaled = (raw - mean) / scale"
)


@dataclass(frozen=True)
class FeatureScaling:
    raw_units: str
    mean: float
    scale: float

    def scale_value(self, raw: float) -> float:
        return (raw - self.mean) / self.scale

    def raw_value(self, scaled: float) -> float:
        return scaled * self.scale + self.mean


@dataclass(frozen=True)
class Scaling:
    """What turned raw values into a model's inputs, feature by feature."""

    method: str
    description: str
    features: Mapping[str, FeatureScaling]

    def to_document(self) -> dict[str, object]:
        return {
            "method": self.method,
            "description": self.description,
            "features": {
                name: {"raw_units": f.raw_units, "mean": f.mean, "scale": f.scale}
                for name, f in self.features.items()
            },
        }


def standard_scaling(
    X: FloatArray, features: Sequence[str], raw_units: Mapping[str, str]
) -> Scaling:
    """The data set's own scaling of the raw columns of X (one per feature)."""
    n = X.shape[0]
    means = X.mean(axis=0)
    scales = X.std(axis=0) * math.sqrt(n)
    constant = [name for name, scale in zip(features, scales, strict=True) if not scale > 0]
    if constant:
        raise ValueError(f"cannot scale constant column(s) {', '.join(constant)}")
    return Scaling(
        STANDARD,
        STANDARD_DESCRIPTION,
        {
            name: FeatureScaling(raw_units[name], float(mean), float(scale))
            for name, mean, scale in zip(features, means, scales, strict=True)
        },
    )


def apply_scaling(X: FloatArray, features: Sequence[str], scaling: Scaling) -> FloatArray:
    """X's raw columns (one per feature) in the scaled units."""
    means = np.array([scaling.features[name].mean for name in features])
    scales = np.array([scaling.features[name].scale for name in features])
    return np.ascontiguousarray((X - means) / scales, dtype=np.float64)
