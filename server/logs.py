"""Structured logging: one JSON object per line on stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any, TextIO

# Attributes every LogRecord has; anything else passed as `extra=` is a structured field.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def timestamp(seconds: float) -> str:
    """RFC 3339 UTC with milliseconds."""
    whole = int(seconds)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        + f".{int((seconds - whole) * 1000):03d}Z"
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLog:
    """The one-line-per-call log, in the same JSON shape as the other lines, written
    directly: the logging module's per-record machinery would double the cost of a
    small call."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def write(self, fields: dict[str, Any]) -> None:
        entry = {
            "ts": timestamp(time.time()),
            "level": "INFO",
            "logger": "server.access",
            "pid": self._pid,
            "message": "call",
            **fields,
        }
        line = json.dumps(entry) + "\n"
        with self._lock:
            self._stream.write(line)
