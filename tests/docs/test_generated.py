"""Generated documentation is fresh: docs/api.md and every generated section are what the code
and the committed runs give, and each committed diagram was rendered from its current source.
(`make docs-check` also re-renders the diagrams, which needs Graphviz.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.docs.docgen_tools import gen_docs
from tests.docs.markdown import ROOT

TOOLS = ROOT / "tools" / "docs"
DIAGRAMS = sorted((ROOT / "docs" / "diagrams").glob("*.dot"))


def tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_tool_{name}", TOOLS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_generated_docs_are_fresh() -> None:
    """The same check as `make docs-check` (tools/docs/gen_docs.py --check), in process."""
    assert gen_docs.stale() == [], "run `make docs`"


def test_api_reference_covers_the_contract() -> None:
    gen_api = tool("gen_api")
    proto = gen_api.load_file()
    text = (ROOT / "docs" / "api.md").read_text()
    for service in proto.service:
        for method in service.method:
            assert f"#### `{method.name}`" in text
    for message in proto.message_type:
        assert f"### {message.name}\n" in text
        for field in message.field:
            assert f"| `{field.name}` |" in text


def test_there_are_two_diagrams() -> None:
    assert [dot.stem for dot in DIAGRAMS] == ["delivery", "request-path"]


@pytest.mark.parametrize("dot", DIAGRAMS, ids=lambda p: p.name)
def test_diagram_was_rendered_from_its_source(dot: Path) -> None:
    diagrams = tool("diagrams")
    svg = dot.with_suffix(".svg")
    assert svg.exists(), "run `make docs-diagrams`"
    found = diagrams.SOURCE_COMMENT.search(svg.read_text())
    assert found is not None
    assert found.group(1) == dot.name
    assert found.group(2) == diagrams.source_hash(dot), "run `make docs-diagrams`"
    assert diagrams.visible_text(svg), "the SVG draws nothing"
