"""The model repository: layout, manifests, resolution by name, version and label, the
canary share, labels moved by promote and rollback, and a bad file refusing only itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from model.artifact import BUNDLED_ARTIFACT, RAW_UNITS_ARTIFACT, load_artifact
from model.names import InvalidNameError
from model.repository import (
    BUNDLED_REPOSITORY,
    DEFAULT_MODEL,
    Labels,
    RefusedFile,
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


def test_a_label_naming_a_missing_version_refuses_its_model(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "labels.json").write_text(json.dumps({"stable": "v7"}))
    repository = load_repository(root, default="solo")
    assert sorted(repository.models) == ["solo"]
    (refused,) = repository.refused
    assert refused.path == "m/labels.json"
    assert refused.model == "m"
    assert refused.reason == (
        "stable is 'v7', which is not a loaded version of 'm' (it has ['v1', 'v2'])"
    )


def test_the_default_model_not_served_refuses_the_whole_repository(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "labels.json").write_text(json.dumps({"stable": "v7"}))
    with pytest.raises(RepositoryError) as error:
        load_repository(root, default="m")
    assert str(error.value) == (
        f"the default model 'm' of {root} cannot be served: m/labels.json: "
        "stable is 'v7', which is not a loaded version of 'm' (it has ['v1', 'v2'])"
    )


def test_a_version_file_must_be_named_after_its_version(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "v2.json").rename(root / "m" / "v3.json")
    repository = load_repository(root, default="m")
    assert sorted(repository.models["m"].versions) == ["v1"]
    assert [(f.path, f.reason) for f in repository.refused] == [
        (
            "m/v3.json",
            "the artifact's version is 'v2'; a version's file is named after it (v2.json)",
        )
    ]


def _unreadable(path: Path) -> None:
    path.unlink()
    path.symlink_to(path.parent / "nowhere.json")


def _unparseable(path: Path) -> None:
    path.write_text("{")


def _wrong_schema(path: Path) -> None:
    document = json.loads(path.read_text())
    del document["coefficients"]
    path.write_text(json.dumps(document))


def _wrong_checksum(path: Path) -> None:
    document = json.loads(path.read_text())
    document["intercept"] += 1.0
    path.write_text(json.dumps(document))


def _bad_name(path: Path) -> None:
    write_test_artifact(path, version="v2", name="../../x")


BAD_FILES = [
    (_unreadable, "cannot read the artifact: No such file or directory"),
    (_unparseable, "the artifact is not valid JSON: Expecting property name"),
    (_wrong_schema, "the artifact: "),
    (_wrong_checksum, "the artifact: checksum does not match the content"),
    (_bad_name, 'the artifact\'s name "../../x" is not valid: expected a letter'),
]


@pytest.mark.parametrize(
    ("spoil", "reason"), BAD_FILES, ids=[spoil.__name__[1:] for spoil, _ in BAD_FILES]
)
def test_a_bad_version_file_refuses_only_itself(
    tmp_path: Path, spoil: Callable[[Path], None], reason: str
) -> None:
    root = _repository(tmp_path, Labels("v1"))
    spoil(root / "m" / "v2.json")
    repository = load_repository(root, default="m")
    assert repository.resolve().version == "v1"
    assert repository.resolve("solo").version == "s1"
    assert sorted(repository.models["m"].versions) == ["v1"]
    (refused,) = repository.refused
    assert (refused.path, refused.model, refused.still_served) == ("m/v2.json", "m", False)
    assert refused.reason.startswith(reason), refused.reason


def test_a_canary_that_did_not_load_is_dropped(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1", canary="v2", canary_percent=50))
    (root / "m" / "v2.json").write_text("{")
    repository = load_repository(root, default="m")
    assert repository.models["m"].labels == Labels("v1")
    assert [f.path for f in repository.refused] == ["m/v2.json", "m/labels.json"]
    assert repository.refused[1].reason == (
        "canary is 'v2', which is not a loaded version of 'm'; "
        "the stable version answers every call"
    )


def test_names_that_are_not_valid_are_refused(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    write_test_artifact(root / "bad name" / "v1.json", version="v1", name="bad name")
    write_labels(root / "bad name" / "labels.json", Labels("v1"))
    write_test_artifact(root / ("y" * 200 + ".json"), version="v1", name="y" * 200)
    (root / "m" / "labels.json").write_text(json.dumps({"stable": "v1", "history": ["../v0"]}))
    repository = load_repository(root, default="solo")
    assert sorted(repository.models) == ["solo"]
    by_path = {f.path: f for f in repository.refused}
    assert sorted(by_path) == ["bad name", "m/labels.json", "y" * 157 + "..."]
    assert by_path["bad name"].reason.startswith('"bad name" is not a valid model name')
    assert by_path["bad name"].model == ""
    assert by_path["m/labels.json"].reason == (
        'm/labels.json.history[0]: "../v0" is not a version name'
    )
    assert by_path["y" * 157 + "..."].reason.startswith(
        f'"{"y" * 64}"... (200 characters) is not a valid model name'
    )


def test_a_model_twice_serves_its_directory(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    write_test_artifact(root / "m.json", version="v9", name="m")
    repository = load_repository(root, default="m")
    assert sorted(repository.models["m"].versions) == ["v1", "v2"]
    assert [(f.path, f.reason) for f in repository.refused] == [
        ("m.json", "model 'm' is in the repository twice (m/, m.json)")
    ]


def test_read_again_a_version_whose_file_went_bad_serves_from_memory(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1", canary="v2", canary_percent=10))
    first = load_repository(root, default="m")
    (root / "m" / "v2.json").write_text("{")
    (root / "solo.json").write_text("")
    write_test_artifact(root / "m" / "v3.json", version="v3", name="m", scale=3.0)
    again = load_repository(root, default="m", previous=first)
    assert again.resolve("m", "v2") is first.resolve("m", "v2")
    assert again.resolve("solo") is first.resolve("solo")
    assert again.resolve("m", "v3").version == "v3"  # the good change is picked up
    assert again.models["m"].labels == first.models["m"].labels
    served_from_memory = [(f.path, f.still_served) for f in again.refused]
    assert served_from_memory == [("m/v2.json", True), ("solo.json", True)]
    # A manifest gone bad keeps the labels served before.
    (root / "m" / "labels.json").write_text("[")
    third = load_repository(root, default="m", previous=again)
    assert third.models["m"].labels == Labels("v1", canary="v2", canary_percent=10)
    assert ("m/labels.json", True) in [(f.path, f.still_served) for f in third.refused]
    # Without the repository served before, the default model is not served at all.
    with pytest.raises(RepositoryError, match="the default model 'm'"):
        load_repository(root, default="m")


def test_a_call_with_a_name_that_is_not_valid_is_refused_before_any_lookup() -> None:
    repository = load(BUNDLED_REPOSITORY)
    with pytest.raises(InvalidNameError, match=r'^model name "x{64}"\.\.\. \(200,000 characters\)'):
        repository.resolve("x" * 200_000)
    with pytest.raises(InvalidNameError, match=r'^model version "\.\./v1" is not valid'):
        repository.resolve(DEFAULT_MODEL, "../v1")


def test_refused_file_fields_are_printable_and_short(tmp_path: Path) -> None:
    root = _repository(tmp_path, Labels("v1"))
    (root / "m" / "v2.json").write_bytes(b"\xff" * 10)
    (refused,) = load_repository(root, default="m").refused
    assert refused == RefusedFile(
        "m/v2.json",
        "the artifact is not UTF-8 text (byte 0: invalid start byte)",
        "m",
        False,
    )


def test_labels_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "m" / "labels.json"
    write_labels(path, Labels("v2", "v3", 5.0, ("v1",)))
    assert read_labels(path) == Labels("v2", "v3", 5.0, ("v1",))
    assert [p.name for p in path.parent.iterdir()] == ["labels.json"]
