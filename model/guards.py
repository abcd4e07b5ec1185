"""A canary's guards, as its model's manifest keeps them: expressions over the figures a
server measures of the canary's own calls (`figure<limit` or `figure<=limit`), the window
they are measured over, the least number of compared records before they may fire, and
the breach once one fired. No grpc here; the server and `diabetes-models` share it.

In `labels.json`:

    "guard": {"expressions": ["beyond_interval_share<0.05", "mean_abs_diff<=20"],
              "window_seconds": 300, "min_compared": 20,
              "breached": null or {"at": "...", "by": "guard@host:pid", "version": "...",
                                   "figure": "...", "value": 0.4, "expression": "..."}}
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# What a server measures of a canary's calls against stable on the same inputs.
FIGURES = ("beyond_interval_share", "mean_abs_diff", "max_abs_diff")
DEFAULT_WINDOW_SECONDS = 300.0
DEFAULT_MIN_COMPARED = 20
# A window a server can keep per-second figures for.
MAX_WINDOW_SECONDS = 3600.0
_EXPRESSION = re.compile(r"^\s*([a-z_]+)\s*(<=|<)\s*([-+0-9.eE]+)\s*$")
_WINDOW = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|m|h)?\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class GuardError(ValueError):
    """A guard expression, window or record that cannot be used; the message says which."""


@dataclass(frozen=True)
class GuardExpression:
    """`figure < limit` (or `<=`): what must hold of the canary's window."""

    figure: str
    operator: str
    limit: float

    @property
    def text(self) -> str:
        return f"{self.figure}{self.operator}{self.limit:g}"

    def holds(self, value: float) -> bool:
        return value < self.limit if self.operator == "<" else value <= self.limit


def parse_expression(text: str) -> GuardExpression:
    """`beyond_interval_share<0.05`; GuardError naming the figures otherwise."""
    found = _EXPRESSION.match(text)
    if found is None:
        raise GuardError(
            f"guard {text[:64]!r} is not FIGURE<LIMIT or FIGURE<=LIMIT "
            f"(figures: {', '.join(FIGURES)})"
        )
    figure, operator, limit_text = found.groups()
    if figure not in FIGURES:
        raise GuardError(
            f"guard {text[:64]!r}: no figure {figure!r}; figures: {', '.join(FIGURES)}"
        )
    try:
        limit = float(limit_text)
    except ValueError:
        raise GuardError(f"guard {text[:64]!r}: {limit_text!r} is not a number") from None
    if not math.isfinite(limit):
        raise GuardError(f"guard {text[:64]!r}: the limit must be finite")
    return GuardExpression(figure, operator, limit)


def parse_window(text: str) -> float:
    """`300`, `90s`, `5m`, `1h` as seconds (1 s to an hour)."""
    found = _WINDOW.match(text)
    if found is None:
        raise GuardError(f"window {text[:64]!r} is not a number of seconds, or N s, N m, N h")
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "s"]
    if not 1.0 <= seconds <= MAX_WINDOW_SECONDS:
        raise GuardError(f"window {text[:64]!r}: must be from 1 s to {MAX_WINDOW_SECONDS:g} s")
    return seconds


@dataclass(frozen=True)
class Breach:
    """Which guard fired, on which figure and value, who saw it and when."""

    at: str
    by: str
    version: str
    figure: str
    value: float
    expression: str

    def document(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "by": self.by,
            "version": self.version,
            "figure": self.figure,
            "value": self.value,
            "expression": self.expression,
        }


@dataclass(frozen=True)
class Guard:
    """A canary's guards and, once one fired, the breach."""

    expressions: tuple[GuardExpression, ...]
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    min_compared: int = DEFAULT_MIN_COMPARED
    breached: Breach | None = None

    def document(self) -> dict[str, Any]:
        return {
            "expressions": [e.text for e in self.expressions],
            "window_seconds": self.window_seconds,
            "min_compared": self.min_compared,
            "breached": None if self.breached is None else self.breached.document(),
        }


def parse_guard(document: Any, where: str) -> Guard:
    """A manifest's `guard` object; GuardError names what is wrong."""
    if not isinstance(document, dict):
        raise GuardError(f"{where}: expected a JSON object")
    unknown = set(document) - {"expressions", "window_seconds", "min_compared", "breached"}
    if unknown:
        raise GuardError(f"{where}: unknown keys {sorted(unknown)}")
    texts = document.get("expressions", [])
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise GuardError(f"{where}.expressions: expected a non-empty list of strings")
    if len(texts) > len(FIGURES) * 2:
        raise GuardError(f"{where}.expressions: at most {len(FIGURES) * 2} guards")
    window = document.get("window_seconds", DEFAULT_WINDOW_SECONDS)
    if isinstance(window, bool) or not isinstance(window, int | float):
        raise GuardError(f"{where}.window_seconds: expected a number")
    if not 1.0 <= window <= MAX_WINDOW_SECONDS:
        raise GuardError(f"{where}.window_seconds: must be from 1 to {MAX_WINDOW_SECONDS:g}")
    least = document.get("min_compared", DEFAULT_MIN_COMPARED)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        raise GuardError(f"{where}.min_compared: expected a whole number of at least 1")
    return Guard(
        tuple(parse_expression(text) for text in texts),
        float(window),
        least,
        _parse_breach(document.get("breached"), f"{where}.breached"),
    )


def _parse_breach(document: Any, where: str) -> Breach | None:
    if document is None:
        return None
    if not isinstance(document, dict):
        raise GuardError(f"{where}: expected a JSON object or null")
    try:
        return Breach(
            str(document["at"]),
            str(document["by"]),
            str(document["version"]),
            str(document["figure"]),
            float(document["value"]),
            str(document["expression"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GuardError(f"{where}: {exc}") from None
