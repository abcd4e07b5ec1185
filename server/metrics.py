"""Prometheus metrics: calls, latency, batch sizes, in-flight calls, the model version and
input drift against the training statistics in the artifact.

One process (`--workers 1`) serves its own registry. With several worker processes,
prometheus-client's multiprocess mode is used: `PROMETHEUS_MULTIPROC_DIR` must be set
before this module is imported (`server.__main__` does it), every worker writes its values
to files there, and the parent serves the sum (`serve_multiprocess_metrics`).

The hot path stays cheap: label children are resolved once per (method, code), and drift
statistics are accumulated in numpy arrays and added to the counters once a second by a
background thread rather than per call.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import threading
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
DRIFT_FLUSH_SECONDS = 1.0


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
        self.feature_sum = Counter(
            "diabetes_input_feature_sum",
            "Sum of each feature's input values; divided by diabetes_input_feature_values_total "
            "it is the running mean.",
            ["feature"],
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
        self._call_children: dict[tuple[str, str], Any] = {}
        self._method_children: dict[str, tuple[Any, Any, Any]] = {}
        self._served: tuple[str, str, str] | None = None
        self.drift = DriftAccumulator(self)

    def _method(self, method: str) -> tuple[Any, Any, Any]:
        children = self._method_children.get(method)
        if children is None:
            children = (
                self.latency.labels(method),
                self.records.labels(method),
                self.in_flight.labels(method),
            )
            self._method_children[method] = children
        return children

    # CallMetrics
    def call_started(self, method: str) -> None:
        self._method(method)[2].inc()

    def call_finished(self, method: str, code: str, seconds: float, records: int) -> None:
        latency, record_count, in_flight = self._method(method)
        in_flight.dec()
        latency.observe(seconds)
        if records:
            record_count.observe(records)
        counter = self._call_children.get((method, code))
        if counter is None:
            counter = self._call_children[(method, code)] = self.calls.labels(method, code)
        counter.inc()

    def inputs_seen(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        self.drift.add(model, columns)

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

    def close(self) -> None:
        """Write out pending drift statistics and stop the flusher."""
        self.drift.stop()

    @staticmethod
    def process_exited(pid: int) -> None:
        """Drop a finished worker's live gauges (in-flight calls, model info); a no-op
        in single-process mode."""
        path = os.environ.get(MULTIPROC_ENV)
        if path:
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


class DriftAccumulator:
    """Per-feature sums and out-of-range counts, kept in numpy arrays per model and
    added to the Prometheus counters by a background thread."""

    def __init__(self, metrics: ServerMetrics, interval: float = DRIFT_FLUSH_SECONDS) -> None:
        self._metrics = metrics
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, ...], _FeatureTotals] = {}
        self._limits: tuple[LinearModel, tuple[str, ...], FloatArray, FloatArray] | None = None
        self._stopped = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="metrics-drift", daemon=True)
        self._thread.start()

    def add(self, model: LinearModel, columns: Sequence[FloatArray]) -> None:
        features, lows, highs = self._model_limits(model)
        values = np.vstack(columns)
        sums = values.sum(axis=1)
        below = (values < lows).sum(axis=1)
        above = (values > highs).sum(axis=1)
        count = values.shape[1]
        with self._lock:
            totals = self._pending.get(features)
            if totals is None:
                totals = self._pending[features] = _FeatureTotals(len(features))
            totals.count += count
            totals.sums += sums
            totals.below += below
            totals.above += above

    def _model_limits(self, model: LinearModel) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
        # One entry: the model being served (a call on the previous one just recomputes).
        cached = self._limits
        if cached is None or cached[0] is not model:
            lows = np.array([[s.min] for s in model.feature_stats])
            highs = np.array([[s.max] for s in model.feature_stats])
            cached = self._limits = (model, model.features, lows, highs)
        return cached[1], cached[2], cached[3]

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        m = self._metrics
        for features, totals in pending.items():
            if totals.count == 0:
                continue
            for index, name in enumerate(features):
                m.feature_count.labels(name).inc(totals.count)
                m.feature_sum.labels(name).inc(float(totals.sums[index]))
                if totals.below[index]:
                    m.out_of_range.labels(name, "below").inc(int(totals.below[index]))
                if totals.above[index]:
                    m.out_of_range.labels(name, "above").inc(int(totals.above[index]))

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self.flush()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self.flush()


class _FeatureTotals:
    __slots__ = ("above", "below", "count", "sums")

    def __init__(self, features: int) -> None:
        self.count = 0
        self.sums = np.zeros(features)
        self.below = np.zeros(features, dtype=np.int64)
        self.above = np.zeros(features, dtype=np.int64)


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
