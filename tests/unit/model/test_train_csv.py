"""`diabetes-train --data FILE.csv`: a CSV the test writes, trained end to end, every way
the data can be unusable refused with exit 2 and a message naming the line or column, and
the fingerprint's contract (values matter, the order of training rows does not)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

from model import load_artifact
from model.artifact import RAW_UNITS_ARTIFACT
from model.features import FEATURE_NAMES
from model.train import main

HEADER = [*FEATURE_NAMES, "progression"]


def raw_rows() -> list[list[float]]:
    X, y = load_diabetes(return_X_y=True, scaled=False)
    return [[*map(float, x), float(t)] for x, t in zip(X, y, strict=True)]


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in rows])
    return path


def train(tmp_path: Path, csv_path: Path, *extra: str, name: str = "model.json") -> dict[str, Any]:
    out = tmp_path / "out"
    argv = ["--data", str(csv_path), "--target", "progression", "--output-dir", str(out)]
    code = main([*argv, "--output", str(out / name), *extra])
    assert code == 0
    document: dict[str, Any] = json.loads((out / name).read_text())
    return document


@pytest.fixture
def diabetes_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "diabetes.csv", raw_rows())


def test_the_raw_data_set_as_a_csv_gives_the_bundled_raw_model(tmp_path, diabetes_csv, capsys):
    document = train(tmp_path, diabetes_csv, "--features", "bmi")
    assert "from diabetes.csv" in capsys.readouterr().out

    bundled = load_artifact(RAW_UNITS_ARTIFACT)
    model = load_artifact(tmp_path / "out" / "model.json")
    assert model.name == "diabetes-bmi-raw"
    assert model.units == {"bmi": "kg/m2"}
    assert model.coefficients.tolist() == bundled.coefficients.tolist()
    assert model.intercept == bundled.intercept
    data = document["training_data"]
    # Same rows, same fingerprint, whatever the source.
    assert data["fingerprint"] == bundled.document["training_data"]["fingerprint"]
    assert data["source"] == "diabetes.csv"  # the file's name, never its directory
    assert str(tmp_path) not in json.dumps(document)
    assert (data["target"], data["n_rows"], data["n_train"], data["n_test"]) == (
        "progression",
        442,
        422,
        20,
    )


def test_several_features_a_shuffled_split_and_extra_columns(tmp_path):
    rows = raw_rows()
    header = ["patient", *HEADER]
    rows_with_id = [[f"p{i}", *row] for i, row in enumerate(rows)]
    path = write_csv(tmp_path / "clinic.csv", rows_with_id, header)
    argv = ["--features", "age,bmi,bp", "--test-size", "50", "--random-state", "7"]
    document = train(tmp_path, path, *argv)

    assert document["features"] == ["age", "bmi", "bp"]
    assert document["units"] == {"age": "years", "bmi": "kg/m2", "bp": "mm Hg"}
    split = document["training_data"]["split"]
    assert (split["method"], split["test_size"], split["random_state"]) == ("shuffle", 50, 7)
    assert document["training_data"]["n_train"] == 392
    # Least squares on the same shuffled training rows.
    from sklearn.model_selection import train_test_split

    X = np.array([[row[0], row[2], row[3]] for row in rows])
    y = np.array([row[-1] for row in rows])
    X_train, _, y_train, _ = train_test_split(X, y, test_size=50, random_state=7)
    reference = LinearRegression().fit(X_train, y_train)
    np.testing.assert_allclose(document["coefficients"], reference.coef_, rtol=1e-6)


def test_standard_scaling_records_the_transform_and_predicts_the_same(tmp_path, diabetes_csv):
    raw = train(tmp_path, diabetes_csv, "--features", "bmi,bp", name="raw.json")
    scaled = train(tmp_path, diabetes_csv, "--features", "bmi,bp", "--scaling", "standard")

    assert scaled["name"] == "diabetes-bmi-bp"
    assert scaled["units"] == {"bmi": "scaled", "bp": "scaled"}
    assert scaled["scaling"]["features"]["bp"]["raw_units"] == "mm Hg"
    raw_model = load_artifact(tmp_path / "out" / "raw.json")
    scaled_model = load_artifact(tmp_path / "out" / "model.json")
    assert scaled_model.scaling is not None
    patients = np.array([[32.1, 101.0], [21.6, 87.0], [40.0, 120.0]])
    scaling = scaled_model.scaling.features
    as_scaled = np.column_stack(
        [[scaling[f].scale_value(v) for v in patients[:, j]] for j, f in enumerate(("bmi", "bp"))]
    )
    np.testing.assert_allclose(scaled_model.predict(as_scaled), raw_model.predict(patients))
    # Scaling with all 442 rows' statistics reproduces the data set's own scaled values.
    bundled_scaled, _ = load_diabetes(return_X_y=True)
    bmi = scaled_model.scaling.features["bmi"]
    np.testing.assert_allclose(bmi.scale_value(32.1), bundled_scaled[0, 2], atol=1e-15)
    # Same rows, different units: a different fingerprint.
    assert scaled["training_data"]["fingerprint"] != raw["training_data"]["fingerprint"]


def _fingerprints(tmp_path: Path, rows: list[list[float]], tag: str) -> tuple[str, str]:
    path = write_csv(tmp_path / f"{tag}.csv", rows)
    document = train(tmp_path, path, name=f"{tag}.json")
    data = document["training_data"]
    return data["fingerprint"], data["data_fingerprint"]


def test_the_fingerprint_follows_the_values_not_the_order_of_the_training_rows(tmp_path):
    rows = raw_rows()
    training, test = rows[:-20], rows[-20:]
    original = _fingerprints(tmp_path, rows, "original")

    shuffled = training[::-1][1::2] + training[::-1][0::2]
    assert _fingerprints(tmp_path, [*shuffled, *test], "reordered") == original

    changed = [row.copy() for row in rows]
    changed[5][2] += 0.1  # one BMI value in one training row
    assert _fingerprints(tmp_path, changed, "changed")[0] != original[0]

    # A row moved from the test tail into training: the model saw other rows, so its
    # fingerprint differs, while the data as a whole is the same.
    moved = [*training[:-1], test[0], training[-1], *test[1:]]
    fingerprint, everything = _fingerprints(tmp_path, moved, "moved")
    assert fingerprint != original[0]
    assert everything == original[1]


def _edited(rows: list[list[object]], line: int, column: str, value: object) -> list[list[object]]:
    """`rows` with the cell at file line `line` (the header is line 1) set to `value`."""
    edited = [list(row) for row in rows]
    edited[line - 2][HEADER.index(column)] = value
    return edited


ROWS: list[list[object]] = [list(row) for row in raw_rows()[:40]]


@pytest.mark.parametrize(
    ("header", "rows", "argv", "message"),
    [
        pytest.param(
            [c for c in HEADER if c != "bp"],
            [[v for j, v in enumerate(row) if j != 3] for row in ROWS],
            ["--features", "bmi,bp"],
            "rows.csv: no column 'bp' in the header",
            id="missing feature column",
        ),
        pytest.param(
            [*FEATURE_NAMES, "y"], ROWS, [], "no column 'progression'", id="missing target"
        ),
        pytest.param(
            HEADER,
            _edited(ROWS, 7, "bmi", "fat"),
            [],
            "rows.csv, line 7, column 'bmi': 'fat' is not a number",
            id="non-numeric cell",
        ),
        pytest.param(
            HEADER, _edited(ROWS, 9, "bmi", ""), [], "line 9, column 'bmi': empty", id="empty"
        ),
        pytest.param(
            HEADER,
            _edited(ROWS, 4, "progression", "nan"),
            [],
            "line 4, column 'progression': 'nan' is not finite",
            id="NaN target",
        ),
        pytest.param(
            HEADER,
            _edited(ROWS, 12, "bmi", "-inf"),
            [],
            "line 12, column 'bmi': '-inf' is not finite",
            id="infinite feature",
        ),
        pytest.param(
            HEADER,
            [*ROWS[:5], ROWS[5][:4], *ROWS[6:]],
            [],
            "rows.csv, line 7: 4 cells, the header has 11",
            id="short row",
        ),
        pytest.param(
            HEADER,
            ROWS[:3],
            ["--features", "bmi,bp"],
            "3 data rows are too few for 2 feature(s); at least 5",
            id="too few rows",
        ),
        pytest.param(
            [*HEADER[:-1], "bmi"],
            ROWS,
            [],
            "column 'bmi' appears twice in the header (columns 3 and 11)",
            id="duplicate header",
        ),
        pytest.param(HEADER, [], [], "rows.csv has a header but no data rows", id="no rows"),
        pytest.param(HEADER, ROWS, ["--test-size", "38"], "test size must be between 1 and 37"),
        pytest.param(
            HEADER,
            ROWS,
            ["--units", "scaled", "--scaling", "standard"],
            "bmi already scaled",
            id="scaling scaled values",
        ),
    ],
)
def test_unusable_data_exits_2_naming_where(tmp_path, capsys, header, rows, argv, message):
    path = write_csv(tmp_path / "rows.csv", rows, header)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(path), "--target", "progression", "--output-dir", str(out), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "bmi", "--features", "bmi,bp"], "target column 'bmi' is also listed"),
        ([], "--data needs --target COLUMN"),
    ],
)
def test_bad_target_exits_2(tmp_path, capsys, diabetes_csv, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(diabetes_csv), "--output-dir", str(tmp_path / "out"), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_target_without_data_and_missing_file_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--target", "y", "--output-dir", str(tmp_path)])
    assert "--target names a column of --data" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(tmp_path / "absent.csv"), "--target", "y"])
    assert exit_info.value.code == 2
    assert "cannot read absent.csv" in capsys.readouterr().err


def test_a_byte_order_mark_and_blank_lines_are_fine(tmp_path):
    path = write_csv(tmp_path / "excel.csv", raw_rows())
    text = path.read_text()
    path.write_text("\ufeff" + text.replace("\n", "\n\n", 3), encoding="utf-8")
    document = train(tmp_path, path)
    assert document["training_data"]["n_rows"] == 442
