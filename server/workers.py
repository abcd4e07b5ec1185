"""Several processes of one server on one port (SO_REUSEPORT), the pattern grpc documents for
Python: fork the workers before any of them starts grpc, then supervise them.

The supervisor restarts a worker that dies while serving, but never once shutdown has begun,
and never one that could not start (a port in use, a bad model): that is a start-up error,
and the supervisor stops the others and exits with STARTUP_FAILED.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from model.artifact import ArtifactError
from server.config import ServerConfig

log = logging.getLogger("server.workers")

RESTART_BACKOFF_SECONDS = 1.0
# The exit code of a server (or a worker) that could not start serving; the supervisor
# does not restart a worker that exits with it.
STARTUP_FAILED = 2
# Start-up failures worth a clear message rather than a traceback.
STARTUP_ERRORS = (ArtifactError, OSError, ValueError)
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def ensure_port_free(host: str, port: int) -> None:
    """Raise OSError if something already listens on host:port. Workers bind with
    SO_REUSEPORT, which would otherwise share the port with another server of the same user;
    this bind does not ask for that, so it fails on any listener."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


class Supervisor:
    """`config.workers` processes running `serve_one`, restarted when they die while
    serving; SIGTERM/SIGINT/SIGHUP are forwarded to every worker."""

    def __init__(self, config: ServerConfig, serve_one: Callable[[ServerConfig], int]) -> None:
        self._config = config
        self._serve_one = serve_one
        self._context = multiprocessing.get_context("fork")
        self._workers: list[BaseProcess] = []
        self._pending: list[int] = []
        self._stopping = threading.Event()
        self._failed = False

    def _request(self, signum: int, frame: FrameType | None) -> None:
        # Only record it: the loop forwards it, to every worker alive at that moment,
        # including one started while this handler ran.
        self._pending.append(signum)
        if signum != signal.SIGHUP:
            self._stopping.set()

    def _start_worker(self) -> BaseProcess:
        process = self._context.Process(
            target=_worker_main, args=(self._serve_one, self._config), daemon=False
        )
        # Blocked across the fork, so the child never runs this process's handlers; it
        # installs its own, then unblocks.
        signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
        return process

    def _forward_pending(self) -> None:
        while self._pending:
            signum = self._pending.pop(0)
            for worker in self._workers:
                if worker.pid is not None and worker.is_alive():
                    os.kill(worker.pid, signum)

    def _replace_dead(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker.is_alive() or self._stopping.is_set():
                continue
            if worker.exitcode == STARTUP_FAILED:
                log.error("a worker could not start; stopping", extra={"worker": worker.pid})
                self._failed = True
                self._request(signal.SIGTERM, None)
                return
            log.error(
                "worker exited; restarting", extra={"pid": worker.pid, "exitcode": worker.exitcode}
            )
            if self._stopping.wait(RESTART_BACKOFF_SECONDS):
                return
            self._workers[index] = self._start_worker()

    def run(self) -> int:
        for signum in FORWARDED:
            signal.signal(signum, self._request)
        self._workers = [self._start_worker() for _ in range(self._config.workers)]
        log.info("workers started", extra={"pids": [w.pid for w in self._workers]})
        while True:
            self._forward_pending()
            self._replace_dead()
            self._forward_pending()
            if not any(worker.is_alive() for worker in self._workers):
                break
            self._stopping.wait(0.2)
        if self._failed:
            return STARTUP_FAILED
        if self._stopping.is_set():
            return 0
        return max((worker.exitcode or 0 for worker in self._workers), default=0)


def run_workers(config: ServerConfig, serve_one: Callable[[ServerConfig], int]) -> int:
    """Run `config.workers` processes of `serve_one` on config's port until a signal stops
    them; returns the exit code. Raises OSError when the port is already taken."""
    if config.port == 0:
        raise ValueError("--workers above 1 needs a fixed --port")
    ensure_port_free(config.host, config.port)
    return Supervisor(config, serve_one).run()


def _worker_main(serve_one: Callable[[ServerConfig], int], config: ServerConfig) -> None:
    # The parent's handlers were inherited across the fork (with these signals blocked):
    # default actions until serve_one installs its own; a reload before then is moot.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    try:
        code = serve_one(config)
    except STARTUP_ERRORS as exc:
        logging.getLogger("server").error("cannot start: %s", exc)
        code = STARTUP_FAILED
    raise SystemExit(code)
