"""Input drift against the training statistics: per-feature sums, counts and out-of-range
counts, added per call (plain floats for one record, numpy for a batch)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from model.artifact import LinearModel
from model.linear import FloatArray
from server.metrics import definitions as defs
from server.metrics.samples import Samples


class DriftTotals:
    """Running totals since start, per feature (of every model served)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, ...], _FeatureTotals] = {}
        self._bounds: _ModelBounds | None = None

    def add_record(self, model: LinearModel, values: Sequence[float]) -> None:
        """One record's values in the model's feature order (the Predict path)."""
        bounds = self._model_bounds(model)
        with self._lock:
            totals = self._of(bounds.features)
            totals.count += 1
            sums, below, above = totals.sums, totals.below, totals.above
            for index, (value, low, high) in enumerate(
                zip(values, bounds.lows, bounds.highs, strict=True)
            ):
                sums[index] += value
                if value < low:
                    below[index] += 1
                elif value > high:
                    above[index] += 1

    def add_columns(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        """A batch, one array per feature in the model's order."""
        bounds = self._model_bounds(model)
        values = np.vstack(columns)
        sums = values.sum(axis=1).tolist()
        below = (values < bounds.low_column).sum(axis=1).tolist()
        above = (values > bounds.high_column).sum(axis=1).tolist()
        with self._lock:
            totals = self._of(bounds.features)
            totals.count += values.shape[1]
            for index in range(len(sums)):
                totals.sums[index] += sums[index]
                totals.below[index] += below[index]
                totals.above[index] += above[index]

    def samples(self) -> Samples:
        counts: dict[tuple[str, ...], list[float]] = {}
        sums: dict[tuple[str, ...], list[float]] = {}
        out: dict[tuple[str, ...], list[float]] = {}

        def add(into: dict[tuple[str, ...], list[float]], key: tuple[str, ...], n: float) -> None:
            into[key] = [into.get(key, [0.0])[0] + n]

        with self._lock:
            for features, totals in self._totals.items():
                if totals.count == 0:
                    continue
                for index, name in enumerate(features):
                    add(counts, (name,), totals.count)
                    add(sums, (name,), totals.sums[index])
                    if totals.below[index]:
                        add(out, (name, "below"), totals.below[index])
                    if totals.above[index]:
                        add(out, (name, "above"), totals.above[index])
        return {
            defs.FEATURE_COUNT.name: counts,
            defs.FEATURE_SUM.name: sums,
            defs.OUT_OF_RANGE.name: out,
        }

    def _of(self, features: tuple[str, ...]) -> _FeatureTotals:
        totals = self._totals.get(features)
        if totals is None:
            totals = self._totals[features] = _FeatureTotals(len(features))
        return totals

    def _model_bounds(self, model: LinearModel) -> _ModelBounds:
        # One entry: the model being served (a call on the previous one just recomputes).
        bounds = self._bounds
        if bounds is None or bounds.model is not model:
            bounds = self._bounds = _ModelBounds(model)
        return bounds


class _ModelBounds:
    """A model's training ranges, as floats (one record) and as column arrays (batches)."""

    __slots__ = ("features", "high_column", "highs", "low_column", "lows", "model")

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        self.features = model.features
        self.lows = tuple(s.min for s in model.feature_stats)
        self.highs = tuple(s.max for s in model.feature_stats)
        self.low_column = np.array(self.lows)[:, None]
        self.high_column = np.array(self.highs)[:, None]


class _FeatureTotals:
    __slots__ = ("above", "below", "count", "sums")

    def __init__(self, features: int) -> None:
        self.count = 0
        self.sums = [0.0] * features
        self.below = [0] * features
        self.above = [0] * features
