"""docker-compose.yml: valid for Compose, server and Envoy with a health-gated start; the
default profile's Envoy open, the production profile's with JWT, rate limit and stats."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.envoy_files import (
    COMPOSE_PRODUCTION,
    PLACEHOLDER_JWKS,
    cluster,
    load,
)
from tests.delivery.tools import run_tool, venv_tool
from tests.support.processes import ROOT

compose = venv_tool("docker-compose")


COMPOSE_FILE = ROOT / "docker-compose.yml"
# Variables a test sets for a whole rendering; the rest of the environment must not leak in.
COMPOSE_VARIABLES = ("DIABETES_JWKS", "DIABETES_TLS_CERT", "DIABETES_TLS_KEY", "COMPOSE_PROFILES")


def config(
    path: Path = COMPOSE_FILE, profile: str | None = None, **variables: str
) -> dict[str, Any]:
    profiles = ["--profile", profile] if profile else []
    result = run_compose("-f", path, *profiles, "config", "--format", "json", env=variables)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def run_compose(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES}
    return run_tool(compose or "", *args, env={**clean, **(env or {})})


@pytest.mark.parametrize("profile", [None, "production"])
def test_compose_file_is_valid(profile: str | None) -> None:
    profiles = ["--profile", profile] if profile else []
    result = run_compose("-f", COMPOSE_FILE, *profiles, "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_exactly_one_envoy_runs_per_profile() -> None:
    assert set(config()["services"]) == {"server", "envoy"}
    assert set(config(profile="production")["services"]) == {"server", "envoy-production"}


def test_compose_rejects_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: maybe}\n")
    result = run_tool(compose or "", "-f", bad, "config", "--quiet")
    assert result.returncode != 0


def test_envoy_starts_after_the_server_is_healthy() -> None:
    services = config()["services"]
    server, envoy = services["server"], services["envoy"]
    assert "server.healthcheck" in " ".join(server["healthcheck"]["test"])
    assert envoy["depends_on"]["server"]["condition"] == "service_healthy"
    assert envoy["image"].startswith("envoyproxy/envoy:v1.40.")
    assert envoy["healthcheck"]["test"]


def test_containers_are_read_only_and_envoy_mounts_existing_files() -> None:
    services = {**config()["services"], **config(profile="production")["services"]}
    assert services["server"]["read_only"] is True
    for name in ("envoy", "envoy-production"):
        assert services[name]["read_only"] is True
        for volume in services[name]["volumes"]:
            # /dev/null stands in for the TLS files when no certificate is given.
            assert volume["source"] == "/dev/null" or Path(volume["source"]).is_file(), volume
            assert volume["read_only"] is True


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    return {volume["target"]: volume["source"] for volume in service["volumes"]}


def test_production_envoy_runs_the_generated_config_with_the_given_jwks(tmp_path: Path) -> None:
    default = config(profile="production")["services"]["envoy-production"]
    mounts = _mounts(default)
    assert mounts["/etc/envoy/envoy.yaml"] == str(COMPOSE_PRODUCTION)
    # Without DIABETES_JWKS: the placeholder, whose key nobody holds (every token refused).
    assert mounts["/etc/jwks/jwks.json"] == str(PLACEHOLDER_JWKS)
    assert "127.0.0.1" in {
        port.get("host_ip") for port in default["ports"] if port["target"] == 9902
    }
    jwks, cert, key = (tmp_path / name for name in ("jwks.json", "tls.crt", "tls.key"))
    given = config(
        profile="production",
        DIABETES_JWKS=str(jwks),
        DIABETES_TLS_CERT=str(cert),
        DIABETES_TLS_KEY=str(key),
    )["services"]["envoy-production"]
    mounts = _mounts(given)
    assert mounts["/etc/jwks/jwks.json"] == str(jwks)
    assert mounts["/etc/envoy/envoy.yaml"] == str(COMPOSE_PRODUCTION)
    assert (mounts["/etc/envoy/tls/tls.crt"], mounts["/etc/envoy/tls/tls.key"]) == (
        str(cert),
        str(key),
    )
    # Prometheus (deploy/prometheus/prometheus.yml) scrapes envoy:9902 in either profile.
    assert "envoy" in given["networks"]["default"]["aliases"]


def test_both_envoys_flush_access_logs_every_second() -> None:
    services = {**config()["services"], **config(profile="production")["services"]}
    for name in ("envoy", "envoy-production"):
        command = services[name]["command"]
        assert command[command.index("--file-flush-interval-msec") + 1] == "1000"


def _seconds(duration: str) -> float:
    assert duration.endswith("s"), duration
    return float(duration[:-1])


def test_shutdown_delay_outlasts_the_envoy_health_checks_that_mark_a_host_down() -> None:
    """The server reports NOT_SERVING for DIABETES_SHUTDOWN_DELAY before draining; Envoy must
    get to see it as often as it takes to mark the host down (unhealthy_threshold, at least 2
    so one slow answer is not an outage): that many intervals plus a timeout, with room."""
    delay = float(config()["services"]["server"]["environment"]["DIABETES_SHUTDOWN_DELAY"])
    shipped = yaml.safe_load((ROOT / "envoy.yaml").read_text())
    for envoy_config in (shipped, load(COMPOSE_PRODUCTION)):
        (check,) = cluster(envoy_config, "diabetes_grpc")["health_checks"]
        misses = check["unhealthy_threshold"]
        assert misses >= 2
        assert delay > misses * _seconds(check["interval"]) + _seconds(check["timeout"])
