"""Render every generated part of the docs, or check that it is fresh: the one docs command.

    python tools/docs/gen_docs.py          # write docs/api.md and every generated section
    python tools/docs/gen_docs.py --check  # exit 1 if any of them is stale (`make check`)

docs/api.md comes from the contract and its template (gen_api.py). In every document below,
`<!-- generated:NAME -->...<!-- end -->` is re-rendered from where the fact lives:

- `flags:COMMAND`        the command's own argparse parser (docgen/commands.py)
- `limits:server|routes|envoy|shutdown`, `limit:...`  ServerConfig, the rendered Envoy
                         config, compose and the Kubernetes manifests (docgen/limits.py)
- `errors:requests|others`  the one list of errors the tests trigger (docgen/errors.py)
- `bench:...`, `complexity:...`  the committed runs in docs/results/ (docgen/figures.py)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import gen_api  # noqa: E402
from docgen import commands, errors, figures, limits, markers  # noqa: E402

DOCUMENTS = (
    "README.md",
    "docs/README.md",
    "docs/api.md",
    "docs/design.md",
    "docs/operations.md",
    "docs/runbook.md",
    "docs/performance.md",
    "docs/complexity.md",
    "deploy/README.md",
)

SECTIONS: dict[str, Callable[[str], str]] = {
    "flags": commands.render,
    "limits": lambda name: {
        "server": limits.render_server,
        "routes": limits.render_routes,
        "envoy": limits.render_envoy,
        "shutdown": limits.render_shutdown,
    }[name](),
    "limit": limits.figure,
    "errors": lambda name: {"requests": errors.render_requests, "others": errors.render_others}[
        name
    ](),
    "bench": figures.bench_figure,
    "complexity": figures.complexity_figure,
}


def render_section(name: str) -> str:
    kind, _, rest = name.partition(":")
    if kind not in SECTIONS:
        raise KeyError(f"unknown generated section {name!r}; known kinds: {sorted(SECTIONS)}")
    return SECTIONS[kind](rest)


def expected(document: str) -> str:
    """What the document must hold: its hand-written text with fresh generated sections."""
    if document == "docs/api.md":
        text = gen_api.render(gen_api.TEMPLATE.read_text(), gen_api.load_file())
    else:
        text = (ROOT / document).read_text()
    return markers.fill(text, render_section)


def stale(documents: Sequence[str] = DOCUMENTS) -> list[str]:
    return [d for d in documents if (ROOT / d).read_text() != expected(d)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated part is stale")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for document in found:
            print(f"{document} is stale; run `make docs`", file=sys.stderr)
        if not found:
            print(f"docs: {len(DOCUMENTS)} documents match the code and the committed runs")
        return 1 if found else 0
    for document in DOCUMENTS:
        text = expected(document)
        if (ROOT / document).read_text() != text:
            (ROOT / document).write_text(text)
            print(f"wrote {document}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
