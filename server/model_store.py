"""The model repository being served, swapped atomically (as a whole) on reload.

A call resolves its model once (`store.resolve(name, version)`) and uses that model to the
end, so in-flight calls finish on the version they started with. A model name or version
that is not a valid name (`model.names`) is INVALID_ARGUMENT before any lookup, quoting at
most 64 characters of it.

A bad file refuses only itself (`model.repository`): every load logs one ERROR line per
refused file, and a reload keeps serving from memory a version whose file went bad. A
reload is refused as a whole only when the default model could not be served; then, and
for whatever else a reload raises, the old repository keeps serving and the refusal is
logged and counted (never a dead watcher thread or a crashed server).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from model.artifact import LinearModel
from model.names import InvalidNameError
from model.repository import (
    DEFAULT_MODEL,
    RefusedFile,
    Repository,
    RepositoryError,
    UnknownModelError,
    check_call_names,
    load,
    repository_files,
)
from server.errors import InvalidInputError, ModelNotFoundError

log = logging.getLogger("server.model")


class ModelStore:
    """`path`: a repository directory, or one artifact file (a one-model repository)."""

    def __init__(self, path: Path, default_model: str = DEFAULT_MODEL) -> None:
        self.path = path
        self.default_model = default_model
        self.repository: Repository = load(path, default_model)
        self._reload_lock = threading.Lock()
        log_refused(self.repository.refused)

    @property
    def current(self) -> LinearModel:
        """The default model's stable version."""
        return self.repository.default_model

    def resolve(self, model: str = "", version: str = "") -> LinearModel:
        """The version that answers a call naming `model` and `version` (a version or a
        label; both may be empty); INVALID_ARGUMENT for one that is not a valid name,
        NOT_FOUND naming what is served for one that is not there."""
        check_request_names(model, version)
        try:
            return self.repository.resolve(model, version)
        except UnknownModelError as exc:
            raise ModelNotFoundError(str(exc)) from None

    def reload(self) -> bool:
        """Read the repository again, keeping in memory what was served from files that
        went bad; swap it in unless the default model cannot be served. True when
        swapped."""
        with self._reload_lock:
            try:
                candidate = load(self.path, self.default_model, previous=self.repository)
            except RepositoryError as exc:
                self._refused(str(exc))
                return False
            except Exception as exc:  # a loader bug must not take the server down
                log.exception("model reload failed unexpectedly")
                self._refused(f"{type(exc).__name__}: {exc}")
                return False
            previous = self.current
            self.repository = candidate
            log_refused(candidate.refused)
            log.info(
                "model reloaded",
                extra={
                    "model_version": self.current.version,
                    "previous_version": previous.version,
                    "models": served_versions(candidate),
                },
            )
            return True

    def _refused(self, error: str) -> None:
        log.error(
            "model reload refused; still serving %s",
            self.current.version,
            extra={"error": error, "model_version": self.current.version},
        )


def check_request_names(model: str, version: str) -> None:
    """INVALID_ARGUMENT unless a call's model and version are each empty or a valid name."""
    try:
        check_call_names(model, version)
    except InvalidNameError as exc:
        raise InvalidInputError(str(exc)) from None


def log_refused(refused: tuple[RefusedFile, ...]) -> None:
    """One ERROR line per refused file, with the reason."""
    for each in refused:
        log.error(
            "model file refused: %s",
            each.path,
            extra={
                "file": each.path,
                "error": each.reason,
                "model": each.model,
                "still_served": each.still_served,
            },
        )


def served_versions(repository: Repository) -> dict[str, list[str]]:
    """Each model's versions, for the logs."""
    return {name: sorted(entry.versions) for name, entry in repository.models.items()}


class ArtifactWatcher(threading.Thread):
    """Reloads the store when its artifact file, or any file of its repository directory,
    changes (polls names, mtimes and sizes)."""

    def __init__(self, store: ModelStore, interval: float = 1.0) -> None:
        super().__init__(name="artifact-watcher", daemon=True)
        self._store = store
        self._interval = interval
        self._stopped = threading.Event()
        self._seen = self._signature()

    def _signature(self) -> tuple[tuple[str, int, int], ...] | None:
        root = self._store.path
        try:
            if not root.is_dir():
                stat = root.stat()
                return (("", stat.st_mtime_ns, stat.st_size),)
            files = repository_files(root)
        except OSError:
            return None
        signature = []
        for path in files:
            try:
                stat = path.stat()  # follows symlinks (a ConfigMap volume's files are links)
                seen = (stat.st_mtime_ns, stat.st_size)
            except OSError:  # unreadable (a dangling link): the loader refuses it alone
                seen = (-1, -1)
            signature.append((str(path.relative_to(root)), *seen))
        return tuple(signature)

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._check()
            except Exception:  # keep watching: the next good file must still be picked up
                log.exception("model file watch: reload raised; still watching")

    def _check(self) -> None:
        signature = self._signature()
        if signature is not None and signature != self._seen:
            self._seen = signature
            self._store.reload()

    def stop(self) -> None:
        self._stopped.set()
