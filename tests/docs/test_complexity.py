"""The deterministic figures in docs/complexity.md (sizes, iterations, condition numbers)
are what a fresh fit gives; timings are machine-dependent and not checked."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.docs.markdown import ROOT

DOC = ROOT / "docs" / "complexity.md"


def measure_module() -> ModuleType:
    path = ROOT / "tools" / "docs" / "measure_complexity.py"
    spec = importlib.util.spec_from_file_location("measure_complexity", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def training_rows() -> dict[str, list[str]]:
    text = DOC.read_text()
    table = text.split("<!-- training-table -->", 1)[1].split("<!-- end-training-table -->", 1)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_training_table_matches_a_fresh_fit() -> None:
    rows = training_rows()
    facts = measure_module().convergence_facts()
    assert set(rows) == {fact.label for fact in facts}
    for fact in facts:
        n, p, iterations, condition, *_times = rows[fact.label]
        assert int(n) == fact.n_train
        assert int(p) == fact.n_features
        assert int(iterations.replace(",", "")) == fact.iterations
        assert abs(float(condition) - fact.condition_number) <= 0.05
