"""The access log's lines: each one's `ts` is the RFC 3339 time its call ended, however the
writer spells the seconds it shares with the line before."""

from __future__ import annotations

import io
import json
import time

import pytest

from server.logs import AccessLog, timestamp

# Calls ending within one second, across the next, and one logged out of order (a call
# that ended earlier but was queued later).
# (Fractions exact in binary, so the expected milliseconds are plain.)
ENDED_AT = (1_700_000_000.25, 1_700_000_000.999755859375, 1_700_000_001.00390625, 1_699_999_999.5)


def test_each_line_carries_its_own_time_and_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    access_log = AccessLog(stream, flush_interval=3600.0)
    times = iter(ENDED_AT)
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: next(times))
        for index in range(len(ENDED_AT)):
            access_log.write("Predict", "OK", 0.0015, 1, f"req-{index}", model=("m", "v1"))
    access_log.close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["ts"] for line in lines] == [timestamp(t) for t in ENDED_AT]
    assert [line["ts"] for line in lines] == [
        "2023-11-14T22:13:20.250Z",
        "2023-11-14T22:13:20.999Z",
        "2023-11-14T22:13:21.003Z",
        "2023-11-14T22:13:19.500Z",
    ]
    assert lines[0] == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "INFO",
        "logger": "server.access",
        "pid": lines[0]["pid"],
        "message": "call",
        "method": "Predict",
        "code": "OK",
        "duration_ms": 1.5,
        "records": 1,
        "request_id": "req-0",
        "subject": None,
        "model": "m",
        "model_version": "v1",
    }
    assert time.time() > ENDED_AT[-1]  # the clock is the real one again
