"""Structured logging: one JSON object per line on stderr."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections import deque
from json.encoder import encode_basestring
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
    """The one-line-per-call log, in the same JSON shape as the other lines.

    A call only queues its fields (a deque append); a background thread formats the
    lines and writes them in one go every `flush_interval` seconds, and `close` writes
    the rest. Formatting and writing each line in the handler would cost a sizeable
    share of a small call. A process killed with SIGKILL loses at most the last
    `flush_interval` of lines.
    """

    def __init__(self, stream: TextIO | None = None, flush_interval: float = 0.2) -> None:
        self._stream = stream or sys.stderr
        self._pid = os.getpid()
        self._queue: deque[
            tuple[float, str, str, float, int, str | None, str, str | None, tuple[str, str] | None]
        ] = deque()
        self._stopped = threading.Event()
        self._interval = flush_interval
        # The writer's last whole second and its text: most lines share it with the one before.
        self._second, self._second_text = -1, ""
        self._writer = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._writer.start()

    def write(
        self,
        method: str,
        code: str,
        seconds: float,
        records: int,
        request_id: str | None,
        error: str = "",
        subject: str | None = None,
        model: tuple[str, str] | None = None,
    ) -> None:
        """`subject`: the caller's verified identity (the JWT's `sub`, from Envoy), if any;
        `model`: the name and version that answered, if the call reached one."""
        self._queue.append(
            (time.time(), method, code, seconds, records, request_id, error, subject, model)
        )

    def close(self) -> None:
        self._stopped.set()
        self._writer.join()
        self._flush()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._flush()

    def _flush(self) -> None:
        lines = []
        queue = self._queue
        while queue:
            lines.append(self._format(*queue.popleft()))
        if lines:
            self._stream.write("".join(lines))
            self._stream.flush()

    def _format(
        self,
        when: float,
        method: str,
        code: str,
        seconds: float,
        records: int,
        request_id: str | None,
        error: str,
        subject: str | None,
        model: tuple[str, str] | None,
    ) -> str:
        whole = int(when)
        if whole != self._second:
            self._second = whole
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        ts = f"{self._second_text}.{int((when - whole) * 1000):03d}Z"  # as `timestamp(when)`
        request = "null" if request_id is None else encode_basestring(request_id)
        caller = "null" if subject is None else encode_basestring(subject)
        extra = f', "error": {encode_basestring(error)}' if error else ""
        if model is not None:
            extra = (
                f', "model": {encode_basestring(model[0])}, '
                f'"model_version": {encode_basestring(model[1])}{extra}'
            )
        return (
            f'{{"ts": "{ts}", "level": "INFO", "logger": "server.access", '
            f'"pid": {self._pid}, "message": "call", "method": "{method}", "code": "{code}", '
            f'"duration_ms": {round(seconds * 1000, 3)}, "records": {records}, '
            f'"request_id": {request}, "subject": {caller}{extra}}}\n'
        )
