"""The serving image's hash-locked requirements, `requirements/serving.lock`.

    python tools/delivery/lock.py            regenerate it from pyproject.toml (uv; asks PyPI)
    python tools/delivery/lock.py --check    exit 1 unless it is fresh (offline)

The lock pins every runtime dependency of the service (pyproject's `[project] dependencies`,
no extras, and what they pull in, for every platform) with the sha256 of each file PyPI has for
that version. The image installs it with `pip install --require-hashes`, then the project's own
wheel with `--no-deps` (`make wheelhouse`, `Dockerfile`), so nothing unpinned gets in.

Fresh means: the digest of pyproject's dependency list recorded in the lock's header still
matches pyproject.toml, every direct dependency is pinned at a version its specifier admits,
and every pin is exact and hashed. The check reads no index, so a new release on PyPI never
makes it fail; regenerating picks up new releases.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
# The project's own distributions: built from this repository, never resolved from PyPI; the
# service's lock takes their dependencies instead.
LOCAL_DISTRIBUTIONS = {"diabetes-client": ROOT / "client" / "pyproject.toml"}
LOCK = ROOT / "requirements" / "serving.lock"
# The image's Python (Dockerfile BASE_IMAGE); markers are resolved for every platform.
PYTHON_VERSION = "3.11"
DIGEST_PREFIX = "# input-digest: "
HEADER = """\
# The serving image's runtime dependencies, pinned and hashed. Generated: do not edit.
# Regenerate after changing [project] dependencies in pyproject.toml:
#   python tools/delivery/lock.py
# Checked (offline) by: python tools/delivery/lock.py --check
"""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: int


def runtime_requirements(pyproject: Path) -> list[str]:
    """The service's runtime dependencies, with each of the project's own distributions
    (the client, which carries the generated code) replaced by its dependencies."""
    requirements: list[str] = []
    for line in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        local = LOCAL_DISTRIBUTIONS.get(canonicalize_name(Requirement(line).name))
        requirements += runtime_requirements(local) if local else [line]
    return sorted(set(requirements))


def input_digest(pyproject: Path) -> str:
    """What the lock is made from: the runtime dependencies and the supported Pythons."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    source = {
        "dependencies": runtime_requirements(pyproject),
        "requires-python": project.get("requires-python", ""),
        "python-version": PYTHON_VERSION,
    }
    return "sha256:" + hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def generate(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> None:
    """Resolve pyproject's runtime dependencies with uv and write the hashed lock."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "serving.lock"
        wanted = Path(scratch) / "serving.in"
        wanted.write_text("\n".join(runtime_requirements(pyproject)) + "\n", encoding="utf-8")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "uv",
                "pip",
                "compile",
                wanted.name,
                "--generate-hashes",
                "--universal",
                "--python-version",
                PYTHON_VERSION,
                "--no-header",
                "--quiet",
                "--output-file",
                str(output),
            ],
            check=True,
            cwd=scratch,  # so the lock says `via -r serving.in`, not a temporary path
        )
        body = output.read_text(encoding="utf-8")
    lock.parent.mkdir(parents=True, exist_ok=True)
    staging = lock.with_suffix(".staging")
    staging.write_text(f"{HEADER}{DIGEST_PREFIX}{input_digest(pyproject)}\n{body}")
    os.replace(staging, lock)


def pins(lock_text: str) -> list[Pin]:
    """The `name==version` requirements of a lock and how many hashes each carries."""
    found: list[Pin] = []
    for line in lock_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--hash=") and found:
            last = found[-1]
            found[-1] = Pin(last.name, last.version, last.hashes + 1)
        elif stripped and not stripped.startswith("#") and not line[0].isspace():
            match = _PIN.match(stripped)
            if match is None:
                raise ValueError(f"not an exact pin: {stripped!r}")
            found.append(Pin(canonicalize_name(match[1]), match[2], 0))
    return found


def problems(pyproject: Path = PYPROJECT, lock: Path = LOCK) -> list[str]:
    """Why the lock is not fresh with respect to pyproject.toml (empty when it is)."""
    regenerate = "run `python tools/delivery/lock.py`"
    if not lock.is_file():
        return [f"{lock.name} is missing: {regenerate}"]
    text = lock.read_text(encoding="utf-8")
    headers = [line for line in text.splitlines() if line.startswith(DIGEST_PREFIX)]
    recorded = headers[0][len(DIGEST_PREFIX) :] if headers else None
    found: list[str] = []
    if recorded != input_digest(pyproject):
        found.append(f"pyproject.toml's dependencies changed since {lock.name} was made")
    try:
        locked = pins(text)
    except ValueError as exc:
        return [*found, f"{lock.name}: {exc}"]
    found += [f"{pin.name}=={pin.version} has no --hash" for pin in locked if pin.hashes == 0]
    for line in runtime_requirements(pyproject):
        requirement = Requirement(line)
        # One pin per Python version range where they differ (markers), each must satisfy it.
        versions = [p.version for p in locked if p.name == canonicalize_name(requirement.name)]
        if not versions:
            found.append(f"{requirement.name} is not in {lock.name}")
        found += [
            f"{requirement.name}=={version} does not satisfy {line!r}"
            for version in versions
            if not requirement.specifier.contains(version, prereleases=True)
        ]
    return [f"{problem}: {regenerate}" for problem in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail unless the lock is fresh")
    args = parser.parse_args(argv)
    if not args.check:
        generate()
        print(f"wrote {LOCK.relative_to(ROOT)}")
        return 0
    found = problems()
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if not found:
        print(f"lock: {LOCK.relative_to(ROOT)} is fresh")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
