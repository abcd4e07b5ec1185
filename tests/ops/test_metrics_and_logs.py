"""The Prometheus endpoint of a server process, Envoy's own stats, and the JSON access logs
of Envoy and the server sharing `x-request-id`."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import grpc
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.stack.processes import free_port
from tests.support.artifacts import write_test_artifact
from tests.support.ops import replace_artifact, running_envoy
from tests.support.processes import running_server, wait_until
from tests.support.stack import running_stack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples.get((metric, frozenset(labels.items())), 0.0)


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    features = ("age", "bmi")
    return {
        "v1": write_test_artifact(tmp_path / "v1.json", features=features, version="m-v1"),
        "v2": write_test_artifact(tmp_path / "v2.json", features=features, version="m-v2"),
        "serving": tmp_path / "model.json",
    }


def _calls(target: str) -> None:
    """5 good Predicts (one bmi far above the training range), 1 bad, 1 batch of 100."""
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.PredictionServiceStub(channel)
        for bmi in (0.01, 0.02, 0.03, 0.04, 5.0):
            stub.Predict(pb.PredictRequest(record=pb.Record(age=0.01, bmi=bmi)), timeout=5)
        with pytest.raises(grpc.RpcError):
            stub.Predict(pb.PredictRequest(record=pb.Record(age=0.01)), timeout=5)
        columns = pb.FeatureColumns(age=[0.0] * 100, bmi=[-1.0] * 10 + [0.0] * 90)
        list(stub.PredictBatch(pb.PredictBatchRequest(columns=columns), timeout=5))


def test_one_process_metrics(models: dict[str, Path]) -> None:
    replace_artifact(models["serving"], models["v1"])
    port = free_port()
    with running_server("--metrics-port", str(port), model=models["serving"]) as server:
        _calls(server.target)
        wait_until(
            lambda: (
                value(scrape(port), "diabetes_input_feature_values_total", feature="bmi") == 105
            ),
            10,
            "drift statistics",
        )
        samples = scrape(port)
        assert value(samples, "diabetes_calls_total", method="Predict", code="OK") == 5
        assert (
            value(samples, "diabetes_calls_total", method="Predict", code="INVALID_ARGUMENT") == 1
        )
        assert value(samples, "diabetes_calls_total", method="PredictBatch", code="OK") == 1
        assert value(samples, "diabetes_call_duration_seconds_count", method="Predict") == 6
        assert (
            value(samples, "diabetes_call_duration_seconds_bucket", method="Predict", le="+Inf")
            == 6
        )
        assert value(samples, "diabetes_call_records_sum", method="PredictBatch") == 100
        assert value(samples, "diabetes_call_records_bucket", method="PredictBatch", le="10.0") == 0
        assert value(samples, "diabetes_calls_in_flight", method="Predict") == 0
        # The model and version that answered, whatever the call's outcome (6 Predicts, 1 batch).
        answered = {"model": "diabetes-test", "version": "m-v1"}
        assert value(samples, "diabetes_model_calls_total", code="OK", **answered) == 6
        assert (
            value(samples, "diabetes_model_calls_total", code="INVALID_ARGUMENT", **answered) == 1
        )
        info = {"name": "diabetes-test", "version": "m-v1"}
        [checksum] = [
            dict(labels)["checksum"]
            for name, labels in samples
            if name == "diabetes_model_info" and dict(labels)["version"] == "m-v1"
        ]
        assert value(samples, "diabetes_model_info", checksum=checksum, **info) == 1
        # Drift: running mean = sum / count; out-of-range counts per side.
        bmi_sum = value(samples, "diabetes_input_feature_sum", feature="bmi")
        assert bmi_sum == pytest.approx(0.01 + 0.02 + 0.03 + 0.04 + 5.0 - 10.0)
        assert value(samples, "diabetes_input_out_of_range_total", feature="bmi", side="above") == 1
        assert (
            value(samples, "diabetes_input_out_of_range_total", feature="bmi", side="below") == 10
        )
        assert value(samples, "diabetes_training_feature_std", feature="bmi") > 0

        replace_artifact(models["serving"], models["v2"])
        server.signal(signal.SIGHUP)
        wait_until(
            lambda: value(scrape(port), "diabetes_model_reloads_total", result="ok") == 1,
            10,
            "the reload counted",
        )
        samples = scrape(port)
        versions = {
            dict(labels)["version"]: samples[(name, labels)]
            for name, labels in samples
            if name == "diabetes_model_info"
        }
        assert versions == {"m-v1": 0, "m-v2": 1}
        models["serving"].write_text("{}")
        server.signal(signal.SIGHUP)
        wait_until(
            lambda: value(scrape(port), "diabetes_model_reloads_total", result="refused") == 1,
            10,
            "the refusal counted",
        )


def test_envoy_stats_in_prometheus_format_on_loopback_admin(tmp_path: Path) -> None:
    model = write_test_artifact(tmp_path / "model.json")
    with running_stack(servers=1, model=model) as stack:
        requests.post(f"{stack.http_url}/stream", json={"bmi": 0.05}, timeout=10)
        text = requests.get(f"{stack.admin_url}/stats/prometheus", timeout=10).text
    families = {family.name for family in text_string_to_metric_families(text)}
    assert "envoy_cluster_upstream_rq" in families
    assert "envoy_http_downstream_rq" in families
    assert "envoy_cluster_health_check_healthy" in families


def _json_lines(text: str) -> list[dict[str, object]]:
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def test_envoy_and_server_access_logs_share_the_request_id(tmp_path: Path) -> None:
    model = write_test_artifact(tmp_path / "model.json")
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with running_server(model=model) as server, running_envoy([server.target]) as envoy:
        given = requests.post(
            f"{envoy.url}/stream",
            json={"bmi": 0.05},
            headers={"x-request-id": "ops-given-id", "traceparent": traceparent},
            timeout=10,
        )
        made = requests.post(f"{envoy.url}/stream", json={"bmi": 0.05}, timeout=10)
        assert given.status_code == made.status_code == 200

        def access_lines() -> list[dict[str, object]]:
            return [
                e
                for e in _json_lines(envoy.process.log_text())
                if e.get("logger") == "envoy.access"
            ]

        wait_until(lambda: len(access_lines()) == 2, 20, "Envoy's access log lines")
        envoy_given, envoy_made = access_lines()

        def call_lines() -> list[dict[str, object]]:
            # Envoy's health checks are logged too; these are the two /stream calls.
            return [
                e
                for e in server.json_logs()
                if e.get("message") == "call" and e.get("method") == "PredictJsonRecord"
            ]

        # The server writes its access log every 0.2 s, not per call.
        wait_until(lambda: len(call_lines()) == 2, 20, "the server's access log lines")
        server_given, server_made = call_lines()
    assert envoy_given["request_id"] == server_given["request_id"] == "ops-given-id"
    assert server_given["model"] == "diabetes-test"
    assert server_given["model_version"] == "test-1"
    assert envoy_given["traceparent"] == traceparent
    assert envoy_given["status"] == 200
    assert envoy_given["path"] == "/stream"
    assert envoy_given["grpc_status"] == "OK"
    # Envoy made an id for the call that had none, and the server logged the same one.
    assert envoy_made["request_id"] == server_made["request_id"]
    assert len(str(envoy_made["request_id"])) >= 32


def test_stats_only_listener_exposes_prometheus_stats_and_nothing_else(tmp_path: Path) -> None:
    model = write_test_artifact(tmp_path / "model.json")
    stats_port = free_port()
    with (
        running_server(model=model) as server,
        running_envoy([server.target], stats_port=stats_port) as envoy,
    ):
        stats = f"http://127.0.0.1:{stats_port}"
        reply = requests.get(f"{stats}/stats/prometheus", timeout=10)
        assert reply.status_code == 200
        families = {family.name for family in text_string_to_metric_families(reply.text)}
        assert "envoy_cluster_upstream_rq" in families
        for method, path in (("GET", "/clusters"), ("POST", "/quitquitquit"), ("GET", "/")):
            assert requests.request(method, stats + path, timeout=10).status_code == 404
        assert requests.post(f"{stats}/stats/prometheus", timeout=10).status_code == 404
        assert envoy.process.alive()
