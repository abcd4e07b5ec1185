"""docker-compose.yml: valid for Compose, server and Envoy with a health-gated start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.delivery.tools import MISSING, run_tool, venv_tool
from tests.support.processes import ROOT

compose = venv_tool("docker-compose")
pytestmark = pytest.mark.skipif(compose is None, reason=f"docker compose {MISSING}")


def config(path: Path = ROOT / "docker-compose.yml") -> dict[str, Any]:
    result = run_tool(compose or "", "-f", path, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_compose_file_is_valid() -> None:
    result = run_tool(compose or "", "-f", ROOT / "docker-compose.yml", "config", "--quiet")
    assert result.returncode == 0, result.stderr


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
    services = config()["services"]
    assert services["server"]["read_only"] is True
    assert services["envoy"]["read_only"] is True
    for volume in services["envoy"]["volumes"]:
        assert Path(volume["source"]).is_file(), volume["source"]
        assert volume["read_only"] is True
