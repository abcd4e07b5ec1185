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


# Allocate and free a 512 KiB block (under the mmap threshold: from the heap) many times,
# touching it each time, and print the page faults per round.
CHURN = """
import os
from server.malloc_tuning import tune_malloc
tune_malloc()
def faults():
    return int(open(f"/proc/{os.getpid()}/stat").read().rsplit(")", 1)[1].split()[7])
for _ in range(5):
    bytearray(512 * 1024)
before = faults()
for _ in range(200):
    bytearray(512 * 1024)
print((faults() - before) / 200)
"""


def _faults_per_round(env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHURN], capture_output=True, text=True, env=env, check=True
    )
    return float(done.stdout)


def test_freed_blocks_are_kept_for_the_next_call_not_faulted_in_again() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    # The tuned server keeps a freed block under its 16 MiB trim threshold...
    assert _faults_per_round(env) < 5
    # ...where glibc's 128 KiB default with a fixed mmap threshold (the server before the
    # trim threshold was set) faults each block's 128 pages in again every round.
    untrimmed = {**env, "MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_TRIM_THRESHOLD_": "131072"}
    assert _faults_per_round(untrimmed) > 50
