"""What several suites share: a real Envoy with chosen options in front of servers, a
bounded load generator through Envoy, and a look at a server process's threads and memory."""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.stack.envoy_config import EnvoyOptions, write
from server.stack.processes import Process, free_port
from server.stack.stack import EnvoyPorts, bound_ports, envoy_command, healthy_upstreams
from tests.support.processes import spawn, wait_until


@dataclass
class Envoy:
    process: Process
    http_port: int
    admin_port: int
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"


@contextlib.contextmanager
def running_envoy(upstreams: list[str], **options: Any) -> Iterator[Envoy]:
    """A real Envoy on loopback in front of `upstreams` (HOST:PORT), rendered by
    `server.stack.envoy_config` with `options` (jwks, tls_cert, rate_limit_rps, ...). Envoy
    binds free ports itself (port 0), learnt from its admin API; a stats listener reaches
    the admin port through the config, so with `stats_port` the admin port is chosen here."""
    admin_port = free_port() if options.get("stats_port") else 0
    with tempfile.TemporaryDirectory(prefix="ops-envoy-") as workdir:
        config = write(
            EnvoyOptions(
                upstreams=tuple(
                    (host, int(port)) for host, _, port in (u.rpartition(":") for u in upstreams)
                ),
                listen_address="127.0.0.1",
                http_port=0,
                admin_port=admin_port,
                **options,
            ),
            Path(workdir) / "envoy.yaml",
        )
        admin_address = Path(workdir) / "admin-address"
        # Access-log lines reach the file within 100 ms.
        process = spawn(
            envoy_command(config, flush_interval_ms=100, admin_address_path=admin_address)
        )
        try:
            ports: list[EnvoyPorts] = []

            def bound() -> bool:
                found = bound_ports(admin_address)
                ports.extend([found] if found else [])
                return found is not None

            wait_until(bound, 30, "Envoy's ports", process.alive)
            envoy = Envoy(
                process,
                ports[0].http,
                ports[0].admin,
                "https" if options.get("tls_cert") else "http",
            )
            wait_until(
                lambda: healthy_upstreams(envoy.admin_url) == len(upstreams),
                30,
                "Envoy with healthy upstreams",
                process.alive,
            )
            yield envoy
        finally:
            process.stop()


@dataclass
class LoadReport:
    sent: int = 0
    failed: int = 0
    versions: list[list[str]] = field(default_factory=list)
    failure_times: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self, name: str) -> str:
        return f"[{name}] requests sent={self.sent} failed={self.failed}"


class Load:
    """`threads` clients calling Predict through `target` back to back (each on its own
    channel) until `stop()`; counts every call and failure. Bounded by `max_seconds`. With
    `credentials` the channels are TLS, each call sends `metadata` (a token, say), and each
    client waits `pause` seconds between calls (to stay under a rate limit)."""

    def __init__(
        self,
        target: str,
        threads: int = 4,
        record: pb.Record | None = None,
        max_seconds: float = 30,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: tuple[tuple[str, str], ...] = (),
        pause: float = 0,
    ) -> None:
        self.target = target
        self.credentials = credentials
        self.metadata = metadata
        self.pause = pause
        self.request = pb.PredictRequest(record=record or pb.Record(bmi=0.05))
        self.report = LoadReport(versions=[[] for _ in range(threads)])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadReport:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.report

    def _run(self, index: int) -> None:
        versions = self.report.versions[index]
        channel = (
            grpc.secure_channel(self.target, self.credentials)
            if self.credentials is not None
            else grpc.insecure_channel(self.target)
        )
        with channel:
            predict = pb_grpc.PredictionServiceStub(channel).Predict
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                if self.pause:
                    self._stop.wait(self.pause)
                try:
                    reply = predict(self.request, timeout=10, metadata=self.metadata)
                except grpc.RpcError as exc:
                    with self._lock:
                        self.report.sent += 1
                        self.report.failed += 1
                        self.report.failure_times.append(time.monotonic())
                        if len(self.report.errors) < 10:
                            self.report.errors.append(f"{exc.code()}: {exc.details()}")
                    continue
                with self._lock:
                    self.report.sent += 1
                if not versions or versions[-1] != reply.model_version:
                    versions.append(reply.model_version)

    def wait_for_calls(self, count: int, timeout: float = 30) -> None:
        """Until `count` more calls have been made (so a step happens under load)."""
        target = self.report.sent + count
        wait_until(lambda: self.report.sent >= target, timeout, f"{count} more calls")


def proc_status(pid: int) -> dict[str, int]:
    """Threads and resident memory (KiB) of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("Threads", "VmRSS"):
            fields[key] = int(value.split()[0])
    return fields


def replace_artifact(path: Path, source: Path) -> None:
    """Swap a model file atomically, as a deploy would (write aside, then rename)."""
    staging = path.with_suffix(".staging")
    staging.write_bytes(source.read_bytes())
    staging.replace(path)


__all__ = [
    "Envoy",
    "Load",
    "LoadReport",
    "healthy_upstreams",
    "proc_status",
    "replace_artifact",
    "running_envoy",
]
