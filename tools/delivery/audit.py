"""pip-audit of the serving lock: known vulnerabilities in exactly what the image installs.

    python tools/delivery/audit.py [--lock requirements/serving.lock]

Fails on any known vulnerability, and on any dependency the vulnerability service did not
answer for. Where the service cannot be reached at all, every dependency comes back "could not
be audited": that is reported as NOT RUN and passes, unless AUDIT_REQUIRED=1 (set in the GitHub
workflow, where PyPI answers), so an audit that silently did not happen never passes there.
The verdict is `make audit`'s (mk/ops.mk), applied to the lock instead of the dev virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "serving.lock"


def run_pip_audit(lock: Path, report: Path) -> None:
    # --disable-pip: the lock is complete and hashed, nothing is resolved or installed.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(lock),
            "--require-hashes",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--output",
            str(report),
        ],
        check=False,  # the verdict reads the report: a vulnerability also exits 1
    )


def verdict(report: dict[str, Any], required: bool) -> tuple[bool, list[str]]:
    """(passed, lines to print) for a pip-audit JSON report."""
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if "skip_reason" in d]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            lines.append(
                f"audit: {dependency['name']} {dependency['version']}: {vuln['id']} "
                f"(fixed in {fixed})"
            )
    if vulnerable:
        return False, lines
    if not dependencies:
        return False, ["audit: FAILED: pip-audit reported no dependencies"]
    if len(skipped) == len(dependencies):
        state = "FAILED" if required else "NOT RUN"
        return not required, [
            f"audit: {state}: the vulnerability service answered for none of the "
            f"{len(dependencies)} dependencies ({skipped[0]['skip_reason']})"
        ]
    lines += [f"audit: not audited: {d['skip_reason']}" for d in skipped]
    if skipped:
        return False, lines
    return True, [f"audit: {len(dependencies)} dependencies, no known vulnerabilities"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args(argv)
    required = os.environ.get("AUDIT_REQUIRED") == "1"
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "pip-audit.json"
        run_pip_audit(args.lock, path)
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"audit: FAILED: pip-audit wrote no report ({exc})")
            return 1
    passed, lines = verdict(report, required)
    print("\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
