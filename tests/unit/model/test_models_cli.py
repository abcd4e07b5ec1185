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
