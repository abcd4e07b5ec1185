"""The sample Prometheus configs and alert rules in deploy/prometheus: valid for promtool,
alert unit tests pass, every metric the rules use is one the server or Envoy exports, and
DiabetesServerDown watches the server job of every deployment (compose and Kubernetes)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.stack.processes import free_port
from tests.support.artifacts import write_test_artifact
from tests.support.ops import running_envoy
from tests.support.processes import ROOT, running_server, wait_until

PROMETHEUS = ROOT / "deploy" / "prometheus"
COMPOSE_CONFIG = PROMETHEUS / "prometheus.yml"
KUBERNETES_CONFIG = PROMETHEUS / "prometheus-kubernetes.yml"
SERVER_DEPLOYMENT = ROOT / "deploy" / "base" / "server-deployment.yaml"


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


def test_kubernetes_config_is_valid_apart_from_discovery(tmp_path: Path) -> None:
    """Debian's promtool is built without Kubernetes discovery (it refuses the field), so the
    rest of the config (relabelling, paths, rule files) is checked with each job's discovery
    swapped for a static target."""
    config = yaml.safe_load(KUBERNETES_CONFIG.read_text())
    for job in config["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs")[0]["role"] == "pod"
        job["static_configs"] = [{"targets": ["10.0.0.1:9464"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())
    result = subprocess.run(
        [_promtool(), "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _server_down_job_pattern() -> re.Pattern[str]:
    """The `job` matcher of DiabetesServerDown's `up{...}` (exact or regex), as a full match."""
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    (expr,) = (
        rule["expr"]
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("alert") == "DiabetesServerDown"
    )
    match = re.search(r'\bup\{[^}]*\bjob\s*(=~|=)\s*"([^"]*)"', expr)
    assert match, expr
    operator, value = match.groups()
    return re.compile(value if operator == "=~" else re.escape(value))


def _jobs(path: Path) -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(path.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def _scrapes_server(job: dict[str, Any]) -> bool:
    """The job's targets are the server's metrics port: compose's `server:9464`, or the
    Kubernetes pods kept by the server's app label."""
    targets = [t for static in job.get("static_configs", []) for t in static["targets"]]
    kept = [
        rule["regex"] for rule in job.get("relabel_configs", []) if rule.get("action") == "keep"
    ]
    return any(t.startswith("server:") for t in targets) or "diabetes-server" in kept


@pytest.mark.parametrize("path", [COMPOSE_CONFIG, KUBERNETES_CONFIG], ids=["compose", "k8s"])
def test_server_down_alert_watches_every_deployments_server_job(path: Path) -> None:
    pattern = _server_down_job_pattern()
    jobs = _jobs(path)
    server_jobs = {name for name, job in jobs.items() if _scrapes_server(job)}
    assert len(server_jobs) == 1, jobs
    for name in jobs:
        assert bool(pattern.fullmatch(name)) == (name in server_jobs), name


def test_kubernetes_server_job_keeps_the_deployments_pods_and_port() -> None:
    """The labels the job keeps are the ones the server Deployment's pods carry."""
    deployment = yaml.safe_load(SERVER_DEPLOYMENT.read_text())
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port_names = {port["name"] for port in container["ports"]}
    annotated_port = int(pod["metadata"]["annotations"]["prometheus.io/port"])
    job = next(job for job in _jobs(KUBERNETES_CONFIG).values() if _scrapes_server(job))
    kept = {
        rule["source_labels"][0]: rule["regex"]
        for rule in job["relabel_configs"]
        if rule.get("action") == "keep"
    }
    app = kept["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == app
    port_name = kept["__meta_kubernetes_pod_container_port_name"]
    assert port_name in port_names
    port = next(p for p in container["ports"] if p["name"] == port_name)
    assert port["containerPort"] == annotated_port


def _exported_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    return names


def _scrape(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return _exported_names(reply.read().decode())


# Metrics with a sample only once something happened, and the test that makes it happen
# through the stack and reads the metric.
AFTER_AN_EVENT = {"diabetes_guard_breaches_total": "tests/ops/test_shadow_canary.py"}


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
        own = {name for name in used if name.startswith("diabetes_")} - set(AFTER_AN_EVENT)
        # Drift statistics are written once a second.
        wait_until(lambda: own <= _scrape(server_metrics), 10, "every metric the rules use")
        exported = _scrape(server_metrics) | _scrape(f"{envoy.admin_url}/stats/prometheus")
    assert used - exported - set(AFTER_AN_EVENT) == set()
    for name, where in AFTER_AN_EVENT.items():
        assert name in (ROOT / where).read_text(), f"{where} no longer checks {name}"
