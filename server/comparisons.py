"""What the shadow and canary comparisons add up to: per (model, role, candidate version,
reference version) the records compared, how many fell outside the reference's interval,
the sum and largest |difference|, a histogram of differences, each feature's moved
contribution, the 20 largest differences with their inputs, and per-second figures for a
guard's window. Plain numbers under a lock; metric families only when read. Bounded: one
entry per labelled pair the repository names, 20 examples each, an hour of seconds each.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from model.guards import MAX_WINDOW_SECONDS
from model.linear import FloatArray

SHADOW_ROLE, CANARY_ROLE = "shadow", "canary"
WORST_KEPT = 20
# Keys kept at most (model, role, version, reference): old pairs past it are dropped.
MAX_PAIRS = 64
Pair = tuple[str, str, str, str]  # model, role, candidate version, reference version
# Upper bounds of the difference histogram's buckets (+Inf implied), in the target's units.
DIFF_BUCKETS = (-100.0, -50.0, -20.0, -10.0, -5.0, -1.0, 0.0, 1.0, 5.0, 10.0, 20.0, 50.0, 100.0)
# Per part of `ComparisonTotals.samples`: label values -> value(s), as `server.metrics` takes.
Values = dict[tuple[str, ...], list[float]]


class Example(NamedTuple):
    """One compared record: its inputs, both predictions."""

    abs_diff: float
    inputs: tuple[float, ...]
    candidate: float
    reference: float


class WindowFigures(NamedTuple):
    compared: int
    beyond_interval_share: float
    mean_abs_diff: float
    max_abs_diff: float

    def figure(self, name: str) -> float:
        value: float = getattr(self, name)
        return value


@dataclass
class _Second:
    second: int
    compared: int = 0
    beyond: int = 0
    abs_sum: float = 0.0
    max_abs: float = 0.0


@dataclass
class _PairTotals:
    features: tuple[str, ...]
    compared: int = 0
    beyond: int = 0
    abs_sum: float = 0.0
    max_abs: float = 0.0
    diff_counts: list[int] = field(default_factory=lambda: [0] * (len(DIFF_BUCKETS) + 1))
    diff_sum: float = 0.0
    contribution_abs: list[float] = field(default_factory=list)
    worst: list[Example] = field(default_factory=list)
    seconds: deque[_Second] = field(default_factory=lambda: deque(maxlen=int(MAX_WINDOW_SECONDS)))


class Batch(NamedTuple):
    """One call's comparison, computed outside the lock."""

    compared: int
    beyond: int
    abs_sum: float
    max_abs: float
    diff_counts: list[int]
    diff_sum: float
    contribution_abs: list[float]
    worst: list[Example]


def summarize(
    columns: list[FloatArray],
    candidate: FloatArray,
    reference: FloatArray,
    half_width: FloatArray,
    contribution_abs: list[float],
) -> Batch:
    """One call's comparison figures (numpy over the call's own, already bounded, batch)."""
    diff = candidate - reference
    absolute = np.abs(diff)
    count = len(diff)
    keep = min(WORST_KEPT, count)
    top = np.argpartition(-absolute, keep - 1)[:keep] if count > keep else np.arange(count)
    worst = [
        Example(
            float(absolute[i]),
            tuple(float(column[i]) for column in columns),
            float(candidate[i]),
            float(reference[i]),
        )
        for i in top.tolist()
    ]
    buckets = np.searchsorted(DIFF_BUCKETS, diff, side="left")
    return Batch(
        count,
        int(np.count_nonzero(absolute > half_width)),
        float(absolute.sum()),
        float(absolute.max()) if count else 0.0,
        np.bincount(buckets, minlength=len(DIFF_BUCKETS) + 1).tolist(),
        float(diff.sum()),
        contribution_abs,
        worst,
    )


class ComparisonTotals:
    """Every comparison this process made; read by the metrics and the guards."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._pairs: dict[Pair, _PairTotals] = {}
        self._errors: dict[str, int] = {}
        self._guard_figures: dict[tuple[str, str, str], float] = {}
        self._breaches: dict[tuple[str, str, str], int] = {}
        self._clock = clock

    def add(self, pair: Pair, features: tuple[str, ...], batch: Batch) -> None:
        second = int(self._clock())
        with self._lock:
            totals = self._pairs.get(pair)
            if totals is None or totals.features != features:
                if len(self._pairs) >= MAX_PAIRS:
                    self._pairs.pop(next(iter(self._pairs)))
                totals = self._pairs[pair] = _PairTotals(
                    features, contribution_abs=[0.0] * len(features)
                )
            totals.compared += batch.compared
            totals.beyond += batch.beyond
            totals.abs_sum += batch.abs_sum
            totals.max_abs = max(totals.max_abs, batch.max_abs)
            totals.diff_counts = [
                a + b for a, b in zip(totals.diff_counts, batch.diff_counts, strict=True)
            ]
            totals.diff_sum += batch.diff_sum
            totals.contribution_abs = [
                a + b for a, b in zip(totals.contribution_abs, batch.contribution_abs, strict=True)
            ]
            if batch.worst and (
                len(totals.worst) < WORST_KEPT
                or max(e.abs_diff for e in batch.worst) > totals.worst[-1].abs_diff
            ):
                merged = sorted((*totals.worst, *batch.worst), key=lambda e: -e.abs_diff)
                totals.worst = merged[:WORST_KEPT]
            if not totals.seconds or totals.seconds[-1].second != second:
                totals.seconds.append(_Second(second))
            now = totals.seconds[-1]
            now.compared += batch.compared
            now.beyond += batch.beyond
            now.abs_sum += batch.abs_sum
            now.max_abs = max(now.max_abs, batch.max_abs)

    def error(self, model: str) -> None:
        with self._lock:
            self._errors[model] = self._errors.get(model, 0) + 1

    def window(self, pair: Pair, seconds: float) -> WindowFigures:
        """The pair's figures over the last `seconds` (this process's calls only)."""
        since = self._clock() - seconds
        compared = beyond = 0
        abs_sum = max_abs = 0.0
        with self._lock:
            totals = self._pairs.get(pair)
            for each in totals.seconds if totals is not None else ():
                if each.second + 1 > since:
                    compared += each.compared
                    beyond += each.beyond
                    abs_sum += each.abs_sum
                    max_abs = max(max_abs, each.max_abs)
        if not compared:
            return WindowFigures(0, 0.0, 0.0, 0.0)
        return WindowFigures(compared, beyond / compared, abs_sum / compared, max_abs)

    def guard_measured(self, model: str, version: str, figures: WindowFigures) -> None:
        with self._lock:
            for name in ("beyond_interval_share", "mean_abs_diff", "max_abs_diff"):
                self._guard_figures[model, version, name] = figures.figure(name)

    def guard_fired(self, model: str, version: str, figure: str) -> None:
        key = (model, version, figure)
        with self._lock:
            self._breaches[key] = self._breaches.get(key, 0) + 1

    def samples(self) -> dict[str, Values]:
        """The values, by part (the keys of `server.metrics.definitions.COMPARISON_PARTS`)."""
        compared: Values = {}
        beyond: Values = {}
        abs_sum: Values = {}
        max_abs: Values = {}
        diff: Values = {}
        contribution: Values = {}
        worst: Values = {}
        with self._lock:
            for pair, totals in self._pairs.items():
                compared[pair] = [float(totals.compared)]
                beyond[pair] = [float(totals.beyond)]
                abs_sum[pair] = [totals.abs_sum]
                max_abs[pair] = [totals.max_abs]
                diff[pair] = [*map(float, totals.diff_counts), totals.diff_sum]
                for feature, value in zip(totals.features, totals.contribution_abs, strict=True):
                    contribution[(*pair, feature)] = [value]
                for rank, example in enumerate(totals.worst, start=1):
                    where = (*pair, str(rank))
                    for feature, value in zip(totals.features, example.inputs, strict=True):
                        worst[(*where, feature)] = [value]
                    worst[(*where, "prediction")] = [example.candidate]
                    worst[(*where, "reference_prediction")] = [example.reference]
            errors: Values = {(model,): [float(count)] for model, count in self._errors.items()}
            figures: Values = {key: [value] for key, value in self._guard_figures.items()}
            breaches: Values = {key: [float(count)] for key, count in self._breaches.items()}
        return {
            "compared": compared,
            "beyond": beyond,
            "abs_sum": abs_sum,
            "max_abs": max_abs,
            "diff": diff,
            "contribution": contribution,
            "worst": worst,
            "errors": errors,
            "guard_figures": figures,
            "breaches": breaches,
        }
