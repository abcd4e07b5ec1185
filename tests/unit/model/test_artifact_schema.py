"""`model/artifact.schema.json` describes every artifact, and the hand-written loader
(the server's, which must not import a schema library) agrees with it: every committed
artifact passes both, and every edit of a document below is accepted by both or refused by
both, except the cross-field rules the schema cannot express (listed here)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from model.artifact import (
    ARTIFACTS,
    BUNDLED_ARTIFACT,
    FORMAT_VERSION,
    RAW_UNITS_ARTIFACT,
    SCHEMA_PATH,
    ArtifactError,
    compute_checksum,
    load_artifact,
    model_from_document,
    save_artifact,
)
from model.features import FEATURE_NAMES, RAW_UNITS, SCALED

FORMAT_1 = Path(__file__).parent / "data" / "diabetes-bmi-format1.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
# The bundled artifacts, and the versions of the repository Kubernetes serves (deploy/models/).
COMMITTED = sorted(ARTIFACTS.glob("*.json")) + sorted(
    path
    for path in (ARTIFACTS.parents[1] / "deploy" / "models").glob("*/*.json")
    if path.name != "labels.json"
)
# Values of the wrong type, sign or size for most fields.
REPLACEMENTS: tuple[Any, ...] = ("x", "", None, -1, 0, 1.5, True, [], {})
Path_ = tuple[str | int, ...]


def schema_accepts(document: Any) -> bool:
    return VALIDATOR.is_valid(document)


def loader_accepts(document: Any) -> bool:
    try:
        model_from_document(document)
    except ArtifactError:
        return False
    return True


def loader_refusal(document: Any) -> str:
    """The loader's message for a document it refuses (empty when it loads)."""
    try:
        model_from_document(document)
    except ArtifactError as exc:
        return str(exc)
    return ""


# What only the loader refuses, by the words of its message.
CROSS_FIELD_MESSAGES = ("min is above max", "must be symmetric positive semi-definite")


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert FORMAT_VERSION in SCHEMA["properties"]["format_version"]["enum"]


def test_the_schema_names_the_features_and_units_of_model_features():
    properties = SCHEMA["properties"]
    assert properties["features"]["items"]["enum"] == list(FEATURE_NAMES)
    assert {
        name: set(spec["enum"]) for name, spec in properties["units"]["properties"].items()
    } == {name: {SCALED, unit} for name, unit in RAW_UNITS.items()}
    scaled = SCHEMA["$defs"]["scaling"]["properties"]["features"]["properties"]
    assert {name: spec["properties"]["raw_units"]["const"] for name, spec in scaled.items()} == (
        RAW_UNITS
    )


def test_both_bundled_models_are_committed():
    assert {BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT} <= set(COMMITTED)


@pytest.mark.parametrize(
    "path", [*COMMITTED, FORMAT_1], ids=lambda path: f"{path.parent.name}/{path.name}"
)
def test_every_committed_artifact_passes_the_schema_and_loads(path: Path):
    document = json.loads(path.read_text())
    errors = [error.message for error in VALIDATOR.iter_errors(document)]
    assert errors == []
    model = load_artifact(path)
    assert model.format_version == document["format_version"]


def test_a_format_1_file_loads_as_scaled_inputs_without_recorded_provenance():
    model = load_artifact(FORMAT_1)
    assert model.format_version == 1
    assert model.units == {"bmi": "scaled"}
    assert model.scaling is None
    assert model.training is None
    bundled = load_artifact(BUNDLED_ARTIFACT)
    assert model.coefficients.tolist() == bundled.coefficients.tolist()
    assert model.intercept == bundled.intercept


def _paths(value: Any, prefix: Path_ = ()) -> Iterator[Path_]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*prefix, key)
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*prefix, index)
            yield from _paths(child, (*prefix, index))


def _parent(document: Any, path: Path_) -> Any:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


def _sealed(document: dict[str, Any], path: Path_) -> dict[str, Any]:
    """Re-checksum an edit (unless the edit is to the checksum), so that the loader's
    checksum test does not hide what its other checks think of the edit."""
    if path != ("checksum",) and "checksum" in document:
        document["checksum"] = compute_checksum(document)
    return document


def _edits(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in _paths(document):
        if isinstance(_parent(document, path), dict):
            removed = copy.deepcopy(document)
            del _parent(removed, path)[path[-1]]
            yield f"delete {path}", _sealed(removed, path)
        for replacement in REPLACEMENTS:
            edited = copy.deepcopy(document)
            _parent(edited, path)[path[-1]] = replacement
            yield f"set {path} = {replacement!r}", _sealed(edited, path)
    for path in [(), *_paths(document)]:
        node = copy.deepcopy(document)
        target: Any = node
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            target["unexpected"] = 1
            yield f"add unexpected to {path}", _sealed(node, path)


@pytest.mark.parametrize("path", [BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, FORMAT_1], ids=str)
def test_schema_and_loader_agree_on_every_edit(path: Path):
    document = json.loads(path.read_text())
    verdicts = [
        (description, schema_accepts(edited), loader_accepts(edited), edited)
        for description, edited in _edits(document)
    ]
    assert len(verdicts) > 200
    assert {accepted for _, accepted, _, _ in verdicts} == {True, False}
    disagreements = [v for v in verdicts if v[1] != v[2]]
    # Rules across fields, which JSON Schema cannot state; each has its own test below.
    unexplained = [
        v[0]
        for v in disagreements
        if not (v[1] and any(words in loader_refusal(v[3]) for words in CROSS_FIELD_MESSAGES))
    ]
    assert unexplained == []


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda d: d["coefficients"].append(1.0), id="a coefficient too many"),
        pytest.param(lambda d: d["units"].__setitem__("bp", "scaled"), id="units of no feature"),
        pytest.param(lambda d: d["training_data"].__setitem__("n_rows", 441), id="rows"),
        pytest.param(lambda d: d["interval"].__setitem__("n_train", 421), id="interval rows"),
        pytest.param(lambda d: d.__setitem__("units", {"bmi": "kg/m2"}), id="scaling raw"),
        pytest.param(
            lambda d: d["feature_stats"]["bmi"].__setitem__("min", 1.5), id="min above max"
        ),
        pytest.param(
            lambda d: d["interval"]["xtx_inv_centered"][0].__setitem__(0, -1.0),
            id="negative variance",
        ),
    ],
)
def test_only_the_loader_checks_rules_across_fields(edit):
    """What JSON Schema cannot say (the schema's description lists it)."""
    document = json.loads(BUNDLED_ARTIFACT.read_text())
    edit(document)
    document = _sealed(document, ())
    assert schema_accepts(document)
    assert not loader_accepts(document)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["training_data"].__setitem__("source", "/home/me/rows.csv"), "source"),
        (lambda d: d["units"].__setitem__("bmi", "stone"), "units.bmi"),
        (lambda d: d.__setitem__("created_at", "yesterday"), "created_at"),
    ],
)
def test_save_refuses_what_the_schema_refuses_naming_the_place(tmp_path, edit, where):
    document = json.loads(BUNDLED_ARTIFACT.read_text())
    edit(document)
    with pytest.raises(ArtifactError, match=where):
        save_artifact(document, tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()
