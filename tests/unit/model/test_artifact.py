"""Artifacts written from a trained estimator: exact round trip, sound interval terms,
refusal of edited or corrupt files, and a serving path free of scikit-learn."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from model import ArtifactError, SimpleLinearRegression, load_artifact, save_artifact
from model.data import Split
from model.document import build_document

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _train_and_save(split: Split, path: Path) -> tuple[SimpleLinearRegression, Path]:
    estimator = SimpleLinearRegression().fit(split.X_train, split.y_train)
    document = build_document(
        estimator, split, {"test_r2": estimator.score(split.X_test, split.y_test)}, {"l2": 0.0}
    )
    return estimator, save_artifact(document, path)


@pytest.fixture(params=["bmi", "all"])
def trained(request, bmi_split, all_split, tmp_path):
    split = bmi_split if request.param == "bmi" else all_split
    estimator, path = _train_and_save(split, tmp_path / "model.json")
    return split, estimator, path


def test_round_trip_serves_the_estimator_predictions_bit_for_bit(trained):
    split, estimator, path = trained
    model = load_artifact(path)

    X = np.concatenate([split.X_train, split.X_test])
    np.testing.assert_array_equal(model.predict(X), estimator.predict(X))
    columns = [np.ascontiguousarray(X[:, j]) for j in range(X.shape[1])]
    np.testing.assert_array_equal(model.predict_columns(columns), estimator.predict(X))
    assert model.features == split.features
    np.testing.assert_array_equal(model.coefficients, estimator.coef_)
    assert model.intercept == estimator.intercept_


def test_document_describes_the_training(trained):
    split, _, path = trained
    document = json.loads(path.read_text())

    slug = "bmi" if split.features == ("bmi",) else "all"
    assert document["name"] == f"diabetes-{slug}"
    assert re.fullmatch(rf"{slug}-\d{{8}}-[0-9a-f]{{8}}", document["version"])
    assert RFC3339_UTC.match(document["created_at"])
    assert document["format"] == "diabetes-linear-model"
    assert document["checksum"].startswith("sha256:")
    data = document["training_data"]
    assert data["fingerprint"] == split.fingerprint()
    assert (data["n_train"], data["n_test"]) == (422, 20)
    for j, name in enumerate(split.features):
        column = split.X_train[:, j]
        assert document["feature_stats"][name] == {
            "mean": column.mean(),
            "std": column.std(),
            "min": column.min(),
            "max": column.max(),
        }
    assert set(document["library_versions"]) >= {"python", "numpy", "scikit-learn", "scipy"}


def test_interval_matches_the_textbook_ols_prediction_interval(trained):
    """Against the formula with an explicit intercept column: t·s·sqrt(1 + x0'(X'X)⁻¹x0)."""
    split, estimator, path = trained
    model = load_artifact(path)
    n, p = split.X_train.shape
    design = np.column_stack([np.ones(n), split.X_train])
    residuals = split.y_train - estimator.predict(split.X_train)
    s = np.sqrt(residuals @ residuals / (n - p - 1))
    t = stats.t.ppf(0.975, n - p - 1)
    x0 = np.column_stack([np.ones(len(split.X_test)), split.X_test])
    leverage = np.einsum("ij,jk,ik->i", x0, np.linalg.inv(design.T @ design), x0)
    expected = t * s * np.sqrt(1 + leverage)

    columns = [split.X_test[:, j] for j in range(p)]
    np.testing.assert_allclose(model.interval_half_width(columns), expected, rtol=1e-9)
    assert model.interval.degrees_of_freedom == n - p - 1


def test_reformatted_but_unchanged_content_still_loads(trained):
    _, _, path = trained
    path.write_text(json.dumps(json.loads(path.read_text()), indent=None))
    assert load_artifact(path).features


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        pytest.param(
            lambda doc: doc["coefficients"].__setitem__(0, doc["coefficients"][0] + 1e-9),
            "checksum does not match",
            id="edited coefficient",
        ),
        pytest.param(
            lambda doc: doc.__setitem__("intercept", 0.0), "checksum does not match", id="intercept"
        ),
        pytest.param(
            lambda doc: doc["metrics"].__setitem__("test_r2", 0.99),
            "checksum does not match",
            id="edited metric",
        ),
        pytest.param(lambda doc: doc.pop("interval"), "interval is missing", id="missing key"),
        pytest.param(
            lambda doc: doc.__setitem__("coefficients", ["938"] * len(doc["features"])),
            "must be a finite number",
            id="string coefficient",
        ),
        pytest.param(
            lambda doc: doc["features"].__setitem__(0, "weight"),
            "features must be distinct names",
            id="unknown feature",
        ),
        pytest.param(
            lambda doc: doc.__setitem__("format_version", 99),
            "format_version 99 is not supported",
            id="future format",
        ),
    ],
)
def test_edited_or_malformed_documents_are_refused(trained, corrupt, message):
    _, _, path = trained
    document = json.loads(path.read_text())
    corrupt(document)
    path.write_text(json.dumps(document))

    with pytest.raises(ArtifactError, match=message):
        load_artifact(path)


def test_truncated_file_is_refused(trained):
    _, _, path = trained
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_artifact(path)


def test_nan_smuggled_into_the_file_is_refused(trained):
    _, _, path = trained
    text = path.read_text()
    path.write_text(re.sub(r'"intercept": [^,\n]+', '"intercept": NaN', text))
    with pytest.raises(ArtifactError, match="NaN is not allowed"):
        load_artifact(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match="cannot read model artifact"):
        load_artifact(tmp_path / "absent.json")


def test_loading_and_predicting_imports_no_training_library(bmi_split, tmp_path):
    _, path = _train_and_save(bmi_split, tmp_path / "model.json")
    code = (
        "import sys, numpy as np\n"
        "import model.artifact\n"
        f"m = model.artifact.load_artifact({str(path)!r})\n"
        "m.predict_columns([np.array([0.05])]); m.interval_half_width([np.array([0.05])])\n"
        "import model\n"
        "heavy = ('sklearn', 'scipy', 'matplotlib', 'grpc', 'jsonschema')\n"
        "heavy = [n for n in heavy if n in sys.modules]\n"
        "print(','.join(heavy) or 'none')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "none", result.stdout


def test_nothing_in_model_imports_grpc_or_the_generated_stubs():
    package = Path(__file__).resolve().parents[3] / "model"
    offenders = [
        path.name
        for path in package.glob("*.py")
        if re.search(r"^\s*(import|from)\s+(grpc|diabetes)\b", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []
