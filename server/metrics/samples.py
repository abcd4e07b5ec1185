"""Metric values as plain data, turned into prometheus-client metric families (its public
collector API), and several worker processes' values combined into one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from server.metrics import definitions as defs
from server.metrics.definitions import AcrossWorkers, Kind

LabelValues = tuple[str, ...]
# Metric name -> label values -> value: one number for a counter or gauge; for a histogram
# the count in each bucket (not cumulative, +Inf last) and then the sum.
Samples = dict[str, dict[LabelValues, list[float]]]


def families(samples: Samples) -> Iterator[Metric]:
    """The metric families of `defs.ALL`, with the values in `samples` (none: no samples)."""
    for metric in defs.ALL:
        values = samples.get(metric.name, {})
        if metric.kind is Kind.HISTOGRAM:
            histogram = HistogramMetricFamily(metric.name, metric.help, labels=metric.labels)
            bounds = [*map(_bucket_label, metric.buckets), "+Inf"]
            for labels, value in values.items():
                cumulative, buckets = 0.0, []
                for bound, count in zip(bounds, value[:-1], strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                histogram.add_metric(labels, buckets, value[-1])
            yield histogram
            continue
        family: CounterMetricFamily | GaugeMetricFamily = (
            CounterMetricFamily(metric.name, metric.help, labels=metric.labels)
            if metric.kind is Kind.COUNTER
            else GaugeMetricFamily(metric.name, metric.help, labels=metric.labels)
        )
        for labels, value in values.items():
            family.add_metric(labels, value[0])
        yield family


def _bucket_label(bound: float) -> str:
    """The `le` label prometheus-client writes for a bucket's upper bound."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class WorkerSamples:
    """One worker process's values as it last wrote them."""

    pid: int
    written: float  # time.time()
    live: bool
    samples: Samples

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "written": self.written,
            "samples": {
                name: [[list(labels), value] for labels, value in values.items()]
                for name, values in self.samples.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], live: bool) -> WorkerSamples:
        samples: Samples = {
            name: {tuple(labels): [float(v) for v in value] for labels, value in rows}
            for name, rows in data["samples"].items()
        }
        return cls(int(data["pid"]), float(data["written"]), live, samples)


def combine(workers: Iterable[WorkerSamples]) -> Samples:
    """All workers' values as one process's, by each metric's `AcrossWorkers`."""
    ordered = sorted(workers, key=lambda w: w.written)  # the most recent last
    combined: Samples = {}
    for metric in defs.ALL:
        mode = metric.across_workers
        values: dict[LabelValues, list[float]] = {}
        if mode is AcrossWorkers.LIVEMOSTRECENT:
            live = [w for w in ordered if w.live and w.samples.get(metric.name)]
            if live:
                values = dict(live[-1].samples[metric.name])
        else:
            for worker in ordered:
                if mode is not AcrossWorkers.SUM and not worker.live:
                    continue
                for labels, value in worker.samples.get(metric.name, {}).items():
                    kept = values.get(labels)
                    if kept is None:
                        values[labels] = list(value)
                    elif mode is AcrossWorkers.LIVEMAX:
                        values[labels] = [max(a, b) for a, b in zip(kept, value, strict=True)]
                    else:
                        values[labels] = [a + b for a, b in zip(kept, value, strict=True)]
        combined[metric.name] = values
    return combined
