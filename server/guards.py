"""A canary's guards, evaluated by every server over its own calls: once a second, for
each model whose canary has a share and unbroken guards, this server's figures over the
guard's window (`server.comparisons`); when one breaks (with at least `min_compared`
records in the window), the canary's share goes to 0 in the repository with the breach
recorded (`model.repository.breach_canary`, one atomic write), so every server's watcher
picks it up; this server reloads at once. Shown in the metrics
(`diabetes_guard_breaches_total`, `diabetes_guard_figure`), the log and `diabetes-models list`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime

from model.guards import Breach
from model.repository import RepositoryError, breach_canary
from server.comparisons import CANARY_ROLE, ComparisonTotals
from server.model_store import ModelStore

log = logging.getLogger("server.guards")
LOG_INTERVAL_SECONDS = 60.0


def guard_name() -> str:
    """Who a breach is recorded as: this server's guard (host and process)."""
    return f"guard@{socket.gethostname()}:{os.getpid()}"


class GuardWatch(threading.Thread):
    """Evaluates the guards every `interval` seconds until `stop()`."""

    def __init__(self, store: ModelStore, totals: ComparisonTotals, interval: float = 1.0) -> None:
        super().__init__(name="guard-watch", daemon=True)
        self._store = store
        self._totals = totals
        self._interval = interval
        self._stopped = threading.Event()
        self._logged_at = -LOG_INTERVAL_SECONDS
        self.who = guard_name()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.check()
            except Exception:  # keep guarding; say so at most once a minute
                now = time.monotonic()
                if now - self._logged_at >= LOG_INTERVAL_SECONDS:
                    self._logged_at = now
                    log.exception("guard evaluation failed; still guarding")

    def check(self) -> list[Breach]:
        """Evaluate every guarded canary once; the breaches this server recorded."""
        recorded = []
        for name, entry in self._store.repository.models.items():
            labels = entry.labels
            guard = labels.guard
            if labels.canary is None or guard is None or guard.breached is not None:
                continue
            if not labels.canary_percent:
                continue
            pair = (name, CANARY_ROLE, labels.canary, labels.stable)
            figures = self._totals.window(pair, guard.window_seconds)
            self._totals.guard_measured(name, labels.canary, figures)
            if figures.compared < guard.min_compared:
                continue
            for expression in guard.expressions:
                value = figures.figure(expression.figure)
                if expression.holds(value):
                    continue
                breach = Breach(
                    datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    self.who,
                    labels.canary,
                    expression.figure,
                    value,
                    expression.text,
                )
                if self._record(name, breach, figures.compared):
                    recorded.append(breach)
                break
        if recorded:
            self._store.reload()
        return recorded

    def _record(self, name: str, breach: Breach, compared: int) -> bool:
        try:
            written = breach_canary(self._store.path, name, breach)
        except (OSError, RepositoryError) as exc:
            log.error(
                "guard broken but the repository could not be written; the canary keeps its share",
                extra={"model": name, "model_version": breach.version, "error": str(exc)},
            )
            return False
        if written:
            self._totals.guard_fired(name, breach.version, breach.figure)
            log.error(
                "canary rolled back by its guard",
                extra={
                    "model": name,
                    "model_version": breach.version,
                    "figure": breach.figure,
                    "value": breach.value,
                    "guard": breach.expression,
                    "compared": compared,
                },
            )
        return written

    def stop(self) -> None:
        self._stopped.set()
