"""hadolint (Dockerfile) and actionlint (GitHub workflows) are clean, and they do catch errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.delivery.tools import MISSING, NODE_TOOLS, actionlint_available, run_tool, venv_tool
from tests.support.processes import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
hadolint = venv_tool("hadolint")


@pytest.fixture(autouse=True, scope="module")
def _actionlint_installed() -> None:
    assert actionlint_available(), f"actionlint {MISSING}"


def test_dockerfile_is_hadolint_clean() -> None:
    result = run_tool(hadolint or "", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_careless_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\n")
    result = run_tool(hadolint or "", bad)
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # untagged base image


def actionlint(*files: Path) -> tuple[int, str]:
    result = run_tool("node", NODE_TOOLS / "actionlint.mjs", *files)
    return result.returncode, result.stdout + result.stderr


def test_workflows_are_actionlint_clean() -> None:
    code, output = actionlint()
    assert code == 0, output
    assert "0 problem(s)" in output


def test_actionlint_flags_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.evnt.name }}\n"
    )
    code, output = actionlint(bad)
    assert code == 1
    assert "evnt" in output


def load(name: str) -> dict[object, object]:
    data: dict[object, object] = yaml.safe_load((WORKFLOWS / name).read_text())
    return data


def test_workflows_cover_ci_release_deploy_and_codeql() -> None:
    assert {p.name for p in WORKFLOWS.glob("*.yml")} >= {
        "ci.yml",
        "release.yml",
        "deploy.yml",
        "codeql.yml",
    }
    # PyYAML reads the key `on` as True.
    ci_triggers = load("ci.yml")[True]
    assert isinstance(ci_triggers, dict)
    assert "pull_request" in ci_triggers
    assert ci_triggers["push"] == {"branches": ["main"]}
    release = (WORKFLOWS / "release.yml").read_text()
    for expected in ("tags:", "ghcr.io/", "make dist", "make wheelhouse"):
        assert expected in release
    assert "uses: ./.github/workflows/deploy.yml" in release
    assert "secrets.KUBE_CONFIG" in (WORKFLOWS / "deploy.yml").read_text()
