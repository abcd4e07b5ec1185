"""The Go and Java clients as the tests run them: each CLI (client/go/bin, client/java/bin,
built by `make go-client` / `make java-client`) and each library's check against a running
server (`go test ./client`; the Java single-file check), with the Python CLI alongside for
comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.processes import ROOT

GO_DIR = ROOT / "client" / "go"
JAVA_DIR = ROOT / "client" / "java"
# GOPATH mode over Debian's Go sources, as mk/clients.mk builds it.
GO_PACKAGE_DIR = GO_DIR / "build" / "gopath" / "src" / "example.com" / "diabetes"
GO_PATH = f"{GO_DIR / 'build' / 'gopath'}:/usr/share/gocode"
JAVA_CLASSPATH_FILE = JAVA_DIR / "build" / "classpath"
JAVA_CHECK = (
    JAVA_DIR / "src/test/java/com/example/diabetes/client/PredictionClientCheck.java"
).relative_to(ROOT)
LANGUAGES = ("go", "java")
TIMEOUT = 240


def cli_path(language: str) -> Path:
    return (GO_DIR if language == "go" else JAVA_DIR) / "bin" / "diabetes-client"


def clean_env(**env: str) -> dict[str, str]:
    """The environment without the caller's DIABETES_* settings, plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIABETES_")}
    return {**clean, **env}


def run(
    args: list[str], env: dict[str, str], *, stdin: str = "", cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=clean_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def compiled_cli(
    language: str, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the Go or Java `diabetes-client`."""
    return run([str(cli_path(language)), *args], env, stdin=stdin)


def python_cli(*args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "diabetes_client", *args], env, stdin=stdin)


def library_check(
    language: str,
    tmp_path: Path,
    target: str,
    records: list[dict[str, float]] | None = None,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run the library's own check against `target`; what it did and what it got back."""
    results = tmp_path / f"{language}-results.json"
    env = {"DIABETES_TARGET": target, "DIABETES_RESULTS": str(results), **env}
    if records is not None:
        records_file = tmp_path / "records.json"
        records_file.write_text(json.dumps(records))
        env["DIABETES_RECORDS"] = str(records_file)
    if language == "go":
        go_env = {**env, "GOPATH": GO_PATH, "GO111MODULE": "off"}
        done = run(["go", "test", "-count=1", "./client"], go_env, cwd=GO_PACKAGE_DIR)
    else:
        classpath = JAVA_CLASSPATH_FILE.read_text()
        done = run(["java", "-cp", classpath, str(JAVA_CHECK)], env)
    found = json.loads(results.read_text()) if results.exists() else {}
    return done, found
