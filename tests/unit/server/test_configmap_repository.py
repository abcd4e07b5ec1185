"""A model repository mounted from a Kubernetes ConfigMap: the kubelet writes each update to a
new timestamped directory and swaps the `..data` symlink to it; every model directory is a
symlink into `..data/`. The store reads that layout and the watcher sees the swap."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from model.repository import Labels, repository_files, write_labels
from server.model_store import ArtifactWatcher, ModelStore
from tests.support.artifacts import write_test_artifact

MODEL = "diabetes-test"


def _write_payload(root: Path, stamp: str, files: dict[str, Path | Labels]) -> None:
    """What the kubelet's atomic writer does: the payload into `..<stamp>/`, `..data` swapped
    to it by a rename, a top-level link per first path segment, the old payload removed."""
    payload = root / f"..{stamp}"
    for relative, source in files.items():
        target = payload / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Labels):
            write_labels(target, source)
        else:
            shutil.copy(source, target)
    previous = os.readlink(root / "..data") if (root / "..data").is_symlink() else None
    os.symlink(payload.name, root / "..data_tmp")
    os.replace(root / "..data_tmp", root / "..data")
    for top in {Path(relative).parts[0] for relative in files}:
        if not (root / top).is_symlink():
            os.symlink(f"..data/{top}", root / top)
    if previous is not None:
        shutil.rmtree(root / previous)


def test_the_watcher_follows_a_configmap_update(tmp_path: Path) -> None:
    one = write_test_artifact(tmp_path / "src" / "v1.json", version="v1", name=MODEL)
    two = write_test_artifact(tmp_path / "src" / "v2.json", version="v2", scale=2.0, name=MODEL)
    root = tmp_path / "models"
    root.mkdir()
    versions = {f"{MODEL}/v1.json": one, f"{MODEL}/v2.json": two}
    _write_payload(
        root, "2025_01_01_00_00_00.1", {**versions, f"{MODEL}/labels.json": Labels("v1")}
    )
    store = ModelStore(root)
    assert store.resolve(MODEL).version == "v1"
    assert [p.relative_to(root).as_posix() for p in repository_files(root)] == [
        f"{MODEL}/labels.json",
        f"{MODEL}/v1.json",
        f"{MODEL}/v2.json",
    ]
    watcher = ArtifactWatcher(store)

    _write_payload(
        root, "2025_01_01_00_01_00.2", {**versions, f"{MODEL}/labels.json": Labels("v2")}
    )
    watcher._check()

    assert store.resolve(MODEL).version == "v2"
    assert store.resolve(MODEL, "v1").version == "v1"
