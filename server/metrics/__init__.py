"""Prometheus metrics: calls, latency, batch sizes, in-flight calls, the model version and
input drift against the training statistics in the artifact.

`definitions` names them, `recorder.ServerMetrics` keeps their values as plain numbers
(cheap on the hot path), `drift` the per-feature input totals, `samples` turns values into
metric families and combines workers' values, `exposition` serves them (one process, or
the parent of `--workers N` serving the sum of its workers, which write their values to
`PROMETHEUS_MULTIPROC_DIR`: `server.__main__` sets it before the workers start).
"""

from server.metrics.exposition import (
    MULTIPROC_ENV,
    prepare_multiprocess_dir,
    serve_multiprocess_metrics,
    serve_process_metrics,
)
from server.metrics.recorder import ServerMetrics

__all__ = [
    "MULTIPROC_ENV",
    "ServerMetrics",
    "prepare_multiprocess_dir",
    "serve_multiprocess_metrics",
    "serve_process_metrics",
]
