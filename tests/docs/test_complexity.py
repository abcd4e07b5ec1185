"""The deterministic figures of the committed complexity run (sizes, iterations, condition
numbers) are what a fresh fit gives: the same check as `measure_complexity.py --check` (run by
`make check`); timings are machine-dependent and not checked."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.docs.markdown import ROOT


def measure_module() -> ModuleType:
    path = ROOT / "tools" / "docs" / "measure_complexity.py"
    spec = importlib.util.spec_from_file_location("measure_complexity", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_committed_run_matches_a_fresh_fit() -> None:
    assert measure_module().committed_facts_problems() == []


def test_a_changed_iteration_count_is_caught(tmp_path: Path) -> None:
    measure = measure_module()
    run = json.loads(measure.COMMITTED_RUN.read_text())
    run["convergence"][1]["iterations"] += 1
    changed = tmp_path / "complexity.json"
    changed.write_text(json.dumps(run))
    assert measure.committed_facts_problems(changed) != []


@pytest.mark.parametrize("label", ["BMI", "all 10"])
def test_the_training_table_holds_each_model(label: str) -> None:
    run = json.loads(measure_module().COMMITTED_RUN.read_text())
    assert label in [row[0] for row in run["tables"]["training"][1:]]
