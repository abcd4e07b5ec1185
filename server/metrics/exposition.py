"""Serving the metrics: one process serves its own values; with worker processes each
worker writes its values to a file in `PROMETHEUS_MULTIPROC_DIR` once a second and the
parent serves their combination (counts of dead workers kept, their live gauges dropped).

Both are prometheus-client collectors built on its public API (`Collector`, metric
families, `start_http_server`)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from server.metrics.samples import Samples, WorkerSamples, combine, families

log = logging.getLogger("server.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PATTERN = "worker-*.json"


class SamplesCollector(Collector):
    """Metric families from a function returning the values now."""

    def __init__(self, read: Callable[[], Samples]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        return families(self._read())

    def describe(self) -> Iterator[Metric]:
        return families({})


class SamplesFile:
    """Where one worker writes its values for the parent (replaced whole, never torn)."""

    def __init__(self, directory: str, pid: int) -> None:
        self.pid = pid
        self.path = Path(directory) / f"worker-{pid}.json"

    def write(self, written: float, samples: Samples) -> None:
        data = WorkerSamples(self.pid, written, True, samples).to_json()
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(data))
        os.replace(partial, self.path)


def mark_worker_exited(directory: str, pid: int) -> None:
    path = Path(directory) / f"worker-{pid}.json"
    with contextlib.suppress(FileNotFoundError):
        data = json.loads(path.read_text())
        data["exited"] = True
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)


class WorkersCollector(Collector):
    """Every worker's last written values, combined (`samples.combine`)."""

    def __init__(self, directory: str) -> None:
        self._directory = Path(directory)

    def collect(self) -> Iterator[Metric]:
        workers = []
        for path in self._directory.glob(_PATTERN):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):  # removed meanwhile
                continue
            live = not data.get("exited", False) and _alive(int(data["pid"]))
            workers.append(WorkerSamples.from_json(data, live))
        return families(combine(workers))

    def describe(self) -> Iterator[Metric]:
        return families({})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve_process_metrics(host: str, port: int) -> None:
    """Serve this process's registry (single-process mode) on host:port."""
    start_http_server(port, addr=host)
    log.info("metrics endpoint", extra={"address": f"{host}:{port}", "path": "/metrics"})


def prepare_multiprocess_dir(path: Path) -> None:
    """Empty the directory: values from an earlier run must not be added in."""
    path.mkdir(parents=True, exist_ok=True)
    for pattern in (_PATTERN, "worker-*.tmp", "*.db"):
        for file in path.glob(pattern):
            file.unlink()


def serve_multiprocess_metrics(host: str, port: int) -> None:
    """Serve the combination of every worker's metrics (the parent of `--workers N`)."""
    registry = CollectorRegistry()
    registry.register(WorkersCollector(os.environ[MULTIPROC_ENV]))
    start_http_server(port, addr=host, registry=registry)
    log.info(
        "metrics endpoint (all workers)",
        extra={"address": f"{host}:{port}", "path": "/metrics"},
    )
