"""OpenTelemetry tracing end to end: a caller's `traceparent` goes through Envoy (which adds
its span) to the server (which adds its own), and both spans reach an OTLP collector."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as trace_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as trace_grpc

from server.faces.json_lane.servicer import SERVICE as JSON_SERVICE
from tests.support.artifacts import write_test_artifact
from tests.support.ops import running_envoy
from tests.support.processes import running_server, wait_until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


class Collector(trace_grpc.TraceServiceServicer):
    """A stand-in OpenTelemetry collector: keeps every span it is sent, by service."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, object]] = []
        self._lock = threading.Lock()

    def Export(self, request: object, context: grpc.ServicerContext) -> object:  # noqa: N802
        for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
            service = next(
                attribute.value.string_value
                for attribute in resource_spans.resource.attributes
                if attribute.key == "service.name"
            )
            with self._lock:
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend((service, span) for span in scope_spans.spans)
        return trace_pb.ExportTraceServiceResponse()

    def of_trace(self, trace_id: str) -> dict[str, object]:
        with self._lock:
            return {
                service: span
                for service, span in self.spans
                if span.trace_id.hex() == trace_id  # type: ignore[attr-defined]
            }


@pytest.fixture
def collector() -> Iterator[tuple[Collector, int]]:
    servicer = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(0)


def test_traceparent_continues_through_envoy_to_the_server(
    collector: tuple[Collector, int], tmp_path: Path
) -> None:
    spans, port = collector
    model = write_test_artifact(tmp_path / "model.json")
    endpoint = f"127.0.0.1:{port}"
    with (
        running_server(
            "--otlp-endpoint",
            endpoint,
            model=model,
            env={"OTEL_BSP_SCHEDULE_DELAY": "100"},
        ) as server,
        running_envoy([server.target], otlp_endpoint=("127.0.0.1", port)) as envoy,
    ):
        reply = requests.post(
            f"{envoy.url}/stream",
            json={"bmi": 0.05},
            headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"},
            timeout=10,
        )
        assert reply.status_code == 200
        wait_until(
            lambda: set(spans.of_trace(TRACE_ID)) == {"diabetes-envoy", "diabetes-server"},
            30,
            "spans from Envoy and the server",
        )
    trace = spans.of_trace(TRACE_ID)
    envoy_span, server_span = trace["diabetes-envoy"], trace["diabetes-server"]
    print(f"[tracing] trace {TRACE_ID}: caller -> Envoy span -> server span")
    assert envoy_span.parent_span_id.hex() == CALLER_SPAN_ID  # type: ignore[attr-defined]
    assert server_span.parent_span_id == envoy_span.span_id  # type: ignore[attr-defined]
    # POST /stream runs the JSON lane's PredictJsonRecord.
    record_method = JSON_SERVICE.methods_by_name["PredictJsonRecord"]
    assert server_span.name == f"/{JSON_SERVICE.full_name}/{record_method.name}"  # type: ignore[attr-defined]
