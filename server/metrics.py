"""Prometheus metrics: calls, latency, batch sizes, in-flight calls, the model version and
input drift against the training statistics in the artifact.

One process (`--workers 1`) serves its own registry. With several worker processes,
prometheus-client's multiprocess mode is used: `PROMETHEUS_MULTIPROC_DIR` must be set
before this module is imported (`server.__main__` does it), every worker writes its values
to files there, and the parent serves the sum (`serve_multiprocess_metrics`).

The hot path stays cheap (a few microseconds a call, in either mode): a call adds to plain
counts under a lock, and a background thread adds them to the Prometheus metrics once a second
(in multiprocess mode every metric update is a locked write to a memory-mapped file).
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
from bisect import bisect_left
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from model.artifact import LinearModel
from model.linear import FloatArray

log = logging.getLogger("server.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
RECORD_BUCKETS = (1, 10, 100, 1_000, 10_000, 100_000)
# Call and drift statistics reach the Prometheus metrics at most this late.
FLUSH_SECONDS = 1.0


class ServerMetrics:
    """The server's metrics; implements `server.telemetry.CallMetrics`."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.calls = Counter(
            "diabetes_calls",
            "Finished calls by gRPC method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "diabetes_call_duration_seconds",
            "Time in the handler, from the request to the last reply message.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.records = Histogram(
            "diabetes_call_records",
            "Records per call (1 for Predict).",
            ["method"],
            buckets=RECORD_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "diabetes_calls_in_flight",
            "Calls being handled now.",
            ["method"],
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.model_info = Gauge(
            "diabetes_model_info",
            "1 for the model version being served (0 for one served before).",
            ["name", "version", "checksum"],
            multiprocess_mode="livemax",
            registry=registry,
        )
        self.reloads = Counter(
            "diabetes_model_reloads",
            "Model reload attempts: ok (swapped) or refused (bad artifact, old model kept).",
            ["result"],
            registry=registry,
        )
        self.training_mean = Gauge(
            "diabetes_training_feature_mean",
            "Mean of each feature in the model's training data.",
            ["feature"],
            multiprocess_mode="livemostrecent",
            registry=registry,
        )
        self.training_std = Gauge(
            "diabetes_training_feature_std",
            "Standard deviation of each feature in the model's training data.",
            ["feature"],
            multiprocess_mode="livemostrecent",
            registry=registry,
        )
        # A gauge, not a counter: feature values (centred) are negative as often as not.
        self.feature_sum = Gauge(
            "diabetes_input_feature_sum",
            "Sum of each feature's input values; divided by diabetes_input_feature_values_total "
            "it is the running mean (delta(sum[w]) / increase(values[w]) over a window).",
            ["feature"],
            multiprocess_mode="sum",
            registry=registry,
        )
        self.feature_count = Counter(
            "diabetes_input_feature_values",
            "Input values seen per feature.",
            ["feature"],
            registry=registry,
        )
        self.out_of_range = Counter(
            "diabetes_input_out_of_range",
            "Input values outside the training range, per feature and side (below, above).",
            ["feature", "side"],
            registry=registry,
        )
        self._served: tuple[str, str, str] | None = None
        self._lock = threading.Lock()
        self._pending = _CallTotals()
        self._in_flight: dict[str, int] = {}
        self.drift = DriftAccumulator(self)
        self._stopped = threading.Event()
        self._flusher = threading.Thread(target=self._run, name="metrics-flush", daemon=True)
        self._flusher.start()

    # CallMetrics: the hot path only adds to plain numbers under a lock.
    def call_started(self, method: str) -> None:
        with self._lock:
            self._in_flight[method] = self._in_flight.get(method, 0) + 1

    def call_finished(self, method: str, code: str, seconds: float, records: int) -> None:
        with self._lock:
            pending = self._pending
            self._in_flight[method] -= 1
            pending.calls[method, code] = pending.calls.get((method, code), 0) + 1
            pending.latency(method).add(seconds)
            if records:
                pending.records(method).add(records)

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        self.drift.add_columns(model, columns)

    def record_seen(self, model: LinearModel, values: Sequence[float]) -> None:
        self.drift.add_record(model, values)

    # Model lifecycle
    def model_loaded(self, model: LinearModel) -> None:
        """The model now being served: its info metric and training statistics."""
        labels = (model.name, model.version, model.checksum)
        if self._served is not None and self._served != labels:
            self.model_info.labels(*self._served).set(0)
        self.model_info.labels(*labels).set(1)
        self._served = labels
        for name, stats in zip(model.features, model.feature_stats, strict=True):
            self.training_mean.labels(name).set(stats.mean)
            self.training_std.labels(name).set(stats.std)

    def model_reloaded(self, swapped: bool, model: LinearModel) -> None:
        self.reloads.labels("ok" if swapped else "refused").inc()
        if swapped:
            self.model_loaded(model)

    # Writing out
    def flush(self) -> None:
        """Add what the calls since the last flush did to the Prometheus metrics."""
        with self._lock:
            pending, self._pending = self._pending, _CallTotals()
            in_flight = dict(self._in_flight)
        for (method, code), count in pending.calls.items():
            self.calls.labels(method, code).inc(count)
        for method, observed in pending.latencies.items():
            observed.write_to(self.latency.labels(method))
        for method, observed in pending.record_counts.items():
            observed.write_to(self.records.labels(method))
        for method, count in in_flight.items():
            self.in_flight.labels(method).set(count)
        self.drift.flush()

    def _run(self) -> None:
        while not self._stopped.wait(FLUSH_SECONDS):
            self.flush()

    def close(self) -> None:
        """Stop the flusher and write out what is pending."""
        self._stopped.set()
        self._flusher.join(timeout=5)
        self.flush()

    @staticmethod
    def process_exited(pid: int) -> None:
        """Drop a finished worker's live gauges (in-flight calls, model info); a no-op
        in single-process mode."""
        path = os.environ.get(MULTIPROC_ENV)
        if path:
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class DriftAccumulator:
    """Per-feature sums and out-of-range counts, accumulated per call (plain floats for one
    record, numpy for a batch) until the next flush."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, ...], _FeatureTotals] = {}
        self._bounds: _ModelBounds | None = None

    def add_record(self, model: LinearModel, values: Sequence[float]) -> None:
        """One record's values in the model's feature order (the Predict path)."""
        bounds = self._model_bounds(model)
        with self._lock:
            totals = self._totals(bounds.features)
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
            totals = self._totals(bounds.features)
            totals.count += values.shape[1]
            for index in range(len(sums)):
                totals.sums[index] += sums[index]
                totals.below[index] += below[index]
                totals.above[index] += above[index]

    def _totals(self, features: tuple[str, ...]) -> _FeatureTotals:
        totals = self._pending.get(features)
        if totals is None:
            totals = self._pending[features] = _FeatureTotals(len(features))
        return totals

    def _model_bounds(self, model: LinearModel) -> _ModelBounds:
        # One entry: the model being served (a call on the previous one just recomputes).
        bounds = self._bounds
        if bounds is None or bounds.model is not model:
            bounds = self._bounds = _ModelBounds(model)
        return bounds

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        m = self._metrics
        for features, totals in pending.items():
            if totals.count == 0:
                continue
            for index, name in enumerate(features):
                m.feature_count.labels(name).inc(totals.count)
                m.feature_sum.labels(name).inc(totals.sums[index])
                if totals.below[index]:
                    m.out_of_range.labels(name, "below").inc(totals.below[index])
                if totals.above[index]:
                    m.out_of_range.labels(name, "above").inc(totals.above[index])


class _Observations:
    """Histogram observations since the last flush: per-bucket counts and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def add(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def write_to(self, child: Any) -> None:
        # prometheus-client keeps a histogram as per-bucket values (not cumulative) and a sum;
        # adding whole counts to them is what `observe` does one value at a time. Pinned by
        # the prometheus-client version range and checked by the operations tests.
        for bucket, count in zip(child._buckets, self.counts, strict=True):
            if count:
                bucket.inc(count)
        child._sum.inc(self.total)


class _CallTotals:
    __slots__ = ("calls", "latencies", "record_counts")

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str], int] = {}
        self.latencies: dict[str, _Observations] = {}
        self.record_counts: dict[str, _Observations] = {}

    def latency(self, method: str) -> _Observations:
        observed = self.latencies.get(method)
        if observed is None:
            observed = self.latencies[method] = _Observations(LATENCY_BUCKETS)
        return observed

    def records(self, method: str) -> _Observations:
        observed = self.record_counts.get(method)
        if observed is None:
            observed = self.record_counts[method] = _Observations(RECORD_BUCKETS)
        return observed


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


def serve_process_metrics(host: str, port: int) -> None:
    """Serve this process's registry (single-process mode) on host:port."""
    start_http_server(port, addr=host)
    log.info("metrics endpoint", extra={"address": f"{host}:{port}", "path": "/metrics"})


class _LiveWorkersCollector(Collector):
    """The multiprocess collector, after dropping live gauges of workers that died
    without cleaning up (SIGKILL, crash)."""

    _FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")

    def __init__(self, path: str) -> None:
        self._path = path
        self._inner = MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]

    def collect(self) -> Any:
        for file in glob.glob(os.path.join(self._path, "gauge_live*.db")):
            match = self._FILE.search(file)
            if match and not _alive(int(match.group(1))):
                mark_process_dead(int(match.group(1)), self._path)  # type: ignore[no-untyped-call]
        return self._inner.collect()  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_multiprocess_dir(path: Path) -> None:
    """Empty the multiprocess directory: values from an earlier run must not be summed in."""
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        file.unlink()


def serve_multiprocess_metrics(host: str, port: int) -> None:
    """Serve the sum of every worker's metrics (the parent process of `--workers N`)."""
    path = os.environ[MULTIPROC_ENV]
    registry = CollectorRegistry()
    registry.register(_LiveWorkersCollector(path))
    start_http_server(port, addr=host, registry=registry)
    log.info(
        "metrics endpoint (all workers)",
        extra={"address": f"{host}:{port}", "path": "/metrics"},
    )
