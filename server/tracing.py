"""Optional OpenTelemetry tracing, off by default (`--otlp-endpoint HOST:PORT` turns it on).

Each call becomes a server span that continues the caller's trace from the `traceparent`
metadata: Envoy passes the header on (and, with its own tracing on, starts the trace or adds
its span in between). Spans go to an OpenTelemetry collector over OTLP/gRPC. The packages are
the optional `tracing` extra; without them the server logs an error and serves untraced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import grpc

log = logging.getLogger("server.tracing")

SERVICE_NAME = "diabetes-server"


@dataclass
class Tracing:
    """The interceptors to install and what to flush on shutdown."""

    interceptors: list[grpc.ServerInterceptor] = field(default_factory=list)
    _provider: Any = None

    def shutdown(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()


def start_tracing(otlp_endpoint: str) -> Tracing:
    """Tracing to the collector at `otlp_endpoint` (empty: off)."""
    if not otlp_endpoint:
        return Tracing()
    # Optional packages: the type checker may not have them either.
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.grpc import filters, server_interceptor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        log.error(
            "tracing needs the OpenTelemetry packages (pip install 'diabetes-serving[tracing]'); "
            "serving without traces",
            extra={"error": str(exc)},
        )
        return Tracing()
    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
    )
    interceptor = server_interceptor(  # type: ignore[no-untyped-call,unused-ignore]
        tracer_provider=provider,
        # Health checks every 2 s from each Envoy would drown the useful spans.
        filter_=filters.negate(filters.health_check()),
    )
    log.info("tracing", extra={"otlp_endpoint": otlp_endpoint})
    return Tracing([interceptor], provider)
