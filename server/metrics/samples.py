"""Metric values as plain data, turned into prometheus-client metric families (its public
collector API)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from server.metrics import definitions as defs
from server.metrics.definitions import Kind

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
