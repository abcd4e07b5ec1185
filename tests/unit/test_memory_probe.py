"""The peak-memory probe the abuse suite reads: it sees an allocation and its reset works."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.memory import peak_growth, peak_rss_bytes, reset_peak_rss, rss_bytes

ALLOCATE = (
    "import sys; b = bytearray(64 << 20); del b; sys.stdout.write('done\\n'); sys.stdin.read()"
)


def test_a_child_allocating_64_mib_shows_in_its_peak_growth() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; sys.stdout.write('up\\n'); sys.stdout.flush(); "
            "sys.stdin.readline(); " + ALLOCATE,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        assert child.stdout.readline() == "up\n"
        with peak_growth(child.pid) as growth:
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "done\n"
        assert growth.bytes >= 60 << 20
        reset_peak_rss(child.pid)
        assert peak_rss_bytes(child.pid) < rss_bytes(child.pid) + (8 << 20)
    finally:
        child.kill()
        child.wait()


def test_our_own_peak_is_readable() -> None:
    assert peak_rss_bytes(os.getpid()) >= rss_bytes(os.getpid()) > 0
