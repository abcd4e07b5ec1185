"""The project's hash-locked requirements: `requirements/serving.lock` and `requirements/dev.lock`.

    python tools/delivery/lock.py            regenerate both from pyproject.toml (uv; asks PyPI)
    python tools/delivery/lock.py --check    exit 1 unless both are fresh (offline)

`serving.lock` pins every runtime dependency of the service (pyproject's `[project]
dependencies`, no extras, and what they pull in, for every platform) with the sha256 of each
file PyPI has for that version. The image installs it with `pip install --require-hashes`,
then the project's own wheel with `--no-deps` (`make wheelhouse`, `Dockerfile`), so nothing
unpinned gets in.

`dev.lock` pins the development environment (the `dev` extra, which takes in every other
extra) the same way, resolved under `serving.lock` as a constraint, so that the tests run the
very versions the image ships. `make install` installs it with `--require-hashes`, then the
two distributions of this repository with `--no-deps`: a fresh clone builds the same
environment on any day, and the generated code it writes is byte for byte the committed one.

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
DEV_LOCK = ROOT / "requirements" / "dev.lock"
DEV_EXTRA = "dev"
# The image's Python (Dockerfile BASE_IMAGE); markers are resolved for every platform.
PYTHON_VERSION = "3.11"
DIGEST_PREFIX = "# input-digest: "
SERVING_HEADER = """\
# The serving image's runtime dependencies, pinned and hashed. Generated: do not edit.
# Regenerate after changing [project] dependencies in pyproject.toml:
#   python tools/delivery/lock.py
# Checked (offline) by: python tools/delivery/lock.py --check
"""
DEV_HEADER = """\
# The development environment (the `dev` extra and every extra it takes in), pinned and
# hashed, resolved under serving.lock. Generated: do not edit.
# Regenerate after changing dependencies in pyproject.toml: python tools/delivery/lock.py
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


def dev_requirements(pyproject: Path) -> list[str]:
    """The development environment: the runtime dependencies and the `dev` extra, with the
    extras of this project that it names (`diabetes-serving[train,...]`) expanded in place."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    own_name = canonicalize_name(project["name"])
    requirements = set(runtime_requirements(pyproject))
    pending, seen = [DEV_EXTRA], set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in extras[extra]:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == own_name:
                pending += sorted(requirement.extras)
            else:
                requirements.add(line)
    return sorted(requirements)


def input_digest(pyproject: Path, dev: bool = False) -> str:
    """What a lock is made from: its requirements and the supported Pythons (and, for the
    development lock, the serving lock it is resolved under)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    source: dict[str, object] = {
        "dependencies": (dev_requirements if dev else runtime_requirements)(pyproject),
        "requires-python": project.get("requires-python", ""),
        "python-version": PYTHON_VERSION,
    }
    if dev:
        source["constraint"] = input_digest(pyproject)
    return "sha256:" + hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()


def _compile(requirements: list[str], name: str, constraint: Path | None) -> str:
    """uv's hashed, universal resolution of `requirements` (under `constraint`, if given)."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / f"{name}.lock"
        wanted = Path(scratch) / f"{name}.in"
        wanted.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        command = [sys.executable, "-m", "uv", "pip", "compile", wanted.name]
        if constraint is not None:
            # A copy beside the input, so the lock says `via -c serving.lock`.
            (Path(scratch) / constraint.name).write_bytes(constraint.read_bytes())
            command += ["--constraint", constraint.name]
        command += [
            "--generate-hashes",
            "--universal",
            "--python-version",
            PYTHON_VERSION,
            "--no-header",
            "--quiet",
            "--output-file",
            str(output),
        ]
        # cwd: so the lock says `via -r serving.in`, not a temporary path.
        subprocess.run(command, check=True, cwd=scratch)
        return output.read_text(encoding="utf-8")


def _write(lock: Path, text: str) -> None:
    lock.parent.mkdir(parents=True, exist_ok=True)
    staging = lock.with_suffix(".staging")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, lock)


def generate(pyproject: Path = PYPROJECT, lock: Path = LOCK, dev_lock: Path = DEV_LOCK) -> None:
    """Resolve the runtime dependencies, then the development environment under them, with uv
    and write both hashed locks."""
    body = _compile(runtime_requirements(pyproject), "serving", None)
    _write(lock, f"{SERVING_HEADER}{DIGEST_PREFIX}{input_digest(pyproject)}\n{body}")
    dev_body = _compile(dev_requirements(pyproject), "dev", lock)
    _write(dev_lock, f"{DEV_HEADER}{DIGEST_PREFIX}{input_digest(pyproject, dev=True)}\n{dev_body}")


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


def problems(pyproject: Path = PYPROJECT, lock: Path = LOCK, dev: bool = False) -> list[str]:
    """Why a lock (the serving one, or with `dev` the development one) is not fresh with
    respect to pyproject.toml (empty when it is)."""
    regenerate = "run `python tools/delivery/lock.py`"
    if not lock.is_file():
        return [f"{lock.name} is missing: {regenerate}"]
    text = lock.read_text(encoding="utf-8")
    headers = [line for line in text.splitlines() if line.startswith(DIGEST_PREFIX)]
    recorded = headers[0][len(DIGEST_PREFIX) :] if headers else None
    found: list[str] = []
    if recorded != input_digest(pyproject, dev=dev):
        found.append(f"pyproject.toml's dependencies changed since {lock.name} was made")
    try:
        locked = pins(text)
    except ValueError as exc:
        return [*found, f"{lock.name}: {exc}"]
    found += [f"{pin.name}=={pin.version} has no --hash" for pin in locked if pin.hashes == 0]
    for line in (dev_requirements if dev else runtime_requirements)(pyproject):
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(
            {"python_version": PYTHON_VERSION}
        ):
            continue
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


def disagreements(lock: Path = LOCK, dev_lock: Path = DEV_LOCK) -> list[str]:
    """Packages the two locks pin at different versions: the tests must run what the image
    ships (empty when they agree)."""
    if not (lock.is_file() and dev_lock.is_file()):
        return []
    serving = {(p.name, p.version) for p in pins(lock.read_text(encoding="utf-8"))}
    serving_names = {name for name, _ in serving}
    return [
        f"{pin.name}=={pin.version} in {dev_lock.name}, not as in {lock.name}: "
        "run `python tools/delivery/lock.py`"
        for pin in pins(dev_lock.read_text(encoding="utf-8"))
        if pin.name in serving_names and (pin.name, pin.version) not in serving
    ]


def all_problems() -> list[str]:
    """Every reason either lock is stale, or the two disagree."""
    return [*problems(), *problems(lock=DEV_LOCK, dev=True), *disagreements()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail unless the locks are fresh")
    args = parser.parse_args(argv)
    locks = f"{LOCK.relative_to(ROOT)} and {DEV_LOCK.relative_to(ROOT)}"
    if not args.check:
        generate()
        print(f"wrote {locks}")
        return 0
    found = all_problems()
    for problem in found:
        print(f"lock: {problem}", file=sys.stderr)
    if not found:
        print(f"lock: {locks} are fresh")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
