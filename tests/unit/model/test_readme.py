"""model/README.md's CSV example runs as shown and writes what the README says."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from model import load_artifact
from model.train import main

README = Path(__file__).resolve().parents[3] / "model" / "README.md"


def _block(language: str) -> str:
    found = re.findall(rf"^```{language}\n(.*?)^```$", README.read_text(), re.DOTALL | re.M)
    assert len(found) == 1, f"model/README.md: expected one ```{language} block"
    return str(found[0])


def test_the_readme_csv_example_trains_a_model(tmp_path, monkeypatch, capsys):
    (tmp_path / "clinic.csv").write_text(_block("csv"))
    words = shlex.split(_block("sh"))
    assert words[0] == "diabetes-train"
    monkeypatch.chdir(tmp_path)

    assert main(words[1:]) == 0

    assert "from clinic.csv: 7 training rows, 3 test rows" in capsys.readouterr().out
    model = load_artifact(tmp_path / "out" / "clinic.json")
    assert model.features == ("bmi", "bp")
    assert model.units == {"bmi": "kg/m2", "bp": "mm Hg"}
    assert model.training is not None
    assert (model.training.source, model.training.n_rows) == ("clinic.csv", 10)
