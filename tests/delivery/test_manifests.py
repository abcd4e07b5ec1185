"""Kubernetes manifests: they render, pass strict schema validation, and say what they must."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from model.repository import describe, load_repository, repository_files
from server.contract import SERVICE_NAME
from server.stack.stack import envoy_binary
from tests.delivery.envoy_files import (
    BASE,
    COMPOSE_PRODUCTION,
    DEPLOY_CONFIG,
    GENERATED_CONFIGS,
    K8S_PRODUCTION,
    PLACEHOLDER_JWKS,
    connection_manager,
    http_filter,
    listener,
    load,
    relocate,
)
from tests.delivery.tools import run_tool, venv_tool
from tests.support.credentials import write_self_signed_certificate
from tests.support.processes import ROOT

DEPLOY = ROOT / "deploy"
validator = venv_tool("kubernetes-validate")
Doc = dict[str, Any]


def render(directory: Path) -> list[Doc]:
    if shutil.which("kubectl"):
        command = ["kubectl", "kustomize", str(directory)]
    elif shutil.which("kustomize"):
        command = ["kustomize", "build", str(directory)]
    else:
        pytest.fail("no kustomize renderer (kubectl or kustomize)")
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


def test_every_rendered_manifest_passes_strict_validation() -> None:
    result = run_tool("bash", ROOT / "tools" / "delivery" / "validate-manifests.sh", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rendered deploy/overlays/production" in result.stdout


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
        "service": SERVICE_NAME,
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


def test_generated_envoy_files_are_fresh() -> None:
    result = run_tool(sys.executable, "-m", DEPLOY_CONFIG, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", GENERATED_CONFIGS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_generated_envoy_config_is_accepted_by_envoy(config: Path, tmp_path: Path) -> None:
    """`envoy --mode validate` with the files each config names: the descriptor set and page,
    the placeholder JWKS (Envoy refuses a JWKS without a usable key), a test certificate."""
    etc_envoy, etc_jwks = tmp_path / "envoy", tmp_path / "jwks"
    (etc_envoy / "tls").mkdir(parents=True)
    etc_jwks.mkdir()
    for name in ("prediction_descriptor.pb", "index.html", "openapi.json"):
        shutil.copy(BASE.parent / name, etc_envoy / name)
    shutil.copy(PLACEHOLDER_JWKS, etc_jwks / "jwks.json")
    write_self_signed_certificate(etc_envoy / "tls")
    relocated = relocate(load(config), {"/etc/envoy/": etc_envoy, "/etc/jwks/": etc_jwks})
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(relocated))
    result = run_tool(envoy_binary(), "--mode", "validate", "-c", path, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_envoy_is_open_and_production_requires_a_jwt() -> None:
    filters = [f["name"] for f in connection_manager(load(BASE))["http_filters"]]
    assert not {"envoy.filters.http.jwt_authn", "envoy.filters.http.local_ratelimit"} & set(filters)
    for config in (K8S_PRODUCTION, COMPOSE_PRODUCTION):
        production = load(config)
        (provider,) = http_filter(production, "jwt_authn")["providers"].values()
        assert provider["local_jwks"]["filename"] == "/etc/jwks/jwks.json"
        assert provider["issuer"]
        assert provider["audiences"]
        assert http_filter(production, "local_ratelimit")["descriptors"]
        assert http_filter(production, "grpc_json_transcoder")["max_request_body_size"] <= (
            32 * 1024 * 1024
        )
        assert provider["from_headers"] == [{"name": "Authorization", "value_prefix": "Bearer "}]
        assert provider["require_expiration"] is True
    assert connection_manager(load(K8S_PRODUCTION))["xff_num_trusted_hops"] == 1
    # Compose faces callers directly: always TLS, and X-Forwarded-For is not believed.
    chain = listener(load(COMPOSE_PRODUCTION), "public")["filter_chains"][0]
    assert "transport_socket" in chain
    assert chain["transport_socket_connect_timeout"]
    assert "xff_num_trusted_hops" not in connection_manager(load(COMPOSE_PRODUCTION))


def test_placeholder_jwks_holds_no_private_key() -> None:
    jwks = json.loads(PLACEHOLDER_JWKS.read_text())
    assert "PLACEHOLDER" in jwks["_comment"]
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"}
    for key in jwks["keys"]:
        assert not private_members & set(key), key["kid"]


def _envoy_pod(docs: list[Doc]) -> tuple[Doc, Doc]:
    pod = find(docs, "Deployment", "envoy")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    return pod, container


def test_production_envoy_runs_the_production_config_with_its_jwks(production: list[Doc]) -> None:
    pod, container = _envoy_pod(production)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    configmap = find(production, "ConfigMap", "envoy-config")
    assert volumes["config"]["configMap"]["name"] == configmap["metadata"]["name"]
    assert yaml.safe_load(configmap["data"]["envoy.yaml"]) == load(K8S_PRODUCTION)
    jwks_map = find(production, "ConfigMap", "envoy-jwks")
    assert volumes["jwks"]["configMap"]["name"] == jwks_map["metadata"]["name"]
    assert f"{mounts['jwks']}/jwks.json" == "/etc/jwks/jwks.json"
    assert json.loads(jwks_map["data"]["jwks.json"])["keys"]


def test_prometheus_scrapes_the_server_and_envoys_stats_port(production: list[Doc]) -> None:
    server = find(production, "Deployment", "diabetes-server")["spec"]["template"]
    (server_container,) = server["spec"]["containers"]
    server_ports = {p["name"]: p["containerPort"] for p in server_container["ports"]}
    assert server["metadata"]["annotations"]["prometheus.io/port"] == str(server_ports["metrics"])
    pod, container = _envoy_pod(production)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    stats = listener(load(K8S_PRODUCTION), "stats")["address"]["socket_address"]["port_value"]
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["stats"]) == str(stats) == "9902"
    assert annotations["prometheus.io/path"] == "/stats/prometheus"
    policy = find(production, "NetworkPolicy", "envoy")["spec"]["ingress"]
    assert {"port": "stats", "protocol": "TCP"} in policy[1]["ports"]


def test_only_the_ingress_reaches_envoy_and_only_envoy_the_servers(production: list[Doc]) -> None:
    """Envoy trusts one X-Forwarded-For hop: the Ingress controller's. Any other pod that could
    reach Envoy's port would pick its own rate-limit bucket; any that could reach a server's
    port would skip authentication (docs/api.md says callers go through the Ingress)."""
    assert connection_manager(load(K8S_PRODUCTION))["xff_num_trusted_hops"] == 1
    envoy_rules = find(production, "NetworkPolicy", "envoy")["spec"]["ingress"]
    http_rules = [r for r in envoy_rules if {"port": "http", "protocol": "TCP"} in r["ports"]]
    assert http_rules
    for rule in http_rules:
        (source,) = rule["from"]
        assert source["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "ingress-nginx"
        }
    server_rules = find(production, "NetworkPolicy", "diabetes-server")["spec"]["ingress"]
    grpc_rule = next(r for r in server_rules if {"port": "grpc", "protocol": "TCP"} in r["ports"])
    assert grpc_rule["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "envoy"}}}
    ]
    assert "inside the namespace" not in (ROOT / "docs" / "api.md").read_text()


def test_envoy_flushes_access_logs_every_second(base: list[Doc]) -> None:
    _, container = _envoy_pod(base)
    args = container["args"]
    assert args[args.index("--file-flush-interval-msec") + 1] == "1000"


def test_server_has_a_writable_tmp_on_a_read_only_root(base: list[Doc]) -> None:
    pod = find(base, "Deployment", "diabetes-server")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume


def test_envoy_body_cap_matches_the_ingress(production: list[Doc]) -> None:
    ingress = find(production, "Ingress", "diabetes-public")["metadata"]["annotations"]
    size = ingress["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m")
    cap = http_filter(load(K8S_PRODUCTION), "grpc_json_transcoder")["max_request_body_size"]
    assert cap == int(size[:-1]) * 1024 * 1024


def _deploy_config() -> Any:
    """tools/delivery/deploy_config.py, imported."""
    return importlib.import_module(DEPLOY_CONFIG)


def _server_models(docs: list[Doc]) -> tuple[Doc, Doc, Doc]:
    """The server container, its model volume and the ConfigMap that volume names."""
    pod = find(docs, "Deployment", "diabetes-server")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mount = next(
        m for m in container["volumeMounts"] if m["mountPath"] == env["DIABETES_MODEL_REPOSITORY"]
    )
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    configmap = find(docs, "ConfigMap", volume["configMap"]["name"])
    return container, volume, configmap


@pytest.mark.parametrize("overlay", ["base", "production"])
def test_every_repository_file_is_in_the_model_configmap_at_its_path(
    overlay: str, base: list[Doc], production: list[Doc], tmp_path: Path
) -> None:
    """Each file of deploy/models/ is a ConfigMap key, byte for byte, and the volume's items
    put it back at its path; laid out as the kubelet would, it loads as the same repository,
    mounted read-only where the server reads it, and watched."""
    docs = base if overlay == "base" else production
    container, volume, configmap = _server_models(docs)
    source = DEPLOY / "models"
    files = {p.relative_to(source).as_posix() for p in repository_files(source)}
    assert {"diabetes-bmi/labels.json", "diabetes-bmi-raw/labels.json"} <= files
    items = {item["path"]: item["key"] for item in volume["configMap"]["items"]}
    assert set(items) == files
    assert set(configmap["data"]) == set(items.values())
    assert configmap["metadata"]["name"] == "diabetes-models"  # no hash: updated in place
    for path, key in items.items():
        assert "/" not in key
        assert configmap["data"][key] == (source / path).read_text()
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(configmap["data"][key])
    assert describe(load_repository(tmp_path)) == describe(load_repository(source))
    mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert mount["readOnly"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DIABETES_WATCH_MODEL"] == "true"


def test_the_model_configmap_fits_the_configmap_limit(base: list[Doc]) -> None:
    """The API server refuses a ConfigMap over 1 MiB; the render refuses one first."""
    _, _, configmap = _server_models(base)
    size = sum(len(k) + len(v.encode()) for k, v in configmap["data"].items())
    assert 0 < size < 1024 * 1024
    assert len(json.dumps(configmap).encode()) < 1024 * 1024


def test_deploy_config_refuses_a_repository_a_configmap_cannot_hold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    deploy_config = _deploy_config()
    monkeypatch.setattr(deploy_config, "CONFIGMAP_LIMIT_BYTES", 1000)
    with pytest.raises(deploy_config.ModelRepositoryError, match="from a volume instead"):
        deploy_config.model_repository_files()
    repository = tmp_path / "models"
    (repository / "m").mkdir(parents=True)
    (repository / "m" / "v 1.json").write_text("{}")
    with pytest.raises(deploy_config.ModelRepositoryError, match="cannot be a ConfigMap key"):
        deploy_config.configmap_items(repository)
    (repository / "m" / "v 1.json").unlink()
    (repository / "a--b").mkdir()
    (repository / "a--b" / "c.json").write_text("{}")
    (repository / "a").mkdir()
    (repository / "a" / "b--c.json").write_text("{}")
    with pytest.raises(deploy_config.ModelRepositoryError, match="would both be key"):
        deploy_config.configmap_items(repository)


def test_deploy_config_refuses_a_repository_with_a_file_a_server_would_refuse(
    tmp_path: Path,
) -> None:
    deploy_config = _deploy_config()
    shipped = deploy_config.MODEL_REPOSITORY
    shutil.copytree(ROOT / shipped, tmp_path / shipped)
    bad = tmp_path / shipped / "diabetes-bmi" / "unused.json"
    bad.write_text("{")
    with pytest.raises(deploy_config.ModelRepositoryError) as error:
        deploy_config.model_repository_files(tmp_path)
    assert str(error.value).startswith(
        f"{shipped}: a server would refuse diabetes-bmi/unused.json (the artifact is not valid JSON"
    )
