"""The diabetes data set's feature names, in the data set's column order, and their units.

`FEATURE_NAMES` is the contract's `Record` (protos/diabetes/v1/prediction.proto), field for
field; `model/` imports no generated code, so a unit test holds the two together.
"""

from __future__ import annotations

FEATURE_NAMES: tuple[str, ...] = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
DEFAULT_FEATURES: tuple[str, ...] = ("bmi",)

# The unit of a feature scaled as scikit-learn's data set is: (raw - mean) / (std * sqrt(n)).
SCALED = "scaled"
# Raw clinical units, as in `load_diabetes(scaled=False)` (Efron et al. 2004).
RAW_UNITS: dict[str, str] = {
    "age": "years",
    "sex": "code 1 or 2",
    "bmi": "kg/m2",
    "bp": "mm Hg",
    "s1": "mg/dL",  # total serum cholesterol (tc)
    "s2": "mg/dL",  # low-density lipoproteins (ldl)
    "s3": "mg/dL",  # high-density lipoproteins (hdl)
    "s4": "ratio",  # total cholesterol / HDL (tch)
    "s5": "log mg/dL",  # natural log of serum triglycerides (ltg)
    "s6": "mg/dL",  # blood sugar (glu)
}


def resolve_features(spec: str) -> tuple[str, ...]:
    """Turn a command-line feature spec (`bmi`, `bmi,bp`, `all`) into names in column order."""
    if spec.strip().lower() == "all":
        return FEATURE_NAMES
    names = [name.strip().lower() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in FEATURE_NAMES]
    if unknown or not names:
        raise ValueError(
            f"unknown feature(s) {unknown or spec!r}; "
            f"choose from {', '.join(FEATURE_NAMES)} or 'all'"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"feature listed twice in {spec!r}")
    return tuple(name for name in FEATURE_NAMES if name in names)
