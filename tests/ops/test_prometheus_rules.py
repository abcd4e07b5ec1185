"""The sample Prometheus config and alert rules in deploy/prometheus: valid for promtool,
alert unit tests pass, and every metric the rules use is one the server or Envoy exports."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.processes import free_port
from tests.support.artifacts import write_test_artifact
from tests.support.ops import running_envoy
from tests.support.processes import ROOT, running_server, wait_until

PROMETHEUS = ROOT / "deploy" / "prometheus"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make system-deps` installs Debian's prometheus")
    return found


@pytest.mark.parametrize(
    "args",
    [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ],
    ids=["config", "rules", "alert-unit-tests"],
)
def test_promtool(args: list[str]) -> None:
    result = subprocess.run(
        [_promtool(), *args],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def _scrape(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return _exported_names(reply.read().decode())


def test_rules_use_only_metrics_that_exist(tmp_path: Path) -> None:
    # Metric names, leaving out label names inside {...} matchers.
    rules = re.sub(r"\{[^}]*\}", "", (PROMETHEUS / "alerts.yml").read_text())
    used = set(re.findall(r"\b((?:diabetes|envoy)_[a-z_]+)\b", rules))
    assert {"diabetes_calls_total", "envoy_http_downstream_rq_xx"} <= used
    model = write_test_artifact(tmp_path / "model.json")
    metrics_port = free_port()
    with (
        running_server("--metrics-port", str(metrics_port), model=model) as server,
        running_envoy([server.target]) as envoy,
    ):
        with grpc.insecure_channel(f"127.0.0.1:{envoy.http_port}") as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            stub.Predict(pb.PredictRequest(record=pb.Record(bmi=1.0)), timeout=10)
            list(stub.PredictBatch(pb.PredictBatchRequest(records=[pb.Record(bmi=0.0)])))
        server.signal(signal.SIGHUP)  # a reload, so the reload counter has a sample
        server_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
        own = {name for name in used if name.startswith("diabetes_")}
        # Drift statistics are written once a second.
        wait_until(lambda: own <= _scrape(server_metrics), 10, "every metric the rules use")
        exported = _scrape(server_metrics) | _scrape(f"{envoy.admin_url}/stats/prometheus")
    assert used - exported == set()
