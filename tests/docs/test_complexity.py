"""The deterministic figures of the committed complexity run (sizes, iterations, condition
numbers) are what a fresh fit gives (this trains, so it is a test: `make check` only checks
the run against itself, tools/docs/complexity_run.py); timings are machine-dependent and not
checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.docs import complexity_run, measure_complexity


def test_committed_run_matches_a_fresh_fit() -> None:
    assert measure_complexity.committed_facts_problems() == []


def test_a_changed_iteration_count_is_caught(tmp_path: Path) -> None:
    measure = measure_complexity
    run = json.loads(complexity_run.COMMITTED_RUN.read_text())
    run["convergence"][1]["iterations"] += 1
    changed = tmp_path / "complexity.json"
    changed.write_text(json.dumps(run))
    assert measure.committed_facts_problems(changed) != []


@pytest.mark.parametrize("label", ["BMI", "all 10"])
def test_the_training_table_holds_each_model(label: str) -> None:
    run = json.loads(complexity_run.COMMITTED_RUN.read_text())
    assert label in [row[0] for row in run["tables"]["training"][1:]]


def test_the_committed_run_agrees_with_itself() -> None:
    assert complexity_run.stale() == []


def test_a_training_row_that_contradicts_the_facts_is_caught_without_a_fit(
    tmp_path: Path,
) -> None:
    run = json.loads(complexity_run.COMMITTED_RUN.read_text())
    row = run["tables"]["training"][1]
    row[3] = f"{int(row[3].replace(',', '')) + 1:,}"
    changed = tmp_path / "complexity.json"
    changed.write_text(json.dumps(run))
    assert complexity_run.stale(changed) == [
        f"{changed}: training table row {row[0]!r}: n, p, iterations "
        f"({row[1]}, {row[2]}, {int(row[3].replace(',', ''))}) differ"
    ]
