"""Serving the metrics: one process serves its own values, through a prometheus-client
collector built on its public API (`Collector`, metric families, `start_http_server`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from server.metrics.samples import Samples, families

log = logging.getLogger("server.metrics")


class SamplesCollector(Collector):
    """Metric families from a function returning the values now."""

    def __init__(self, read: Callable[[], Samples]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return families(self._read())

    def describe(self) -> Iterator[Metric]:
        return families({})


def serve_process_metrics(host: str, port: int) -> None:
    """Serve this process's registry on host:port."""
    start_http_server(port, addr=host)
    log.info("metrics endpoint", extra={"address": f"{host}:{port}", "path": "/metrics"})
