"""The training command end to end, in a temporary folder: metrics printed, PNGs and a
loadable artifact written."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from model import load_artifact
from model.data import Split
from model.train import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_default_run_trains_the_bmi_model(tmp_path, capsys, bmi_split: Split):
    assert main(["--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out

    assert "MSE 2548.07" in out
    assert "MAE 41.23" in out
    assert "R² 0.4726" in out
    assert "bmi=938.2379" in out
    model = load_artifact(tmp_path / "diabetes-bmi.json")
    reference = LinearRegression().fit(bmi_split.X_train, bmi_split.y_train)
    np.testing.assert_allclose(model.coefficients, reference.coef_, rtol=1e-4)
    for name in ("diabetes-bmi-fit.png", "diabetes-bmi-loss.png"):
        width, height = _png_size(tmp_path / name)
        assert width > 300
        assert height > 200


def test_all_features_with_explicit_artifact_path_and_version(tmp_path, capsys):
    artifact = tmp_path / "models" / "ten.json"
    code = main(
        [
            "--features",
            "all",
            "--output-dir",
            str(tmp_path / "out"),
            "--artifact",
            str(artifact),
            "--version",
            "2026.1",
        ]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert "R² 0.5851" in out
    assert "MSE 2004.52" in out
    model = load_artifact(artifact)
    assert model.version == "2026.1"
    assert len(model.features) == 10
    assert model.metrics["test_r2"] == pytest.approx(0.5851, abs=5e-5)
    assert _png_size(tmp_path / "out" / "diabetes-all-fit.png")
    assert _png_size(tmp_path / "out" / "diabetes-all-loss.png")


def test_search_reports_cross_validation_and_records_it(tmp_path, capsys):
    code = main(
        ["--features", "bmi,bp", "--search", "--cv-folds", "3", "--output-dir", str(tmp_path)]
    )
    out = capsys.readouterr().out

    assert code == 0
    assert "Cross-validation (3-fold, R²)" in out
    document = json.loads((tmp_path / "diabetes-bmi-bp.json").read_text())
    assert 0 < document["metrics"]["cv_r2"] < 1
    assert document["hyperparameters"]["search"]["method"] == "GridSearchCV"
    assert document["features"] == ["bmi", "bp"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--features", "weight"], "unknown feature"),
        (["--test-size", "0"], "test size must be between 1 and"),
        (["--learning-rate", "fast"], "expected 'auto' or a number"),
        (["--search", "--cv-folds", "1"], "--cv-folds must be at least 2"),
        (["--name", "../../x"], 'argument --name: "../../x" is not valid: expected a letter'),
        (["--version", "v 1"], 'argument --version: "v 1" is not valid: expected a letter'),
    ],
)
def test_bad_arguments_exit_with_usage_error(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_diverging_learning_rate_fails_cleanly(tmp_path, capsys):
    assert main(["--learning-rate", "5", "--output-dir", str(tmp_path)]) == 1
    assert "learning rate is too large" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_python_dash_m_model_writes_to_out_by_default(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "model", "--features", "bmi"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "R² 0.4726" in result.stdout
    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["diabetes-bmi-fit.png", "diabetes-bmi-loss.png", "diabetes-bmi.json"]
