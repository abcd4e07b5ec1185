"""`ServerMetrics`: what the server reports (calls, the model served, input drift), kept
as plain numbers. A call adds to them under a lock (a few microseconds, the metrics'
whole cost on the hot path); they become Prometheus metric families only when read."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry

from model.artifact import LinearModel
from model.linear import FloatArray
from server.comparisons import ComparisonTotals
from server.metrics import definitions as defs
from server.metrics.drift import DriftTotals
from server.metrics.exposition import SamplesCollector
from server.metrics.samples import LabelValues, Samples


class ServerMetrics:
    """The server's metrics; implements `server.rpc.CallMetrics`. Served from
    `registry` (a collector reading the live values)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str], int] = {}
        self._latency: dict[str, _Histogram] = {}
        self._records: dict[str, _Histogram] = {}
        self._in_flight: dict[str, int] = {}
        self._reserved_bytes = 0
        self._refusals: dict[str, int] = {}
        self._model_calls: dict[tuple[str, str, str], int] = {}
        self._model_info: dict[LabelValues, float] = {}
        self._reloads: dict[str, int] = {}
        self._files_refused: dict[LabelValues, list[float]] = {}
        self._training: dict[str, dict[LabelValues, list[float]]] = {}
        self._served: LabelValues | None = None
        self.drift = DriftTotals()
        # Shadow and canary comparisons, and the guards' figures (`server.shadow`).
        self.comparisons = ComparisonTotals()
        if registry is not None:
            registry.register(SamplesCollector(self.samples))

    # CallMetrics: the hot path only adds to plain numbers under a lock.
    def call_started(self, method: str) -> None:
        with self._lock:
            self._in_flight[method] = self._in_flight.get(method, 0) + 1

    def call_finished(self, method: str, code: str, seconds: float, records: int) -> None:
        with self._lock:
            self._in_flight[method] -= 1
            self._calls[method, code] = self._calls.get((method, code), 0) + 1
            latency = self._latency.get(method)
            if latency is None:
                latency = self._latency[method] = _Histogram(defs.LATENCY_BUCKETS)
            latency.add(seconds)
            if records:
                counts = self._records.get(method)
                if counts is None:
                    counts = self._records[method] = _Histogram(defs.RECORD_BUCKETS)
                counts.add(records)

    # AdmissionMetrics
    def memory_reserved(self, reserved_bytes: int) -> None:
        with self._lock:
            self._reserved_bytes = reserved_bytes

    def admission_refused(self, reason: str) -> None:
        with self._lock:
            self._refusals[reason] = self._refusals.get(reason, 0) + 1

    def model_answered(self, model: str, version: str, code: str) -> None:
        key = (model, version, code)
        with self._lock:
            self._model_calls[key] = self._model_calls.get(key, 0) + 1

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        self.drift.add_columns(model, columns)

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None:
        self.drift.add_record(model, values)

    # Model lifecycle
    def model_loaded(self, model: LinearModel) -> None:
        """The model now being served: its info metric and training statistics."""
        labels = (model.name, model.version, model.checksum)
        stats = list(zip(model.features, model.feature_stats, strict=True))
        mean: dict[LabelValues, list[float]] = {(name,): [f.mean] for name, f in stats}
        std: dict[LabelValues, list[float]] = {(name,): [f.std] for name, f in stats}
        with self._lock:
            if self._served is not None and self._served != labels:
                self._model_info[self._served] = 0.0
            self._model_info[labels] = 1.0
            self._served = labels
            self._training = {defs.TRAINING_MEAN.name: mean, defs.TRAINING_STD.name: std}

    def model_reloaded(self, swapped: bool, model: LinearModel) -> None:
        result = "ok" if swapped else "refused"
        with self._lock:
            self._reloads[result] = self._reloads.get(result, 0) + 1
        if swapped:
            self.model_loaded(model)

    def files_refused(self, models: Sequence[str]) -> None:
        """The model of each file refused by the last load (the counts replace the old
        ones; a model with none left reads 0, so a fixed file clears its alert)."""
        counts = dict.fromkeys(self._files_refused, 0.0)
        for model in models:
            counts[(model,)] = counts.get((model,), 0.0) + 1
        with self._lock:
            self._files_refused = {labels: [count] for labels, count in counts.items()}

    # Reading out
    def samples(self) -> Samples:
        """Every value now (see `server.metrics.samples`)."""
        with self._lock:
            samples: Samples = {
                defs.CALLS.name: {labels: [count] for labels, count in self._calls.items()},
                defs.LATENCY.name: {(m,): h.values() for m, h in self._latency.items()},
                defs.RECORDS.name: {(m,): h.values() for m, h in self._records.items()},
                defs.MODEL_CALLS.name: {k: [count] for k, count in self._model_calls.items()},
                defs.IN_FLIGHT.name: {(m,): [count] for m, count in self._in_flight.items()},
                defs.RESERVED_BYTES.name: {(): [self._reserved_bytes]},
                defs.ADMISSION_REFUSALS.name: {(r,): [n] for r, n in self._refusals.items()},
                defs.MODEL_INFO.name: {k: [v] for k, v in self._model_info.items()},
                defs.RELOADS.name: {(r,): [count] for r, count in self._reloads.items()},
                defs.FILES_REFUSED.name: dict(self._files_refused),
                **{name: dict(values) for name, values in self._training.items()},
            }
        samples.update(self.drift.samples())
        for part, values in self.comparisons.samples().items():
            samples[defs.COMPARISON_PARTS[part].name] = values
        return samples


class _Histogram:
    """Observations: per-bucket counts (+Inf last) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def add(self, value: float) -> None:
        # Bucket i holds values <= bounds[i], as prometheus-client's `observe`.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def values(self) -> list[float]:
        return [*self.counts, self.total]
