"""`python -m server` / `diabetes-server`: serve the model over gRPC."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from server.app import serve
from server.config import ServerConfig
from server.logs import configure_logging
from server.settings import build_parser, parse_config
from server.workers import STARTUP_ERRORS, STARTUP_FAILED, run_workers

# build_parser: the command's parser, beside its entry point, where the docs find it.
__all__ = ["build_parser", "main"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve_one(config: ServerConfig) -> int:
    """One server process, with metrics when they are on (after a fork, in the worker)."""
    if not config.metrics_port:
        return serve(config)
    from server.metrics import ServerMetrics

    return serve(config, ServerMetrics())


@contextlib.contextmanager
def multiprocess_metrics(config: ServerConfig) -> Iterator[None]:
    """prometheus-client's multiprocess mode for `--workers N`: the directory must be in the
    environment before prometheus_client is first imported; the parent serves the sum."""
    given = os.environ.get(MULTIPROC_ENV)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="diabetes-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    from server.metrics import prepare_multiprocess_dir, serve_multiprocess_metrics

    prepare_multiprocess_dir(path)
    serve_multiprocess_metrics(config.metrics_address, config.metrics_port)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    configure_logging(config.log_level)
    try:
        if config.workers > 1:
            if not config.metrics_port:
                return run_workers(config, serve_one)
            with multiprocess_metrics(config):
                return run_workers(config, serve_one)
        if config.metrics_port:
            from server.metrics import serve_process_metrics

            serve_process_metrics(config.metrics_address, config.metrics_port)
        return serve_one(config)
    except STARTUP_ERRORS as exc:
        logging.getLogger("server").error("cannot start: %s", exc)
        return STARTUP_FAILED


if __name__ == "__main__":
    sys.exit(main())
