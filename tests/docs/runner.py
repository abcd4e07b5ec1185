"""Run a documented example against a running stack and compare what it prints with the
output the document shows.

The documents use the default addresses (`localhost:8080` for Envoy, `localhost:50051`
for the server); the runner points them at the test stack's free ports. A shown output
matches the real one when JSON has the same structure and keys, strings are equal and
numbers agree to a relative 1e-9 (1e-6 in plain-text output, which numpy and people
round). Model identity
(version, creation time, checksum) only has to be present: retraining the same model on
another day must not make every example stale.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from server.stack.stack import Stack
from tests.docs.markdown import ROOT, Block
from tests.support.compiled_clients import GO_PATH, JAVA_CLASSPATH_FILE, cli_path

RELATIVE_TOLERANCE = 1e-9
IDENTITY_KEYS = {"model_version", "version", "created_at", "checksum"}
VERSION = re.compile(r"\b[a-z0-9-]+-\d{8}-[0-9a-f]{8}\b")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
BIN = Path(sys.executable).parent
# The Go and Java command lines, run as the documents name them (from the repository root).
COMPILED_CLIS = {str(cli_path(language).relative_to(ROOT)) for language in ("go", "java")}
JAVA_CLASS = re.compile(r"^public (?:final )?class (\w+)", re.MULTILINE)
TIMEOUT = 120


def localise(text: str, stack: Stack) -> str:
    http_port = stack.http_port
    text = text.replace("http://localhost:8080", f"http://127.0.0.1:{http_port}")
    text = text.replace("localhost:8080", f"127.0.0.1:{http_port}")
    return text.replace("localhost:50051", stack.server_target)


def commands(block: Block) -> list[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = block.text.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            found.append(shlex.join(words))
    return found


def run_command(command: str, stack: Stack) -> str:
    """Run one documented shell command; returns its stdout."""
    words = shlex.split(localise(command, stack))
    program = words[0]
    env = dict(os.environ, DIABETES_TARGET=stack.server_target)
    if program == "curl":
        args = words
    elif program in ("diabetes-client", ".venv/bin/diabetes-client"):
        args = [str(BIN / "diabetes-client"), *words[1:]]
    elif program in COMPILED_CLIS:
        args = [str(ROOT / program), *words[1:]]
    elif program == "make":
        # Dry run: the target exists and its recipe expands; running `make test` or
        # `make run` from a test would recurse or never return. The flags of a `make test`
        # that runs this test are not the example's.
        args = ["make", "--dry-run", *words[1:]]
        for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
            env.pop(name, None)
    else:
        raise AssertionError(
            f"no way to run `{command}`: mark its block `sh norun` or teach tests/docs/runner.py"
        )
    result = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.returncode == 0, f"`{command}` exited {result.returncode}: {result.stderr}"
    return "" if program == "make" else result.stdout


def run_python(block: Block, stack: Stack) -> str:
    result = subprocess.run(
        [sys.executable, "-c", localise(block.text, stack)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}: the example failed:\n{result.stderr}"
    return result.stdout


def run_program(block: Block, stack: Stack) -> str:
    """A Go or Java program, with the client `make go-client` / `make java-client` built:
    `go run` in GOPATH mode over Debian's Go sources, or Java's single-file source launcher."""
    with tempfile.TemporaryDirectory(prefix="doc-example-") as workdir:
        env = dict(os.environ)
        if block.language == "go":
            source = Path(workdir) / "main.go"
            args = ["go", "run", str(source)]
            env.update(GOPATH=GO_PATH, GO111MODULE="off")
        else:
            name = JAVA_CLASS.search(block.text)
            assert name, f"{block.where}: a Java example is one public class with a main"
            source = Path(workdir) / f"{name.group(1)}.java"
            assert JAVA_CLASSPATH_FILE.is_file(), "the Java client is not built: make java-client"
            args = ["java", "-cp", JAVA_CLASSPATH_FILE.read_text(), str(source)]
        source.write_text(localise(block.text, stack))
        result = subprocess.run(
            args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    assert result.returncode == 0, f"{block.where}: the example failed:\n{result.stderr}"
    return result.stdout


def run(block: Block, stack: Stack) -> list[str]:
    """Run a runnable block; returns what each command printed (one item for a program)."""
    if block.language == "python":
        return [run_python(block, stack)]
    if block.language in ("go", "java"):
        return [run_program(block, stack)]
    return [run_command(command, stack) for command in commands(block)]


def json_matches(shown: Any, actual: Any, where: str = "$") -> None:
    if isinstance(shown, dict):
        assert isinstance(actual, dict), f"{where}: shown an object, got {actual!r}"
        assert set(shown) == set(actual), f"{where}: keys {sorted(shown)} != {sorted(actual)}"
        for key, value in shown.items():
            if key in IDENTITY_KEYS:
                assert isinstance(actual[key], str), f"{where}.{key}: not a string"
                assert actual[key], f"{where}.{key}: empty"
            else:
                json_matches(value, actual[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(actual, list), f"{where}: shown an array, got {actual!r}"
        assert len(shown) == len(actual), f"{where}: {len(shown)} items shown, got {len(actual)}"
        for index, (one, other) in enumerate(zip(shown, actual, strict=True)):
            json_matches(one, other, f"{where}[{index}]")
    elif isinstance(shown, bool) or shown is None or isinstance(shown, str):
        assert shown == actual, f"{where}: shown {shown!r}, got {actual!r}"
    else:
        assert isinstance(actual, int | float), f"{where}: shown a number, got {actual!r}"
        assert not isinstance(actual, bool), f"{where}: shown a number, got {actual!r}"
        assert math.isclose(shown, actual, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12), (
            f"{where}: shown {shown}, got {actual}"
        )


def text_matches(shown: str, actual: str) -> None:
    """Line by line: the same words, numbers to the tolerance, versions of any model."""
    shown_lines, actual_lines = shown.strip().splitlines(), actual.strip().splitlines()
    assert len(shown_lines) == len(actual_lines), f"shown:\n{shown}\ngot:\n{actual}"
    for shown_line, actual_line in zip(shown_lines, actual_lines, strict=True):
        one, other = VERSION.sub("<version>", shown_line), VERSION.sub("<version>", actual_line)
        assert NUMBER.sub("#", one).split() == NUMBER.sub("#", other).split(), (
            f"shown {one!r}, got {other!r}"
        )
        for a, b in zip(NUMBER.findall(one), NUMBER.findall(other), strict=True):
            assert math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-12), (
                f"shown {one!r}, got {other!r}"
            )


def check_output(shown: Block, actual: str) -> None:
    if shown.language == "json":
        json_matches(json.loads(shown.text), json.loads(actual))
    else:
        text_matches(shown.text, actual)
