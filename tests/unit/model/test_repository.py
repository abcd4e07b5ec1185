"""The model repository: layout, manifests, resolution by name, version and label, the
canary share, and labels moved by promote and rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, load_artifact
from model.repository import (
    BUNDLED_REPOSITORY,
    DEFAULT_MODEL,
    Labels,
    Repository,
    RepositoryError,
    UnknownModelError,
    load,
    load_repository,
    parse_labels,
    read_labels,
    write_labels,
)
from tests.support.artifacts import write_test_artifact


def _repository(root: Path, labels: Labels) -> Path:
    for version, scale in (("v1", 1.0), ("v2", 2.0)):
        write_test_artifact(root / "m" / f"{version}.json", version=version, scale=scale, name="m")
    write_labels(root / "m" / "labels.json", labels)
    write_test_artifact(root / "solo.json", version="s1", name="solo")
    return root


def test_bundled_repository_serves_both_bundled_models() -> None:
    repository = load(BUNDLED_REPOSITORY)
    assert repository.default == DEFAULT_MODEL
    assert repository.resolve() == load_artifact(BUNDLED_ARTIFACT)
    raw = load_artifact(RAW_UNITS_ARTIFACT)
    assert repository.resolve(raw.name) == raw
    assert repository.resolve(raw.name, raw.version) == raw
    assert repository.resolve(raw.name, "stable") == raw


def test_a_file_is_a_one_model_repository(tmp_path: Path) -> None:
    path = write_test_artifact(tmp_path / "a.json", version="x1", name="only")
    repository = load(path)
    assert repository.default == "only"
    assert repository.resolve().version == "x1"


def test_versions_labels_and_unknown_names(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1", canary="v2"))
    repository = load_repository(root, default="m")
    assert repository.resolve().version == "v1"
    assert repository.resolve("m", "canary").version == "v2"
    assert repository.resolve("m", "v2").version == "v2"
    assert repository.resolve("solo").version == "s1"
    with pytest.raises(UnknownModelError, match='no model "nope"; this server serves "m", "solo"'):
        repository.resolve("nope")
    with pytest.raises(UnknownModelError, match='no version "v9"; its versions are "v1", "v2"'):
        repository.resolve("m", "v9")
    with pytest.raises(UnknownModelError, match='"solo" has no canary'):
        repository.resolve("solo", "canary")


def test_the_canary_answers_its_share_of_calls_without_a_version(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1", canary="v2", canary_percent=25))
    loaded = load_repository(root, default="m")
    draws = iter([0.0, 0.2, 0.25, 0.9])
    repository = Repository(loaded.models, loaded.default, lambda: next(draws))
    assert [repository.resolve().version for _ in range(4)] == ["v2", "v2", "v1", "v1"]
    # A caller that names a version or a label always gets it.
    assert repository.resolve("m", "stable").version == "v1"


def test_promote_and_rollback_move_labels_with_a_history() -> None:
    labels = Labels("v1", canary="v2", canary_percent=10)
    promoted = labels.promoted("v2")
    assert promoted == Labels("v2", None, 0.0, ("v1",))
    assert promoted.rolled_back() == Labels("v1")
    with pytest.raises(RepositoryError, match="no earlier stable"):
        Labels("v1").rolled_back()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "stable: expected a version"),
        ({"stable": "v1", "canary_percent": 5}, "5 but no canary"),
        ({"stable": "v1", "canary": "v2", "canary_percent": 101}, "from 0 to 100"),
        ({"stable": "v1", "extra": 1}, "unknown keys"),
        ([], "expected a JSON object"),
    ],
)
def test_bad_manifests_are_refused_by_name(document: object, message: str) -> None:
    with pytest.raises(RepositoryError, match=message):
        parse_labels(document, "m/labels.json")


def test_a_label_naming_a_missing_version_refuses_the_whole_repository(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "labels.json").write_text(json.dumps({"stable": "v7"}))
    with pytest.raises(RepositoryError, match="stable is 'v7', which is not a version"):
        load_repository(root, default="m")


def test_a_version_file_must_be_named_after_its_version(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "v1.json").rename(root / "m" / "v3.json")
    with pytest.raises(RepositoryError, match="named after it"):
        load_repository(root, default="m")


def test_labels_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "m" / "labels.json"
    write_labels(path, Labels("v2", "v3", 5.0, ("v1",)))
    assert read_labels(path) == Labels("v2", "v3", 5.0, ("v1",))
    assert [p.name for p in path.parent.iterdir()] == ["labels.json"]
