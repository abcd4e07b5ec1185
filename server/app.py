"""One server process: build the grpc server, serve, reload on SIGHUP, drain on SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from concurrent import futures
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import grpc
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2

from server.bounds.admission import Admission, AdmissionMetrics, memory_budget
from server.bounds.call_gate import CallGate
from server.bounds.request_bounds import (
    BULK_PATHS,
    TRAFFIC_PATHS,
    RequestGuard,
    bulk_calls_for,
    small_calls_reserve,
)
from server.bounds.request_bounds import Limits as RequestLimits
from server.comparisons import ComparisonTotals
from server.config import PROBE_THREADS, ServerConfig
from server.faces import oip_grpc, oip_rest, prediction_service
from server.faces.json_lane.schema import JsonSchema
from server.faces.json_lane.servicer import SERVICE as JSON_SERVICE
from server.faces.json_lane.servicer import JsonPredictionServicer
from server.guards import GuardWatch
from server.inference import Inference, Limits
from server.logs import AccessLog
from server.malloc_tuning import tune_malloc
from server.model_store import ArtifactWatcher, ModelStore
from server.rpc import CallMetrics, CallObserver, Guard, add_service
from server.shadow import Shadows
from server.tracing import start_tracing

if TYPE_CHECKING:
    from server.metrics import ServerMetrics

log = logging.getLogger("server")
# gRPC metadata (headers) accepted (grpcio's default: 8 KiB, some calls refused up to 16 KiB):
# above Envoy's 16 KiB request-header limit, so whatever Envoy forwards is read and a bad
# name in a long query string gets the server's own INVALID_ARGUMENT.
MAX_METADATA_BYTES = 32 * 1024


class ReportingModelStore(ModelStore):
    """A model store that tells the metrics about every reload (SIGHUP or file watch)."""

    def __init__(self, path: Path, default_model: str, metrics: ServerMetrics) -> None:
        super().__init__(path, default_model)
        self._metrics = metrics
        metrics.model_loaded(self.current)
        metrics.files_refused([f.model for f in self.repository.refused])

    def reload(self) -> bool:
        swapped = super().reload()
        self._metrics.model_reloaded(swapped, self.current)
        if swapped:
            self._metrics.files_refused([f.model for f in self.repository.refused])
        return swapped


class RunningServer:
    """A started grpc server with its health service."""

    def __init__(
        self,
        config: ServerConfig,
        store: ModelStore,
        metrics: CallMetrics | None = None,
        interceptors: Sequence[grpc.ServerInterceptor] = (),
        comparisons: ComparisonTotals | None = None,
    ) -> None:
        self.config = config
        self.store = store
        # Shadow and canary comparisons; the metrics' totals when there are metrics.
        self.shadows = Shadows(store, comparisons)
        options = [
            ("grpc.max_receive_message_length", config.max_receive_message_bytes),
            ("grpc.max_send_message_length", config.max_send_message_bytes),
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            # grpc's default would let a second server bind the same port unnoticed.
            ("grpc.so_reuseport", 0),
        ]
        budget = memory_budget(config.memory_budget_bytes, config.memory_baseline_bytes)
        admission_metrics = metrics if isinstance(metrics, AdmissionMetrics) else None
        self.admission = Admission(
            budget, admission_metrics, small_calls_reserve(config.max_small_request_bytes)
        )
        self.call_gate = CallGate(
            TRAFFIC_PATHS,
            BULK_PATHS,
            config.traffic_calls,
            config.max_bulk_calls
            or bulk_calls_for(
                self.admission.bulk_budget_bytes,
                config.max_receive_message_bytes,
                config.traffic_calls,
            ),
            admission_metrics,
        )
        # Health checks and reflection run on threads of their own, never behind traffic.
        self.probe_threads = futures.ThreadPoolExecutor(
            max_workers=PROBE_THREADS, thread_name_prefix="probe"
        )
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="rpc"),
            options=options,
            interceptors=(self.call_gate, *interceptors),
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
        )
        limits = Limits(
            max_batch_records=config.max_batch_records,
            batch_chunk_records=config.batch_chunk_records,
            max_receive_message_bytes=config.max_receive_message_bytes,
        )
        self.access_log = AccessLog() if config.access_log else None
        observer = CallObserver(access_log=self.access_log, metrics=metrics)
        request_limits = RequestLimits(config.max_small_request_bytes, config.max_batch_records)

        def guard(method: MethodDescriptor) -> Guard:
            return RequestGuard(method, request_limits, self.admission).check

        core = Inference(store, limits, observer, self.shadows)
        self.ready = threading.Event()  # set while serving; cleared when draining
        faces = (
            (prediction_service.PredictionServicer(core), prediction_service.SERVICE),
            (JsonPredictionServicer(core, JsonSchema.from_contract()), JSON_SERVICE),
            (oip_grpc.OpenInferenceGrpcServicer(core, self.ready.is_set), oip_grpc.SERVICE),
            (oip_rest.OpenInferenceRestServicer(core, self.ready.is_set), oip_rest.SERVICE),
        )
        codecs = {prediction_service.SERVICE: prediction_service.METHOD_CODECS}
        self.health = health.HealthServicer(experimental_non_blocking=True)
        served = [
            add_service(self.server, servicer, service, observer, guard, codecs=codecs.get(service))
            for servicer, service in faces
        ]
        served.append(
            add_service(
                self.server,
                self.health,
                health_pb2.DESCRIPTOR.services_by_name["Health"],
                observer,
                guard,
                self.probe_threads,
            )
        )
        reflection_service = reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"]
        add_service(
            self.server,
            reflection.ReflectionServicer((*served, reflection_service.full_name)),
            reflection_service,
            observer,
            guard,
            self.probe_threads,
        )
        try:
            self.port = self.server.add_insecure_port(config.address)
        except RuntimeError as exc:  # grpcio's way of saying the bind failed
            raise OSError(f"cannot listen on {config.address}: in use, or not local") from exc
        if self.port == 0:
            raise OSError(f"cannot listen on {config.address}")

    def start(self) -> None:
        self.server.start()
        self.ready.set()
        for service in (
            "",
            prediction_service.SERVICE_NAME,
            oip_grpc.SERVICE_NAME,
            oip_rest.SERVICE_NAME,
        ):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={
                "address": self.config.address,
                "port": self.port,
                "model_version": self.store.current.version,
            },
        )

    def stop(self, grace: float, delay: float = 0.0) -> None:
        """Report NOT_SERVING, wait `delay` for load balancers to notice, then refuse new
        calls and give in-flight ones `grace` seconds to finish."""
        self.health.enter_graceful_shutdown()
        self.ready.clear()
        if delay > 0:
            time.sleep(delay)
        self.server.stop(grace).wait()
        self.probe_threads.shutdown(wait=False, cancel_futures=True)
        if self.access_log is not None:
            self.access_log.close()
        log.info("stopped")


def serve(config: ServerConfig, metrics: ServerMetrics | None = None) -> int:
    """Run one server process until SIGTERM or SIGINT; returns the exit code."""
    tune_malloc()  # before any thread of the server allocates
    store = (
        ModelStore(config.model_source, config.default_model)
        if metrics is None
        else ReportingModelStore(config.model_source, config.default_model, metrics)
    )
    tracing = start_tracing(config.otlp_endpoint)
    running = RunningServer(
        config,
        store,
        metrics,
        tracing.interceptors,
        metrics.comparisons if metrics is not None else None,
    )
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        log.info("shutting down", extra={"signal": signal.Signals(signum).name})
        stop_requested.set()

    def reload_model(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=store.reload, name="reload").start()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, reload_model)
    watcher = ArtifactWatcher(store) if config.watch_model else None
    guards = GuardWatch(store, running.shadows.totals)
    running.start()
    if watcher is not None:
        watcher.start()
    guards.start()
    while not stop_requested.wait(1.0):
        pass
    guards.stop()
    if watcher is not None:
        watcher.stop()
    running.stop(config.grace_period, config.shutdown_delay)
    tracing.shutdown()
    return 0
