"""Kubernetes manifests: they render, pass strict schema validation, and say what they must."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.tools import MISSING, run_tool, venv_tool
from tests.support.processes import ROOT

DEPLOY = ROOT / "deploy"
validator = venv_tool("kubernetes-validate")
needs_validator = pytest.mark.skipif(validator is None, reason=f"kubernetes-validate {MISSING}")
Doc = dict[str, Any]


def render(directory: Path) -> list[Doc]:
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(directory)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(directory)]
    else:
        pytest.skip("no kustomize renderer (kubectl or kustomize)")
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return [doc for doc in yaml.safe_load_all(output.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return render(DEPLOY / "base")


@pytest.fixture(scope="module")
def production() -> list[Doc]:
    return render(DEPLOY / "overlays" / "production")


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    for doc in docs:
        if doc["kind"] == kind and doc["metadata"]["name"].startswith(name):
            return doc
    raise AssertionError(f"no {kind} {name}")


@needs_validator
def test_every_rendered_manifest_passes_strict_validation() -> None:
    result = run_tool("bash", ROOT / "tools" / "delivery" / "validate-manifests.sh", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rendered deploy/overlays/production" in result.stdout


@needs_validator
def test_strict_validation_rejects_an_unknown_field(base: list[Doc], tmp_path: Path) -> None:
    deployment = find(base, "Deployment", "diabetes-server")
    deployment["spec"]["replicass"] = 3
    manifest = tmp_path / "typo.yaml"
    manifest.write_text(yaml.safe_dump(deployment))
    result = run_tool(validator or "", "--strict", manifest)
    assert result.returncode != 0
    assert "replicass" in result.stdout + result.stderr


def test_server_has_grpc_probes_resources_and_a_locked_down_container(base: list[Doc]) -> None:
    pod = find(base, "Deployment", "diabetes-server")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["livenessProbe"]["grpc"] == {"port": 50051}
    assert container["readinessProbe"]["grpc"] == {
        "port": 50051,
        "service": "diabetes.v1.PredictionService",
    }
    assert container["startupProbe"]["grpc"]["port"] == 50051
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind])
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001


def test_pdb_and_hpa_target_the_server(base: list[Doc]) -> None:
    labels = find(base, "Deployment", "diabetes-server")["spec"]["selector"]["matchLabels"]
    assert find(base, "PodDisruptionBudget", "diabetes-server")["spec"]["selector"] == {
        "matchLabels": labels
    }
    hpa = find(base, "HorizontalPodAutoscaler", "diabetes-server")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "diabetes-server",
    }
    assert 2 <= hpa["minReplicas"] < hpa["maxReplicas"]


def test_envoy_balances_per_pod_through_the_headless_service(base: list[Doc]) -> None:
    service = find(base, "Service", "diabetes-server")
    assert service["spec"]["clusterIP"] == "None"
    config = yaml.safe_load(find(base, "ConfigMap", "envoy-config")["data"]["envoy.yaml"])
    (cluster,) = config["static_resources"]["clusters"]
    assert cluster["type"] == "STRICT_DNS"
    (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert address["address"] == service["metadata"]["name"]
    assert address["port_value"] == service["spec"]["ports"][0]["port"]
    configmap = find(base, "ConfigMap", "envoy-config")
    assert "prediction_descriptor.pb" in configmap["binaryData"]


def test_envoy_deployment_mounts_its_config_and_runs_the_pinned_image(base: list[Doc]) -> None:
    pod = find(base, "Deployment", "envoy")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"].startswith("envoyproxy/envoy:v1.40.")
    configmap = find(base, "ConfigMap", "envoy-config")["metadata"]["name"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["config"]["configMap"]["name"] == configmap
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["config"] == "/etc/envoy"


def test_production_serves_envoy_publicly_over_tls(production: list[Doc]) -> None:
    ingress = find(production, "Ingress", "diabetes-public")["spec"]
    host = ingress["rules"][0]["host"]
    assert host in ingress["tls"][0]["hosts"]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "envoy"
    assert {
        doc["metadata"].get("namespace") for doc in production if doc["kind"] != "Namespace"
    } == {"diabetes"}
    image = find(production, "Deployment", "diabetes-server")["spec"]["template"]["spec"][
        "containers"
    ][0]["image"]
    assert image.startswith("ghcr.io/")


DEPLOY_CONFIG = ROOT / "tools" / "delivery" / "deploy_config.py"


def test_generated_envoy_files_are_fresh() -> None:
    result = run_tool(sys.executable, DEPLOY_CONFIG, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_envoy_config_is_accepted_by_envoy(tmp_path: Path) -> None:
    envoy = Path(sys.executable).parent / "envoy"
    if not envoy.exists():
        pytest.skip("envoy not installed in the venv")
    rendered = run_tool(sys.executable, DEPLOY_CONFIG, "--output-dir", tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    # The ConfigMap is mounted at /etc/envoy; point the config at the rendered copies instead.
    config = tmp_path / "envoy.yaml"
    config.write_text(config.read_text().replace("/etc/envoy/", f"{tmp_path}/"))
    result = run_tool(envoy, "--mode", "validate", "-c", config, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
