"""The documents with generated parts: docs/api.md and every generated section
(`python -m tools.docs` writes them, `--check` lists the stale ones).

docs/api.md comes from the contract and its template (gen_api.py). In every document below,
`<!-- generated:NAME -->...<!-- end -->` is re-rendered from where the fact lives:

- `flags:COMMAND`        the command's own argparse parser (docgen/commands.py)
- `limits:server|routes|envoy|shutdown`, `limit:...`  ServerConfig, the rendered Envoy
                         config, compose and the Kubernetes manifests (docgen/limits.py)
- `errors:requests|others`  the one list of errors the tests trigger (docgen/errors.py)
- `bench:...`, `complexity:...`  the committed runs in docs/results/ (docgen/figures.py)
- `abuse:...`            the abuse suite's committed run, docs/results/abuse.json (docgen/abuse.py)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tools.docs import gen_api
from tools.docs.docgen import abuse, commands, errors, figures, limits, markers

ROOT = Path(__file__).resolve().parents[2]

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
    "abuse": abuse.figure,
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


def write(documents: Sequence[str] = DOCUMENTS) -> list[str]:
    """Rewrite the stale documents; the ones written."""
    written = []
    for document in documents:
        text = expected(document)
        if (ROOT / document).read_text() != text:
            (ROOT / document).write_text(text)
            written.append(document)
    return written
