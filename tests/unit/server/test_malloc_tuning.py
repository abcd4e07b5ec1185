"""The server tunes glibc's malloc (arenas, mmap threshold), unless the environment already does."""

from __future__ import annotations

import os
import subprocess
import sys

CAP = "from server.malloc_tuning import tune_malloc; print(tune_malloc())"


def _cap(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", CAP], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_malloc_is_tuned_on_glibc() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _cap(env) == "True"


def test_an_operators_malloc_arena_max_wins() -> None:
    assert _cap({**os.environ, "MALLOC_ARENA_MAX": "4"}) == "False"
