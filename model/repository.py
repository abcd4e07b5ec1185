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
stable version, or the canary one for `canary_percent` per cent of such calls). Names,
versions and labels all match `model.names.NAME_PATTERN`.

A bad file refuses only itself: the repository serves every model and version it can load
and lists each file it refused (`Repository.refused`, with the reason). A model whose
manifest cannot be read, or whose stable version did not load, is not served; a canary that
did not load is dropped (the stable version answers every call). Read again with the
repository served until then (`previous`), a version or manifest whose file went bad keeps
serving from memory. Only when the default model cannot be served is the whole repository
refused (RepositoryError).
"""

from __future__ import annotations

import json
import os
import random
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model.artifact import ARTIFACTS, ArtifactError, LinearModel, load_artifact
from model.guards import Breach, Guard, GuardError, parse_guard
from model.names import NAME_RULE, check_name, is_valid_name, quoted

MANIFEST = "labels.json"
STABLE, CANARY = "stable", "canary"
SHADOW = "shadow"
LABELS = (STABLE, CANARY, SHADOW)
# Not version names: the labels, and the manifest's own file name.
RESERVED_VERSIONS = (*LABELS, Path(MANIFEST).stem)
# A manifest is a few hundred bytes; anything this large is not one.
MAX_MANIFEST_BYTES = 1 << 20
# How much of a refused file's path and reason GetModelInfo, the logs and the CLI show.
MAX_PATH_CHARS = 160
MAX_REASON_CHARS = 300
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
    named = [(f"{where}.stable", stable)]
    if canary is not None:
        named.append((f"{where}.canary", canary))
    named += [(f"{where}.history[{i}]", version) for i, version in enumerate(history)]
    for place, version in named:
        if not is_valid_name(version) or version in RESERVED_VERSIONS:
            raise RepositoryError(f"{place}: {quoted(version)} is not a version name")
    shadow, guard, changes = _parse_rollout_keys(document, where)
    if shadow is not None and (not is_valid_name(shadow) or shadow in RESERVED_VERSIONS):
        raise RepositoryError(f"{where}.shadow: {quoted(shadow)} is not a version name")
    return Labels(stable, canary, float(percent), tuple(history), shadow, guard, changes)


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
        # Non-blocking and regular files only, so a FIFO in its place cannot hang a reload.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise RepositoryError(f"{path} is not a regular file")
            data = file.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise RepositoryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise RepositoryError(f"{path} is over {MAX_MANIFEST_BYTES >> 20} MiB: not a manifest")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
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
class RefusedFile:
    """A file of the repository that is not served as it is on disk, and why."""

    path: str  # relative to the repository (at most MAX_PATH_CHARS, printable)
    reason: str  # at most MAX_REASON_CHARS
    model: str = ""  # the model it belongs to; "" when its name is not a valid one
    # Whether what was loaded from it before still serves (from memory).
    still_served: bool = False


@dataclass(frozen=True)
class Repository:
    """Every model served, the one a call that names none gets, and the files refused."""

    models: Mapping[str, ModelVersions]
    default: str
    draw: Callable[[], float] = field(default=random.random, compare=False)
    refused: tuple[RefusedFile, ...] = ()

    def resolve(self, model: str = "", version: str = "") -> LinearModel:
        """The model version that answers a call naming `model` (empty: the default) and
        `version` (a version or a label; empty: stable, or the canary's share).
        InvalidNameError for a name or version that is not one, before any lookup."""
        check_call_names(model, version)
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


def check_call_names(model: str, version: str) -> None:
    """InvalidNameError unless `model` and `version` are each empty or a valid name."""
    if model:
        check_name(model, "model name")
    if version:
        check_name(version, "model version")


def single_model_repository(path: Path) -> Repository:
    """One artifact as a repository: its model, one version, stable, the default."""
    model = _load(path)
    return Repository({model.name: _one_version(model)}, model.name)


def load_repository(
    root: Path, default: str = DEFAULT_MODEL, previous: Repository | None = None
) -> Repository:
    """Read a repository directory (see the module's docstring): every model it can, each
    refused file listed. The default model is `default`, or the only model there is.
    `previous`: the repository served until now, whose versions keep serving from memory
    when their files went bad. RepositoryError when the default model cannot be served."""
    if not root.is_dir():
        raise RepositoryError(f"model repository {root} is not a directory")
    loader = _Loader(root, previous)
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):  # temporary files; a ConfigMap volume's ..data
            continue
        if entry.is_dir():
            loader.model_directory(entry)
        elif entry.suffix == ".json":
            loader.single_file(entry)
    return loader.repository(default)


def load(
    source: Path, default: str = DEFAULT_MODEL, previous: Repository | None = None
) -> Repository:
    """A repository directory, or one artifact file as a one-model repository."""
    if source.is_dir():
        return load_repository(source, default, previous)
    return single_model_repository(source)


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


class _Loader:
    """One reading of a repository directory: what loaded, what was refused."""

    def __init__(self, root: Path, previous: Repository | None) -> None:
        self.root = root
        self.before: Mapping[str, ModelVersions] = previous.models if previous else {}
        self.models: dict[str, ModelVersions] = {}
        self.refused: list[RefusedFile] = []
        self.seen: set[str] = set()  # valid model names found, served or not

    def model_directory(self, directory: Path) -> None:
        files = version_files(directory)
        manifest = directory / MANIFEST
        if not files and not manifest.exists():
            return  # not a model: nothing in it a model is made of
        name = directory.name
        if not is_valid_name(name):
            self.refuse(directory, _not_a_model_name(name))
            return
        self.seen.add(name)
        before = self.before.get(name)
        versions: dict[str, LinearModel] = {}
        for path in files:
            try:
                versions[path.stem] = _load(path, name=name, version=path.stem)
            except RepositoryError as exc:
                kept = before.versions.get(path.stem) if before else None
                if kept is not None:
                    versions[path.stem] = kept
                self.refuse(path, str(exc), name, kept is not None)
        labels = self.labels(manifest, name, versions, before)
        if labels is not None:
            self.models[name] = ModelVersions(name, versions, labels)

    def labels(
        self,
        manifest: Path,
        name: str,
        versions: Mapping[str, LinearModel],
        before: ModelVersions | None,
    ) -> Labels | None:
        """The model's labels, if it can be served: stable must name a loaded version (a
        canary naming none is dropped). A manifest refused falls back on the labels served
        before, when their stable version is still loaded."""
        try:
            if not manifest.exists():
                raise RepositoryError(f"{manifest} is missing (it names the stable version)")
            labels = read_labels(manifest)
            if labels.stable not in versions:
                raise RepositoryError(
                    f"{manifest}: stable is {labels.stable!r}, which is not a loaded version "
                    f"of {name!r} (it has {sorted(versions)})"
                )
        except RepositoryError as exc:
            fallback = before.labels if before and before.labels.stable in versions else None
            self.refuse(manifest, str(exc), name, kept=fallback is not None)
            if fallback is None:
                return None
            labels = fallback
        else:
            if labels.canary is not None and labels.canary not in versions:
                self.refuse(
                    manifest,
                    f"canary is {labels.canary!r}, which is not a loaded version of {name!r}; "
                    "the stable version answers every call",
                    name,
                )
            if labels.shadow is not None and labels.shadow not in versions:
                self.refuse(
                    manifest,
                    f"shadow is {labels.shadow!r}, which is not a loaded version of {name!r}; "
                    "no shadow is evaluated",
                    name,
                )
        if labels.canary is not None and labels.canary not in versions:
            labels = replace(labels, canary=None, canary_percent=0.0)
        if labels.shadow is not None and labels.shadow not in versions:
            labels = replace(labels, shadow=None)
        return labels

    def single_file(self, path: Path) -> None:
        name = path.stem
        if not is_valid_name(name):
            self.refuse(path, _not_a_model_name(name))
            return
        if name in self.seen:
            self.refuse(path, f"model {name!r} is in the repository twice ({name}/, {path.name})")
            return
        self.seen.add(name)
        try:
            self.models[name] = _one_version(_load(path, name=name))
        except RepositoryError as exc:
            before = self.before.get(name)
            if before is not None:
                self.models[name] = before
            self.refuse(path, str(exc), name, before is not None)

    def refuse(self, path: Path, reason: str, model: str = "", kept: bool = False) -> None:
        relative = path.relative_to(self.root).as_posix()
        # The reason names the file by its path in the repository, as `path` does.
        reason = reason.replace(f"model artifact {path}", "the artifact")
        reason = reason.replace(str(path), relative).removeprefix(f"{relative}: ")
        shown = _printable(relative, MAX_PATH_CHARS)
        self.refused.append(RefusedFile(shown, _printable(reason, MAX_REASON_CHARS), model, kept))

    def repository(self, default: str) -> Repository:
        if default not in self.models:
            if default in self.seen:
                reasons = "; ".join(
                    f"{f.path}: {f.reason}" for f in self.refused if f.model == default
                )
                raise RepositoryError(
                    f"the default model {default!r} of {self.root} cannot be served: {reasons}"
                )
            if len(self.seen) != 1 or not self.models:
                what = f"it holds {sorted(self.models)}" if self.models else "it holds no model"
                refused = f"; {len(self.refused)} files refused" if self.refused else ""
                raise RepositoryError(
                    f"model repository {self.root} has no default model {default!r} "
                    f"({what}{refused})"
                )
            default = next(iter(self.models))
        return Repository(self.models, default, refused=tuple(self.refused))


def _not_a_model_name(name: str) -> str:
    return f"{quoted(name)} is not a valid model name: expected {NAME_RULE}"


def _printable(text: str, limit: int) -> str:
    """`text` as valid UTF-8 (a file name's undecodable bytes escaped), at most `limit`
    characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _one_version(model: LinearModel) -> ModelVersions:
    return ModelVersions(model.name, {model.version: model}, Labels(model.version))


def _load(path: Path, name: str | None = None, version: str | None = None) -> LinearModel:
    try:
        model = load_artifact(path)
    except ArtifactError as exc:
        raise RepositoryError(str(exc)) from exc
    for what, given in (("name", model.name), ("version", model.version)):
        if not is_valid_name(given):
            raise RepositoryError(
                f"{path}: the artifact's {what} {quoted(given)} is not valid: expected {NAME_RULE}"
            )
    if name is not None and model.name != name:
        raise RepositoryError(f"{path}: the artifact's name is {model.name!r}, not {name!r}")
    if version is not None and model.version != version:
        raise RepositoryError(
            f"{path}: the artifact's version is {model.version!r}; "
            f"a version's file is named after it ({model.version}.json)"
        )
    if model.version in RESERVED_VERSIONS:
        raise RepositoryError(f"{path}: {model.version!r} is reserved, not a version name")
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


def describe_refused(repository: Repository) -> list[dict[str, Any]]:
    """Every file refused, for `list` and the logs."""
    return [
        {"path": f.path, "reason": f.reason, "model": f.model, "still_served": f.still_served}
        for f in repository.refused
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
