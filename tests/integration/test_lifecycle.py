"""Start-up, health, reflection, logs, graceful shutdown and worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.contract import SERVICE_NAME
from tests.support.held_stream import held_reflection_stream
from tests.support.processes import ServerProcess, running_server, wait_until

SERVICE = SERVICE_NAME


def health_status(target: str, service: str = "") -> int:
    with grpc.insecure_channel(target) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=2
        )
    return int(reply.status)


def test_health_and_reflection(two_feature_server: ServerProcess) -> None:
    for service in ("", SERVICE):
        assert (
            health_status(two_feature_server.target, service)
            == health_pb2.HealthCheckResponse.SERVING
        )
    with grpc.insecure_channel(two_feature_server.target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {SERVICE, "grpc.health.v1.Health"} <= services
        methods = database.FindFileContainingSymbol(SERVICE).service[0].method
        assert {m.name for m in methods} == {"Predict", "PredictBatch", "GetModelInfo"}


def test_one_json_log_line_per_call_with_request_id(two_feature_server: ServerProcess) -> None:
    with grpc.insecure_channel(two_feature_server.target) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        stub.Predict(
            pb.PredictRequest(record=pb.Record(bmi=0.1, bp=0.0)),
            metadata=[("x-request-id", "req-ok-123")],
        )
        with pytest.raises(grpc.RpcError):
            stub.Predict(
                pb.PredictRequest(record=pb.Record(bmi=0.1)),
                metadata=[("x-request-id", "req-bad-456")],
            )

    def lines_for(request_id: str) -> list[dict[str, object]]:
        return [e for e in two_feature_server.json_logs() if e.get("request_id") == request_id]

    wait_until(lambda: bool(lines_for("req-bad-456")), 5, "the access log line")
    [ok] = lines_for("req-ok-123")
    [bad] = lines_for("req-bad-456")
    assert ok["method"] == "Predict"
    assert ok["code"] == "OK"
    assert ok["records"] == 1
    assert isinstance(ok["duration_ms"], float)
    assert bad["code"] == "INVALID_ARGUMENT"
    assert "record.bp is missing" in str(bad["error"])


def _new_call_code(target: str) -> grpc.StatusCode:
    """How a Predict on a new connection ends."""
    with grpc.insecure_channel(target) as channel:
        try:
            pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(record=pb.Record(bmi=0.0, bp=0.0)), timeout=2
            )
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def test_sigterm_drains_in_flight_calls_and_refuses_new_ones(two_feature_artifact: Path) -> None:
    with (
        running_server(
            "--batch-chunk-records", "100", "--shutdown-delay", "1", model=two_feature_artifact
        ) as server,
        grpc.insecure_channel(server.target) as channel,
        held_reflection_stream(channel) as held,
    ):
        stub = pb_grpc.PredictionServiceStub(channel)
        count = 50_000
        stream = stub.PredictBatch(
            pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.01] * count, bp=[0.02] * count))
        )
        first = next(stream)
        assert held.first.list_services_response.service
        server.signal(signal.SIGTERM)
        wait_until(
            lambda: health_status(server.target) == health_pb2.HealthCheckResponse.NOT_SERVING,
            5,
            "health to report NOT_SERVING",
        )
        rest = list(stream)
        assert first.offset == 0
        assert sum(len(reply.predictions) for reply in [first, *rest]) == count
        # After --shutdown-delay the server refuses new calls; the held stream keeps it
        # draining (alive) until the test lets the stream end.
        wait_until(
            lambda: _new_call_code(server.target) == grpc.StatusCode.UNAVAILABLE,
            10,
            "new calls to be refused",
        )
        assert server.alive()
        held.release()
        assert list(held.replies) == []
        assert server.wait(30) == 0
    messages = [entry.get("message") for entry in server.json_logs()]
    assert "shutting down" in messages
    assert messages[-1] == "stopped"


def test_a_second_server_on_a_taken_port_cannot_start(two_feature_artifact: Path) -> None:
    with running_server(model=two_feature_artifact) as server:
        result = subprocess.run(
            [sys.executable, "-m", "server", "--port", str(server.port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        [line] = [json.loads(line) for line in result.stderr.splitlines() if "cannot start" in line]
        assert line["message"] == (
            f"cannot start: cannot listen on 127.0.0.1:{server.port}: in use, or not local"
        )
        with grpc.insecure_channel(server.target) as channel:
            reply = pb_grpc.PredictionServiceStub(channel).Predict(
                pb.PredictRequest(record=pb.Record(bmi=0.0, bp=0.0)), timeout=5
            )
        assert reply.model_version == "test-1"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read model artifact"),
        ("{not json", "is not valid JSON"),
        ('{"format": "diabetes-linear-model"}', "artifact.format_version is missing"),
    ],
)
def test_bad_artifact_stops_start_up_with_a_clear_message(
    tmp_path: Path, content: str | None, reason: str
) -> None:
    path = tmp_path / "model.json"
    if content is not None:
        path.write_text(content)
    result = subprocess.run(
        [sys.executable, "-m", "server", "--port", "0", "--model", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    [line] = [json.loads(line) for line in result.stderr.splitlines() if "cannot start" in line]
    assert reason in line["message"]


def test_help_lists_every_flag_with_its_environment_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag, variable in [
        ("--port", "DIABETES_PORT"),
        ("--model", "DIABETES_MODEL"),
        ("--threads", "DIABETES_THREADS"),
        ("--log-level", "DIABETES_LOG_LEVEL"),
        ("--max-batch-records", "DIABETES_MAX_BATCH_RECORDS"),
        ("--max-receive-message-bytes", "DIABETES_MAX_RECEIVE_MESSAGE_BYTES"),
    ]:
        assert flag in result.stdout
        assert variable in result.stdout
    # One process per server: several cores are several servers (`diabetes-service --servers`).
    assert "--workers" not in result.stdout


def test_environment_configures_the_server(two_feature_artifact: Path) -> None:
    with running_server(
        env={"DIABETES_MAX_BATCH_RECORDS": "7", "DIABETES_MODEL": str(two_feature_artifact)},
    ) as server:
        with grpc.insecure_channel(server.target) as channel:
            info = pb_grpc.PredictionServiceStub(channel).GetModelInfo(pb.GetModelInfoRequest())
        assert info.limits.max_batch_records == 7
        assert info.version == "test-1"
