"""The model being served, swapped atomically on reload.

A call reads `store.current` once and uses that model to the end, so in-flight calls
finish on the model they started with. A bad artifact is refused and the old model
keeps serving: whatever a reload raises is logged and counted as refused (never a dead
watcher thread or a crashed server).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from model.artifact import ArtifactError, LinearModel, load_artifact

log = logging.getLogger("server.model")


class ModelStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.current: LinearModel = load_artifact(path)
        self._reload_lock = threading.Lock()

    def reload(self) -> bool:
        """Load the artifact again; swap it in if it is valid. True when swapped."""
        with self._reload_lock:
            try:
                candidate = load_artifact(self.path)
            except ArtifactError as exc:
                self._refused(str(exc))
                return False
            except Exception as exc:  # a loader bug must not take the server down
                log.exception("model reload failed unexpectedly")
                self._refused(f"{type(exc).__name__}: {exc}")
                return False
            previous = self.current
            self.current = candidate
            log.info(
                "model reloaded",
                extra={"model_version": candidate.version, "previous_version": previous.version},
            )
            return True

    def _refused(self, error: str) -> None:
        log.error(
            "model reload refused; still serving %s",
            self.current.version,
            extra={"error": error, "model_version": self.current.version},
        )


class ArtifactWatcher(threading.Thread):
    """Reloads the store when its artifact file changes (polls the file's mtime and size)."""

    def __init__(self, store: ModelStore, interval: float = 1.0) -> None:
        super().__init__(name="artifact-watcher", daemon=True)
        self._store = store
        self._interval = interval
        self._stopped = threading.Event()
        self._seen = self._signature()

    def _signature(self) -> tuple[int, int] | None:
        try:
            stat = self._store.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

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
