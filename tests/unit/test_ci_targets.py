"""`make ci` (what .ci/run runs) and .github/workflows/ci.yml run the same make targets,
and every target they run is listed by `make help`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def make(*args: str) -> list[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.splitlines()


def workflow_targets() -> list[str]:
    """The make targets the workflow's jobs run: each `make X` step, matrix expanded."""
    workflow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    targets: list[str] = []
    for job in workflow["jobs"].values():
        matrix = job.get("strategy", {}).get("matrix", {})
        for step in job["steps"]:
            words = str(step.get("run", "")).split()
            if words[:1] != ["make"]:
                continue
            target = words[1]
            if target == "${{":
                targets += matrix[words[2].removeprefix("matrix.")]
            else:
                targets.append(target)
    return targets


def test_the_workflow_runs_what_make_ci_runs() -> None:
    assert workflow_targets() == make("print-ci-targets")


def test_ci_runs_make_ci() -> None:
    run = (ROOT / ".ci" / "run").read_text().splitlines()
    assert [line for line in run if line.startswith("make")] == ["make ci"]


def test_make_check_is_part_of_ci() -> None:
    assert "check" in make("print-ci-targets")
    checks = make("print-check-targets")
    for expected in ("lint", "typecheck", "check-gen", "check-deploy-config", "docs-check"):
        assert expected in checks


def test_every_target_ci_and_check_run_has_help() -> None:
    documented = {line.split()[0] for line in make("help") if line.strip()}
    wanted = {"run", "test", "test-unit", "check", "ci", "help", "docs"}
    wanted |= set(make("print-ci-targets")) | set(make("print-check-targets"))
    assert wanted <= documented, sorted(wanted - documented)
