"""`diabetes-models`: versions added only when valid, labels moved atomically, and every
change leaves a repository a server can load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.models_cli import main
from model.repository import Labels, load_repository, read_labels
from tests.support.artifacts import write_test_artifact


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_add_canary_promote_rollback_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "models"
    repo = ("--repository", str(root))
    for version, scale in (("v1", 1.0), ("v2", 2.0)):
        artifact = write_test_artifact(tmp_path / f"{version}.json", version=version, scale=scale)
        assert _run(capsys, "add", *repo, str(artifact))[0] == 0
    manifest = root / "diabetes-test" / "labels.json"
    assert read_labels(manifest) == Labels("v1")  # the first version added is stable

    assert _run(capsys, "canary", *repo, "diabetes-test", "v2", "--percent", "10")[0] == 0
    assert read_labels(manifest) == Labels("v1", "v2", 10.0)
    assert _run(capsys, "promote", *repo, "diabetes-test")[0] == 0
    assert read_labels(manifest) == Labels("v2", None, 0.0, ("v1",))
    assert _run(capsys, "rollback", *repo, "diabetes-test")[0] == 0
    assert read_labels(manifest) == Labels("v1")
    assert load_repository(root).resolve().version == "v1"

    code, out, _ = _run(capsys, "list", *repo)
    assert code == 0
    assert json.loads(out)[0]["versions"] == ["v1", "v2"]


def test_refusals_name_the_problem_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "models"
    repo = ("--repository", str(root))
    artifact = write_test_artifact(tmp_path / "v1.json", version="v1")
    assert _run(capsys, "add", *repo, str(artifact))[0] == 0
    code, _, err = _run(capsys, "add", *repo, str(artifact))
    assert code == 1
    assert "already there" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": "v3"')
    code, _, err = _run(capsys, "add", *repo, str(broken))
    assert code == 1
    assert "not valid JSON" in err
    code, _, err = _run(capsys, "canary", *repo, "diabetes-test", "v9")
    assert code == 1
    assert "no version 'v9'" in err
    code, _, err = _run(capsys, "rollback", *repo, "diabetes-test")
    assert code == 1
    assert "no earlier stable" in err
    assert read_labels(root / "diabetes-test" / "labels.json") == Labels("v1")
    assert sorted(p.name for p in (root / "diabetes-test").iterdir()) == ["labels.json", "v1.json"]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("../../x", "v1", 'the artifact\'s name "../../x" is not valid'),
        ("..", "v1", 'the artifact\'s name ".." is not valid'),
        ("diabetes-test", "../../../x", 'the artifact\'s version "../../../x" is not valid'),
        ("diabetes-test", "labels", "the artifact's version 'labels' is reserved"),
        ("diabetes-test", "canary", "the artifact's version 'canary' is reserved"),
    ],
)
def test_add_refuses_an_artifact_whose_name_or_version_is_not_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, version: str, message: str
) -> None:
    root = tmp_path / "deep" / "er" / "models"
    artifact = write_test_artifact(tmp_path / "artifact.json", version=version, name=name)
    before = _files(tmp_path)
    code, out, err = _run(capsys, "add", "--repository", str(root), str(artifact))
    assert (code, out) == (1, "")
    assert err.startswith(f"diabetes-models: {message}")
    assert _files(tmp_path) == before  # nothing written, inside the repository or out


def test_add_never_writes_through_a_link_out_of_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, outside = tmp_path / "models", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "diabetes-test").symlink_to(outside)
    artifact = write_test_artifact(tmp_path / "v1.json", version="v1")
    code, _, err = _run(capsys, "add", "--repository", str(root), str(artifact))
    assert code == 1
    assert err == (f"diabetes-models: {root / 'diabetes-test'} is outside the repository {root}\n")
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("canary", "../m", "v1"), 'model name "../m" is not valid'),
        (("promote", "diabetes-test", "../v1"), 'version "../v1" is not valid'),
        (("rollback", "x" * 1000), f'model name "{"x" * 64}"... (1,000 characters) is not valid'),
    ],
)
def test_names_in_arguments_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    root = tmp_path / "models"
    artifact = write_test_artifact(tmp_path / "v1.json", version="v1")
    assert _run(capsys, "add", "--repository", str(root), str(artifact))[0] == 0
    code, _, err = _run(capsys, args[0], "--repository", str(root), *args[1:])
    assert code == 1
    assert err.startswith(f"diabetes-models: {message}")
    assert read_labels(root / "diabetes-test" / "labels.json") == Labels("v1")


def test_labels_naming_a_version_that_does_not_load_are_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "models"
    repo = ("--repository", str(root))
    for version in ("v1", "v2"):
        artifact = write_test_artifact(tmp_path / f"{version}.json", version=version)
        assert _run(capsys, "add", *repo, str(artifact))[0] == 0
    manifest = root / "diabetes-test" / "labels.json"
    written = manifest.read_bytes()
    (root / "diabetes-test" / "v2.json").write_text("{")
    for args in (("promote", "diabetes-test", "v2"), ("canary", "diabetes-test", "v2")):
        code, _, err = _run(capsys, *args[:1], *repo, *args[1:])
        assert code == 1
        assert "is not valid JSON" in err
        assert manifest.read_bytes() == written


def test_list_names_each_refused_file_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "models"
    repo = ("--repository", str(root))
    for version in ("v1", "v2"):
        artifact = write_test_artifact(tmp_path / f"{version}.json", version=version)
        assert _run(capsys, "add", *repo, str(artifact))[0] == 0
    (root / "diabetes-test" / "v2.json").write_text("{")
    code, out, err = _run(capsys, "list", *repo)
    assert code == 1
    assert json.loads(out)[0]["versions"] == ["v1"]
    assert err.startswith(
        "diabetes-models: refused diabetes-test/v2.json: the artifact is not valid JSON"
    )
