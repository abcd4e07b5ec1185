"""Several server processes on one port (SO_REUSEPORT), the pattern grpc documents for
Python: fork the workers before any of them starts grpc, then supervise them."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from types import FrameType

from server.config import ServerConfig

log = logging.getLogger("server.workers")

RESTART_BACKOFF_SECONDS = 1.0


def run_workers(config: ServerConfig, serve_one: Callable[[ServerConfig], int]) -> int:
    """Start `config.workers` processes running `serve_one`; restart any that dies
    unexpectedly; forward SIGTERM/SIGINT/SIGHUP to all of them; return when all exited."""
    if config.port == 0:
        raise ValueError("--workers above 1 needs a fixed --port")
    context = multiprocessing.get_context("fork")
    stopping = False

    def start_worker() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=_worker_main, args=(serve_one, config), daemon=False)
        process.start()
        return process

    workers = [start_worker() for _ in range(config.workers)]
    log.info("workers started", extra={"pids": [w.pid for w in workers]})

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)

    while any(worker.is_alive() for worker in workers):
        time.sleep(0.2)
        for index, worker in enumerate(workers):
            if not stopping and not worker.is_alive():
                log.error(
                    "worker exited; restarting",
                    extra={"pid": worker.pid, "exitcode": worker.exitcode},
                )
                time.sleep(RESTART_BACKOFF_SECONDS)
                workers[index] = start_worker()
    codes = [worker.exitcode or 0 for worker in workers]
    return max(codes, default=0)


def _worker_main(serve_one: Callable[[ServerConfig], int], config: ServerConfig) -> None:
    # The parent's handlers were inherited across fork; the worker installs its own.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    raise SystemExit(serve_one(config))
