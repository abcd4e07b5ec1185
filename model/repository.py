"""A model repository: every model and version a server serves, with labels that say which
version answers by default. No grpc here; the server and `diabetes-models` share it.

On disk (a directory):

    <root>/<name>/<version>.json   one artifact per version (its `name` and `version` fields
                                   must match the folder and the file name)
    <root>/<name>/labels.json      the manifest: {"stable": "<version>", "canary": "<version>"
                                   or null, "canary_percent": 0-100, "history": [...]}, and
                                   optionally "shadow": "<version>" (evaluated beside stable
                                   on every call, never answering), "guard": {...} (the
                                   canary's guards, `model.guards`) and "changes": [...] (the
                                   last label changes: who, what, when, why)
    <root>/<name>.json             a model with one version, its stable one (no manifest)

A call names a model (empty: the repository's default) and a version or a label (empty: the
stable version, or the canary one for `canary_percent` per cent of such calls).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model.artifact import ARTIFACTS, ArtifactError, LinearModel, load_artifact
from model.guards import Breach, Guard, GuardError, parse_guard

MANIFEST = "labels.json"
STABLE, CANARY = "stable", "canary"
SHADOW = "shadow"
LABELS = (STABLE, CANARY, SHADOW)
# The repository bundled in the package: the two bundled artifacts, one version each.
BUNDLED_REPOSITORY = ARTIFACTS
DEFAULT_MODEL = "diabetes-bmi"
# How many earlier stable versions a manifest remembers for `rollback`.
HISTORY_LENGTH = 20
# How many label changes (who, what, when, why) a manifest keeps.
CHANGES_LENGTH = 50


class RepositoryError(ValueError):
    """The repository (or one manifest) cannot be served; the message says which file."""


class UnknownModelError(LookupError):
    """A call names a model, version or label the repository does not hold; the message
    names those it does."""


@dataclass(frozen=True)
class Labels:
    """One model's manifest."""

    stable: str
    canary: str | None = None
    canary_percent: float = 0.0
    # Earlier stable versions, oldest first: `rollback` restores the last one.
    history: tuple[str, ...] = ()
    # Evaluated beside stable on every call stable answers; never answers a call.
    shadow: str | None = None
    # The canary's guards (and their breach, once one fired).
    guard: Guard | None = None
    # The last label changes, oldest first: {"at", "by", "change", "detail"}. A record of
    # how the labels came to be, not what they are: not compared.
    changes: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            STABLE: self.stable,
            CANARY: self.canary,
            "canary_percent": self.canary_percent,
            "history": list(self.history),
        }
        # Written only when set, so a manifest without them reads as before.
        if self.shadow is not None:
            document[SHADOW] = self.shadow
        if self.guard is not None:
            document["guard"] = self.guard.document()
        if self.changes:
            document["changes"] = [dict(change) for change in self.changes]
        return document

    def changed(self, at: str, by: str, change: str, detail: str) -> Labels:
        """These labels with one more entry in `changes` (the oldest dropped past
        CHANGES_LENGTH)."""
        entry = {"at": at, "by": by, "change": change, "detail": detail}
        return replace(self, changes=(*self.changes, entry)[-CHANGES_LENGTH:])

    def guard_breached(self, breach: Breach) -> Labels:
        """The canary's share set to 0 by its guard, the breach recorded."""
        if self.guard is None:
            raise RepositoryError("the canary has no guard")
        breached = replace(self, canary_percent=0.0, guard=replace(self.guard, breached=breach))
        return breached.changed(
            breach.at,
            breach.by,
            "canary rolled back",
            f"{breach.version}: {breach.figure} was {breach.value:g}, "
            f"breaking {breach.expression}; canary_percent set to 0",
        )

    def promoted(self, version: str) -> Labels:
        """`version` becomes stable (the old stable goes into the history); a canary of that
        version is cleared, as is its share."""
        if version == self.stable:
            return self
        history = (*self.history, self.stable)[-HISTORY_LENGTH:]
        canary_left = self.canary if self.canary != version else None
        return Labels(
            version,
            canary_left,
            self.canary_percent if canary_left else 0.0,
            history,
            self.shadow if self.shadow != version else None,
            self.guard if canary_left else None,
            self.changes,
        )

    def rolled_back(self) -> Labels:
        """The previous stable version back as stable; the canary is cleared."""
        if not self.history:
            raise RepositoryError("no earlier stable version to roll back to")
        return Labels(
            self.history[-1], None, 0.0, self.history[:-1], self.shadow, None, self.changes
        )


def parse_labels(document: Any, where: str) -> Labels:
    """A manifest's labels from its JSON document; RepositoryError names what is wrong."""
    if not isinstance(document, dict):
        raise RepositoryError(f"{where}: expected a JSON object")
    unknown = set(document) - {STABLE, CANARY, "canary_percent", "history", *OPTIONAL_KEYS}
    if unknown:
        raise RepositoryError(f"{where}: unknown keys {sorted(unknown)}")
    stable = document.get(STABLE)
    canary = document.get(CANARY)
    percent = document.get("canary_percent", 0)
    history = document.get("history", [])
    if not isinstance(stable, str) or not stable:
        raise RepositoryError(f"{where}.stable: expected a version (a non-empty string)")
    if canary is not None and (not isinstance(canary, str) or not canary):
        raise RepositoryError(f"{where}.canary: expected a version or null")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        raise RepositoryError(f"{where}.canary_percent: expected a number from 0 to 100")
    if percent and canary is None:
        raise RepositoryError(f"{where}.canary_percent: {percent} but no canary version")
    if not isinstance(history, list) or not all(isinstance(v, str) for v in history):
        raise RepositoryError(f"{where}.history: expected a list of versions")
    return Labels(
        stable, canary, float(percent), tuple(history), *_parse_rollout_keys(document, where)
    )


OPTIONAL_KEYS = (SHADOW, "guard", "changes")


def _parse_rollout_keys(
    document: dict[str, Any], where: str
) -> tuple[str | None, Guard | None, tuple[Mapping[str, Any], ...]]:
    """A manifest's shadow, guard and changes (each optional)."""
    shadow = document.get(SHADOW)
    if shadow is not None and (not isinstance(shadow, str) or not shadow):
        raise RepositoryError(f"{where}.shadow: expected a version or null")
    guard = None
    if document.get("guard") is not None:
        try:
            guard = parse_guard(document["guard"], f"{where}.guard")
        except GuardError as exc:
            raise RepositoryError(str(exc)) from None
    changes = document.get("changes", [])
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise RepositoryError(f"{where}.changes: expected a list of objects")
    return shadow, guard, tuple(changes[-CHANGES_LENGTH:])


def read_labels(path: Path) -> Labels:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RepositoryError(f"cannot read {path}: {exc}") from exc
    return parse_labels(document, str(path))


def write_labels(path: Path, labels: Labels) -> None:
    """Write a manifest atomically (a temporary file beside it, then `os.replace`), so a
    server reading the repository sees the old labels or the new, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(labels.document(), tmp, indent=2)
        tmp.write("\n")
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, path)


@dataclass(frozen=True)
class ModelVersions:
    """One model: its versions and labels."""

    name: str
    versions: Mapping[str, LinearModel]
    labels: Labels

    def version(self, version_or_label: str, draw: Callable[[], float]) -> LinearModel:
        """The version a call asks for: a version, a label, or "" (stable, or canary for
        its share of calls: `draw()` is uniform in [0, 1))."""
        labels = self.labels
        if not version_or_label:
            chosen = labels.stable
            if labels.canary and labels.canary_percent and draw() * 100 < labels.canary_percent:
                chosen = labels.canary
        elif version_or_label == STABLE:
            chosen = labels.stable
        elif version_or_label == CANARY:
            if labels.canary is None:
                raise UnknownModelError(f'model "{self.name}" has no canary; {self._what_exists()}')
            chosen = labels.canary
        else:
            chosen = version_or_label
        found = self.versions.get(chosen)
        if found is None:
            raise UnknownModelError(
                f'model "{self.name}" has no version "{chosen}"; {self._what_exists()}'
            )
        return found

    def _what_exists(self) -> str:
        labels = f'stable "{self.labels.stable}"'
        if self.labels.canary:
            labels += f', canary "{self.labels.canary}"'
        versions = ", ".join(f'"{v}"' for v in sorted(self.versions))
        return f"its versions are {versions} (labels: {labels})"


@dataclass(frozen=True)
class Repository:
    """Every model served, and the one a call that names none gets."""

    models: Mapping[str, ModelVersions]
    default: str
    draw: Callable[[], float] = field(default=random.random, compare=False)

    def resolve(self, model: str = "", version: str = "") -> LinearModel:
        """The model version that answers a call naming `model` (empty: the default) and
        `version` (a version or a label; empty: stable, or the canary's share)."""
        name = model or self.default
        found = self.models.get(name)
        if found is None:
            names = ", ".join(f'"{n}"' for n in sorted(self.models))
            raise UnknownModelError(f'no model "{name}"; this server serves {names}')
        return found.version(version, self.draw)

    @property
    def default_model(self) -> LinearModel:
        """The default model's stable version."""
        return self.resolve(self.default, STABLE)


def single_model_repository(path: Path) -> Repository:
    """One artifact as a repository: its model, one version, stable, the default."""
    model = _load(path)
    return Repository({model.name: _one_version(model)}, model.name)


def load_repository(root: Path, default: str = DEFAULT_MODEL) -> Repository:
    """Read a repository directory (see the module's docstring). The default model is
    `default`, or the only model there is. RepositoryError names the first bad file."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root} is not a directory")
    models: dict[str, ModelVersions] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):  # temporary files; a ConfigMap volume's ..data
            continue
        if entry.is_dir():
            found = _model_directory(entry)
        elif entry.suffix == ".json":
            found = _one_version(_load(entry, name=entry.stem))
        else:
            continue
        if found is not None:
            if found.name in models:
                raise RepositoryError(f"{entry}: model {found.name!r} is in the repository twice")
            models[found.name] = found
    if not models:
        raise RepositoryError(f"model repository {root} holds no model")
    if default not in models:
        if len(models) != 1:
            raise RepositoryError(
                f"model repository {root} has no default model {default!r} "
                f"(it holds {sorted(models)})"
            )
        default = next(iter(models))
    return Repository(models, default)


def load(source: Path, default: str = DEFAULT_MODEL) -> Repository:
    """A repository directory, or one artifact file as a one-model repository."""
    return load_repository(source, default) if source.is_dir() else single_model_repository(source)


def version_files(directory: Path) -> list[Path]:
    """A model directory's artifacts (every `*.json` but the manifest)."""
    return sorted(
        path
        for path in directory.glob("*.json")
        if path.name != MANIFEST and not path.name.startswith(".")
    )


def repository_files(root: Path) -> list[Path]:
    """The `*.json` files a repository directory is read from (`NAME.json`, `NAME/*.json`;
    hidden names skipped), in order. Model directories are followed when they are symlinks:
    in a Kubernetes ConfigMap volume each is a link into `..data/`, which an update swaps to
    a new timestamped directory (`Path.rglob` does not descend into such links)."""
    files: list[Path] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            files.extend(sorted(p for p in entry.glob("*.json") if not p.name.startswith(".")))
        elif entry.suffix == ".json":
            files.append(entry)
    return files


def _model_directory(directory: Path) -> ModelVersions | None:
    files = version_files(directory)
    manifest = directory / MANIFEST
    if not files and not manifest.exists():
        return None
    versions: dict[str, LinearModel] = {}
    for path in files:
        model = _load(path, name=directory.name, version=path.stem)
        versions[model.version] = model
    if not manifest.exists():
        raise RepositoryError(f"{manifest} is missing (it names the stable version)")
    labels = read_labels(manifest)
    named = ((STABLE, labels.stable), (CANARY, labels.canary), (SHADOW, labels.shadow))
    for label, version in named:
        if version is not None and version not in versions:
            raise RepositoryError(
                f"{manifest}: {label} is {version!r}, which is not a version of "
                f"{directory.name!r} (it has {sorted(versions)})"
            )
    return ModelVersions(directory.name, versions, labels)


def _one_version(model: LinearModel) -> ModelVersions:
    return ModelVersions(model.name, {model.version: model}, Labels(model.version))


def _load(path: Path, name: str | None = None, version: str | None = None) -> LinearModel:
    try:
        model = load_artifact(path)
    except ArtifactError as exc:
        raise RepositoryError(str(exc)) from exc
    if name is not None and model.name != name:
        raise RepositoryError(f"{path}: the artifact's name is {model.name!r}, not {name!r}")
    if version is not None and model.version != version:
        raise RepositoryError(
            f"{path}: the artifact's version is {model.version!r}; "
            f"a version's file is named after it ({model.version}.json)"
        )
    if model.version in LABELS:
        raise RepositoryError(f"{path}: {model.version!r} is a label, not a version name")
    return model


def describe(repository: Repository) -> list[dict[str, Any]]:
    """Every model, its versions and labels, for `list` and GetModelInfo."""
    return [
        {
            "name": name,
            "default": name == repository.default,
            "versions": sorted(entry.versions),
            "labels": entry.labels.document(),
        }
        for name, entry in sorted(repository.models.items())
    ]


def breach_canary(root: Path, name: str, breach: Breach) -> bool:
    """What a guard does when it fires: in `<root>/<name>/labels.json`, the canary's share
    set to 0 and the breach recorded (one atomic write). False, and nothing written, when
    the manifest no longer has `breach.version` as a guarded canary or its guard already
    fired (another server was first)."""
    manifest = root / name / MANIFEST
    labels = read_labels(manifest)
    if labels.canary != breach.version or labels.guard is None or labels.guard.breached:
        return False
    write_labels(manifest, labels.guard_breached(breach))
    return True
