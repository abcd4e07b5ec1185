"""`diabetes-train`'s entry point: says which extra to install when training's packages are
missing (the service's wheel serves without scikit-learn, SciPy or Matplotlib)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

TRAIN_EXTRA_HINT = (
    "diabetes-train needs the training packages ({missing} is not installed): "
    "pip install 'diabetes-serving[train]'"
)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from model import train
    except ModuleNotFoundError as exc:
        missing = (exc.name or "a training package").split(".")[0]
        print(TRAIN_EXTRA_HINT.format(missing=missing), file=sys.stderr)
        return 2
    return train.main(argv)


def build_parser() -> argparse.ArgumentParser:
    """diabetes-train's flags (model/train.py), for the docs. Their defaults come from the
    estimator, so this needs the training packages too."""
    from model import train

    return train.build_parser()
