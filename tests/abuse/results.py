"""The abuse suite's figures, written where operations.md's abuse table is rendered from.

With `DIABETES_ABUSE_RESULTS=docs/results/abuse.json` each case that ran replaces its own
entry in that file (the others are kept, so one case can be re-run alone); without it nothing
is written. `EXPECTED` is what each case asserts it saw: the suite asserts it, and
tests/docs/test_abuse_results.py checks the committed file against it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_ENV = "DIABETES_ABUSE_RESULTS"
ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "results" / "abuse.json"

# docs/api.md: 401, gRPC code 16 (UNAUTHENTICATED), "Jwt is missing", to the headers alone.
UNAUTHENTICATED_REPLY = "401 16: Jwt is missing"
# operations.md: Envoy answers at the headers and closes the connection, buffering nothing.
CLOSED_WHILE_SENDING = "closed while sending"
MAXIMAL_ANSWER = "200, 100000 predictions"

EXPECTED: dict[str, dict[str, int]] = {
    "bodies": {
        f"{path} -> {UNAUTHENTICATED_REPLY}; {CLOSED_WHILE_SENDING}": 8 for path in ("/batch", "/")
    },
    "authenticated bodies": {MAXIMAL_ANSWER: 4},
    "concurrent maximal batches": {MAXIMAL_ANSWER: 16},
    "connections": {"idle closed": 500, "slow closed": 500},
    "streams": {"UNIMPLEMENTED": 100},
    "rapid reset": {"GOAWAY": 4},
    "headers": {"one 100 KiB header -> 431": 10, "200 headers -> 431": 10},
}
# The refusals a maximal call may get before it succeeds on retry (docs/api.md: a server's
# memory budget or bulk places taken, retried by Envoy on the other hosts first; Envoy
# short of memory), each as "<status> <JSON code>: <message>" with its numbers as N.
RETRYABLE_REFUSALS = (
    re.compile(
        r"503 8: [\w./]+: a request of this size may take N MiB and this server has N MiB "
        r"of its N MiB budget free; retry in N s \(another server may take it now\)"
    ),
    re.compile(
        r"503 8: [\w./]+: this server is handling N bulk calls, its most at once; "
        r"retry in N s \(another server may take it now\)"
    ),
    re.compile(r"503 14: service unavailable: Envoy is short of memory; retry shortly"),
)
# Servers held to a Kubernetes pod's memory limit (deploy/base/server-deployment.yaml).
SERVER_POD_LIMIT_BYTES = 384 * 1024 * 1024


FIGURE = re.compile(r"\d+(?:\.\d+)?")


def refusal_form(refusal: str) -> str:
    """ "<status> <code>: <message>" with the message's figures as N (idempotent), to
    compare with RETRYABLE_REFUSALS and to count refusals by kind."""
    head, _, message = refusal.partition(": ")
    return f"{head}: {FIGURE.sub('N', message)}"


def retryable(refusal: str) -> bool:
    form = refusal_form(refusal)
    return any(pattern.fullmatch(form) for pattern in RETRYABLE_REFUSALS)


@dataclass
class Memory:
    """A process's resident memory over a case: at the start, at its peak, and its limit."""

    start: int
    peak: int
    limit: int = 0


@dataclass
class CaseResult:
    """One case: what was sent, what came back (prose built from the figures), the outcome
    counts the case asserts, the steady load's calls, and the processes' memory."""

    case: str
    order: int
    sent: str
    answer: str
    outcomes: dict[str, int]
    steady_calls: int
    steady_ok: int
    envoy: Memory
    servers: list[Memory]
    refusals: dict[str, int] = field(default_factory=dict)


@dataclass
class ShapeResult:
    """One hostile body against a server behind Envoy: its size, the answer, and how far
    the server's own peak RSS rose against the bound design.md states."""

    shape: str
    order: int
    path: str
    sent_bytes: int
    status: int
    message: str
    server_growth: int
    bound: int


_lock = threading.Lock()


def _results_path() -> Path | None:
    target = os.environ.get(RESULTS_ENV)
    if not target:
        return None
    path = Path(target)
    return path if path.is_absolute() else ROOT / path


def _update(section: str, key: str, entry: dict[str, Any], envoy_version: str = "") -> None:
    """Replace one entry of the results file named by DIABETES_ABUSE_RESULTS, if any."""
    path = _results_path()
    if path is None:
        return
    with _lock:
        existing: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        environment = existing.get("environment", {})
        existing["environment"] = {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "envoy": envoy_version or environment.get("envoy", ""),
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        }
        entries = {**existing.get(section, {}), key: entry}
        existing[section] = dict(sorted(entries.items(), key=lambda item: int(item[1]["order"])))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(existing, indent=2) + "\n")


def record(result: CaseResult, envoy_version: str = "") -> None:
    """Replace the case's entry in the results file named by DIABETES_ABUSE_RESULTS."""
    _update("cases", result.case, asdict(result), envoy_version)


def record_shape(result: ShapeResult) -> None:
    """Replace the hostile body's entry in the results file named by DIABETES_ABUSE_RESULTS."""
    _update("shapes", result.shape, asdict(result))
