"""glibc's malloc, tuned for a server whose calls hold large, short-lived bodies.

Two habits of glibc's malloc keep memory that calls have freed, so a server's resident set
grows far past what its calls hold at once (two servers with a 256 MiB budget peaked at
459-535 MiB under sixteen concurrent maximal `/batch` bodies):
- each thread gets a malloc arena of its own (up to 8 per core), and every arena keeps what
  it once held: capped here at two;
- the threshold above which an allocation is its own mapping (given back on free) rises
  with every large block freed, up to 32 MiB, so after the first large body the next ones
  come from an arena and stay: fixed here at 1 MiB, so bodies and large arrays are mapped
  and unmapped.
The memory bound (docs/design.md, "Bounded by construction") assumes both.

Fixing the mmap threshold also stops glibc raising the trim threshold with it, so an arena
gave back every free 128 KiB at its top after each call and faulted it in again on the
next: 14 page faults per 10,000-record PredictBatch, 552 per 100,000-record one, and 4.9
against 2.9 ms of CPU per call at 100,000 records. The trim threshold is set here to 16 MiB
(at most that much free memory kept per arena, 32 MiB with two).
"""

from __future__ import annotations

import ctypes
import os

# mallopt's parameter numbers (glibc's malloc.h).
M_ARENA_MAX = -8
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
SERVER_ARENAS = 2
MMAP_THRESHOLD_BYTES = 1 << 20
TRIM_THRESHOLD_BYTES = 16 << 20
# The environment variables through which an operator sets any of them instead.
ENVIRONMENT = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_malloc() -> bool:
    """Cap the arenas and fix the mmap and trim thresholds, unless the environment already
    sets any of them (the operator's choice wins); False where that was not done (set by the
    environment, or not glibc). Call it before the server starts its threads."""
    if any(name in os.environ for name in ENVIRONMENT):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    arenas = mallopt(M_ARENA_MAX, SERVER_ARENAS)
    threshold = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    trim = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return bool(arenas and threshold and trim)
