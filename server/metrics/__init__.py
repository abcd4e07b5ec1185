"""Prometheus metrics: calls, latency, batch sizes, in-flight calls, the model version and
input drift against the training statistics in the artifact.

`definitions` names them, `recorder.ServerMetrics` keeps their values as plain numbers
(cheap on the hot path), `drift` the per-feature input totals, `samples` turns values into
metric families, `exposition` serves them (each server process its own; several servers
are several scrape targets).
"""

from server.metrics.exposition import serve_process_metrics
from server.metrics.recorder import ServerMetrics

__all__ = ["ServerMetrics", "serve_process_metrics"]
