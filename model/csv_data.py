"""Read a user's training rows from a CSV file, refusing anything the trainer cannot use.

The header names the columns: the contract's feature names (`age, sex, bmi, ...`) and the
target; other columns are ignored. Every error names the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.data import DataError, Dataset, Units
from model.features import FEATURE_NAMES, RAW_UNITS, SCALED


def read_csv(path: Path, target: str, features: Sequence[str], units: Units = "raw") -> Dataset:
    """The `features` (put in data-set column order) and `target` columns of a CSV file.

    `units` says what the feature columns hold: `"raw"` clinical units (`RAW_UNITS`) or
    `"scaled"`, the bundled data set's scaled values. Raises `DataError`.
    """
    features = tuple(name for name in FEATURE_NAMES if name in features)
    name = Path(path).name
    if target in features:
        raise DataError(f"the target column {target!r} is also listed as a feature")
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            rows = list(csv.reader(file))
    except OSError as exc:
        raise DataError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{name} is not a readable UTF-8 CSV file: {exc}") from exc
    if not rows:
        raise DataError(f"{name} is empty")
    header = [cell.strip() for cell in rows[0]]
    positions = _column_positions(name, header, (*features, target))

    X = np.empty((len(rows) - 1, len(features)), dtype=np.float64)
    y = np.empty(len(rows) - 1, dtype=np.float64)
    count = 0
    for line, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        if len(cells) != len(header):
            raise DataError(
                f"{name}, line {line}: {len(cells)} cells, the header has {len(header)}"
            )
        for j, feature in enumerate(features):
            X[count, j] = _number(name, line, feature, cells[positions[feature]])
        y[count] = _number(name, line, target, cells[positions[target]])
        count += 1
    if count == 0:
        raise DataError(f"{name} has a header but no data rows")
    return Dataset(
        features=features,
        X=np.ascontiguousarray(X[:count]),
        y=np.ascontiguousarray(y[:count]),
        source=name,
        target=target,
        units={f: SCALED if units == "scaled" else RAW_UNITS[f] for f in features},
        scaling=None,
    )


def _column_positions(name: str, header: list[str], wanted: Sequence[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for index, column in enumerate(header, start=1):
        if column in seen:
            raise DataError(
                f"{name}: column {column!r} appears twice in the header "
                f"(columns {seen[column]} and {index})"
            )
        seen[column] = index
    missing = [column for column in wanted if column not in seen]
    if missing:
        raise DataError(
            f"{name}: no column {', '.join(map(repr, missing))} in the header "
            f"(it has {', '.join(header) or 'nothing'})"
        )
    return {column: seen[column] - 1 for column in wanted}


def _number(name: str, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise DataError(f"{name}, line {line}, column {column!r}: empty cell")
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{name}, line {line}, column {column!r}: {text!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataError(f"{name}, line {line}, column {column!r}: {text!r} is not finite")
    return value
