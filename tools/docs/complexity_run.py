"""The committed complexity run (`docs/results/complexity.json`) checked without fitting
anything: its training table must state the same n, p, iterations and condition number as
its convergence facts, for the same models, and hold every table the docs render.

Whether those facts are what a fresh fit gives is a test (tests/docs/test_complexity.py,
`make test`), since it trains: `python -m tools.docs --check` (`make check`) trains nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_RUN = ROOT / "docs" / "results" / "complexity.json"
TABLES = ("training", "scaling", "prediction")
# Condition numbers are printed to one decimal in the table.
CONDITION_TOLERANCE = 0.05


def problems(run: dict[str, Any]) -> list[str]:
    """Where the run's training table and its convergence facts disagree."""
    found = [f"no {name!r} table" for name in TABLES if name not in run.get("tables", {})]
    if found:
        return found
    facts = {fact["label"]: fact for fact in run["convergence"]}
    rows = {row[0]: row for row in run["tables"]["training"][1:]}
    if set(rows) != set(facts):
        return [f"training table models {sorted(rows)} != convergence facts {sorted(facts)}"]
    for label, (_, n, p, iterations, condition, *_times) in rows.items():
        fact = facts[label]
        stated = (int(n), int(p), int(iterations.replace(",", "")))
        if stated != (fact["n_train"], fact["n_features"], fact["iterations"]):
            found.append(f"training table row {label!r}: n, p, iterations {stated} differ")
        if abs(float(condition) - float(fact["condition_number"])) > CONDITION_TOLERANCE:
            found.append(f"training table row {label!r}: condition number {condition} differs")
    return found


def stale(path: Path = COMMITTED_RUN) -> list[str]:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [f"{name}: {problem}" for problem in problems(json.loads(path.read_text()))]
