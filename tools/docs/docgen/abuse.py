"""The abuse suite's committed run (`docs/results/abuse.json`, written by tests/abuse with
`DIABETES_ABUSE_RESULTS=docs/results/abuse.json`): operations.md's abuse table and the
figures its prose quotes (`abuse:NAME` sections).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tools.docs.docgen.tables import table

ROOT = Path(__file__).resolve().parents[3]
ABUSE = ROOT / "docs" / "results" / "abuse.json"
MIB = 1024 * 1024


@cache
def abuse_results(path: Path = ABUSE) -> Mapping[str, Any]:
    results: Mapping[str, Any] = json.loads(path.read_text())
    return results


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.0f} MiB"


def _steady(case: Mapping[str, Any]) -> str:
    calls, ok = int(case["steady_calls"]), int(case["steady_ok"])
    return f"{ok:,} of {calls:,} ({ok / max(1, calls):.1%})"


def _servers(case: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{_mib(int(m['peak']))} ({_mib(int(m['start']))} before)" for m in case["servers"]
    )


def abuse_table() -> str:
    cases = abuse_results()["cases"].values()
    return table(
        (
            "Attack",
            "What the edge and servers did",
            "Steady calls answered",
            "Envoy RSS peak",
            "Server peak RSS",
        ),
        [
            (
                case["sent"],
                case["answer"],
                _steady(case),
                f"{_mib(case['envoy']['peak'])} ({_mib(case['envoy']['start'])} before)",
                _servers(case),
            )
            for case in cases
        ],
    )


def _size(n_bytes: int) -> str:
    return f"{n_bytes / MIB:.1f} MiB" if n_bytes >= MIB // 10 else f"{n_bytes:,} bytes"


def shapes_table() -> str:
    """Each hostile body: what was sent, the answer, the server's peak growth and its bound."""
    shapes = abuse_results().get("shapes", {}).values()
    return table(
        ("Hostile body", "Sent", "Answer", "Server peak grew by", "Bound (4× body + 16 MiB)"),
        [
            (
                f"`POST {shape['path']}`: {shape['shape'].replace('_', ' ')}",
                _size(int(shape["sent_bytes"])),
                f"{shape['status']} `{shape['message']}`",
                _size(int(shape["server_growth"])),
                _size(int(shape["bound"])),
            )
            for shape in shapes
        ],
    )


def _environment() -> str:
    e = abuse_results()["environment"]
    return f"one run, {e['cpus']} cores, Envoy {e['envoy']} with `--concurrency 1`, {e['date']}"


def _envoy_limit() -> str:
    limits = {int(case["envoy"]["limit"]) for case in abuse_results()["cases"].values()}
    return " / ".join(_mib(limit) for limit in sorted(limits))


def _lowest_success() -> str:
    cases = abuse_results()["cases"].values()
    lowest = min(int(c["steady_ok"]) / max(1, int(c["steady_calls"])) for c in cases)
    return f"{lowest:.1%}"


FIGURES = {
    "table": abuse_table,
    "shapes": shapes_table,
    "environment": _environment,
    "envoy-limit": _envoy_limit,
    "lowest-success": _lowest_success,
}


def figure(name: str) -> str:
    if name not in FIGURES:
        raise KeyError(f"no abuse figure {name!r} in docgen.abuse; known: {sorted(FIGURES)}")
    return FIGURES[name]()
