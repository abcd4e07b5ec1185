"""A thin, typed wrapper over the `docker` CLI for the container tests."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Every container the tests start carries this label, so a cleanup can find leftovers.
TEST_LABEL = "diabetes-serving.test=1"


def docker(*args: str, timeout: float = 60.0, check: bool = True) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def daemon_answers() -> bool:
    try:
        docker("info", "--format", "{{.ServerVersion}}", timeout=10)
    except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired):
        return False
    return True


@dataclass
class Container:
    id: str

    def inspect(self) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(docker("inspect", self.id))
        return data[0]

    def published_port(self, container_port: int) -> int:
        """The host port (on 127.0.0.1) that `container_port/tcp` is published on."""
        binding = docker("port", self.id, f"{container_port}/tcp").splitlines()[0]
        return int(binding.rsplit(":", 1)[1])

    def health(self) -> str:
        return str(self.inspect()["State"].get("Health", {}).get("Status", "none"))

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.inspect()["State"]
            if not state["Running"]:
                raise RuntimeError(f"container exited ({state['ExitCode']}):\n{self.logs()}")
            status = state.get("Health", {}).get("Status")
            if status == "healthy":
                return
            if status == "unhealthy":
                raise RuntimeError(f"container unhealthy:\n{self.logs()}")
            time.sleep(0.5)
        raise TimeoutError(f"container not healthy after {timeout} s:\n{self.logs()}")

    def exec(self, *command: str) -> str:
        return docker("exec", self.id, *command)

    def logs(self) -> str:
        result = subprocess.run(
            ["docker", "logs", self.id], capture_output=True, text=True, timeout=30, check=False
        )
        return result.stdout + result.stderr

    def stop(self, timeout: int = 30) -> int:
        """`docker stop` (SIGTERM, then SIGKILL after `timeout`); returns the exit code."""
        docker("stop", "--time", str(timeout), self.id, timeout=timeout + 30)
        return int(self.inspect()["State"]["ExitCode"])

    def remove(self) -> None:
        docker("rm", "--force", "--volumes", self.id, check=False)


def run_detached(image: str, *run_args: str, command: Sequence[str] = ()) -> Container:
    container_id = docker(
        "run", "--detach", "--label", TEST_LABEL, *run_args, image, *command
    ).strip()
    return Container(container_id)


def run_once(image: str, *run_args: str, command: Sequence[str] = ()) -> str:
    """Run a container to completion and return its output."""
    return docker("run", "--rm", "--label", TEST_LABEL, *run_args, image, *command, timeout=120)
