"""The diabetes data set's feature names, in the data set's column order."""

from __future__ import annotations

FEATURE_NAMES: tuple[str, ...] = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
DEFAULT_FEATURES: tuple[str, ...] = ("bmi",)


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
