"""The one docs command: render every generated part of the docs, or check that none is stale.

    python -m tools.docs          # `make docs`: write what is stale (diagrams need Graphviz)
    python -m tools.docs --check  # `make docs-check` (in `make check`): exit 1 if any is stale

The parts: the documents with generated sections and docs/api.md (gen_docs.py), the OpenAPI
description web/openapi.json (gen_openapi.py), the diagrams' SVGs (diagrams.py: checked by
the source digest each SVG records, so the check needs no Graphviz) and the committed
complexity run (complexity_run.py: checked against itself; nothing is trained).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tools.docs import complexity_run, diagrams, gen_docs, gen_openapi

COMPLEXITY_RUN = complexity_run.COMMITTED_RUN.relative_to(complexity_run.ROOT)


@dataclass(frozen=True)
class Part:
    name: str
    stale: Callable[[], list[str]]
    # None for a part the command cannot write (a committed measurement: re-run it).
    write: Callable[[], list[str]] | None
    remedy: str = "run `make docs`"


PARTS = (
    Part("documents", gen_docs.stale, gen_docs.write),
    Part("OpenAPI description", gen_openapi.stale, gen_openapi.write),
    Part("diagrams", diagrams.stale, diagrams.write),
    Part(
        "complexity run",
        complexity_run.stale,
        None,
        f"re-measure: python -m tools.docs.measure_complexity --json {COMPLEXITY_RUN}",
    ),
)


def problems(parts: Sequence[Part]) -> list[str]:
    found = []
    for part in parts:
        for problem in part.stale():
            print(f"{problem}: stale; {part.remedy}", file=sys.stderr)
            found.append(problem)
    return found


def check(parts: Sequence[Part] = PARTS) -> int:
    if problems(parts):
        return 1
    print(f"docs: fresh ({', '.join(part.name for part in parts)})")
    return 0


def write(parts: Sequence[Part] = PARTS) -> int:
    """Write every part that is stale; a part that cannot be written is checked instead."""
    written = [path for part in parts if part.write for path in part.write()]
    for path in written:
        print(f"wrote {path}")
    if problems([part for part in parts if part.write is None]):
        return 1
    if not written:
        print("docs: nothing was stale")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.docs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="fail if a generated part is stale")
    args = parser.parse_args(argv)
    return check() if args.check else write()
