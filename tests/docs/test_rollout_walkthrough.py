"""The runbook's roll-out walk-through (its `sh rollout` blocks), run in order as an operator
would: in a folder holding a clinic's CSV and a model repository `models` that serves
`diabetes-bmi-raw`, against a real server (labels watched, metrics on) behind Envoy, with
`localhost:8080` and the metrics port `localhost:9100` pointed at them. Every command must
succeed, and an output block must match what the block's last command prints."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from model.artifact import RAW_UNITS_ARTIFACT
from server.stack.processes import free_port
from server.stack.stack import Stack
from tests.docs import runner
from tests.docs.markdown import ROLLOUT, ROOT, Block, blocks
from tests.ops.test_rollout import write_csv
from tests.support.processes import wait_until
from tests.support.stack import log_text, running_stack

RUNBOOK = ROOT / "docs" / "runbook.md"
BIN = Path(sys.executable).parent
PROGRAMS = ("diabetes-train", "diabetes-models", "curl")
# Commands after which the server must have read the repository again before the next.
RELABELS = ("add", "shadow", "canary", "promote", "rollback")
METRICS_PORT_SHOWN = "localhost:9100"


def walkthrough() -> list[tuple[Block, Block | None]]:
    found = blocks(RUNBOOK)
    steps = []
    for position, block in enumerate(found):
        if block.language == "sh" and ROLLOUT in block.flags:
            following = found[position + 1] if position + 1 < len(found) else None
            steps.append((block, following if following and following.is_output else None))
    return steps


def run_step(command: str, stack: Stack, metrics_port: int, folder: Path) -> str:
    text = runner.localise(command, stack).replace(METRICS_PORT_SHOWN, f"127.0.0.1:{metrics_port}")
    words = shlex.split(text)
    assert words[0] in PROGRAMS, f"`{command}`: the walk-through runs only {PROGRAMS}"
    program = words[0] if words[0] == "curl" else str(BIN / words[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIABETES_")}
    reloaded = reloads(stack)
    done = subprocess.run(
        [program, *words[1:]],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=runner.TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"`{command}` exited {done.returncode}: {done.stderr}"
    if words[0] == "diabetes-models" and words[1] in RELABELS:
        wait_until(lambda: reloads(stack) > reloaded, 30, f"the server reading `{command}`")
    return done.stdout


def reloads(stack: Stack) -> int:
    return sum(
        log_text(stack, f"server-{port}").count('"model reloaded"') for port in stack.server_ports
    )


def test_the_runbook_walkthrough_runs_and_prints_what_is_shown(tmp_path: Path) -> None:
    steps = walkthrough()
    assert len(steps) >= 2, "the runbook's roll-out walk-through is missing"
    write_csv(tmp_path / "clinic.csv")
    models = tmp_path / "models"
    subprocess.run(
        [str(BIN / "diabetes-models"), "add", "--repository", str(models), str(RAW_UNITS_ARTIFACT)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    metrics_port = free_port()
    with running_stack(
        servers=1,
        model_repository=models,
        metrics_ports=(metrics_port,),
        server_args=("--watch-model", "true"),
    ) as stack:
        for block, shown in steps:
            outputs = [
                run_step(command, stack, metrics_port, tmp_path)
                for command in runner.commands(block)
            ]
            if shown is not None:
                runner.check_output(shown, outputs[-1])
    labels = (models / "diabetes-bmi-raw" / "labels.json").read_text()
    assert '"stable": "bmi-raw-csv-1"' in labels
