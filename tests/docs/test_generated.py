"""Generated documentation is fresh: docs/api.md and every generated section are what the code
and the committed runs give, and each committed diagram was rendered from its current source.
(`make docs-check` compares the digests the SVGs record, without Graphviz.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docs.docgen_tools import diagrams, gen_api, gen_docs
from tests.docs.markdown import ROOT

DIAGRAMS = sorted((ROOT / "docs" / "diagrams").glob("*.dot"))


def test_generated_docs_are_fresh() -> None:
    """The documents' part of `make docs-check` (`python -m tools.docs --check`), in process."""
    assert gen_docs.stale() == [], "run `make docs`"


def test_api_reference_covers_the_contract() -> None:
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
    svg = dot.with_suffix(".svg")
    assert svg.exists(), "run `make docs`"
    found = diagrams.SOURCE_COMMENT.search(svg.read_text())
    assert found is not None
    assert found.group(1) == dot.name
    assert found.group(2) == diagrams.source_hash(dot), "run `make docs`"
    assert diagrams.visible_text(svg), "the SVG draws nothing"


def test_a_changed_diagram_source_is_caught_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "docs" / "diagrams", tmp_path / "docs" / "diagrams")
    monkeypatch.setattr(diagrams, "ROOT", tmp_path)
    monkeypatch.setattr(diagrams, "DIAGRAMS", tmp_path / "docs" / "diagrams")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to run
    assert diagrams.stale() == []
    dot = tmp_path / "docs" / "diagrams" / "delivery.dot"
    dot.write_text(dot.read_text() + "// one more line\n")
    assert diagrams.stale() == [
        "docs/diagrams/delivery.svg was not rendered from the current delivery.dot"
    ]
    with pytest.raises(SystemExit, match="Graphviz is not installed"):
        diagrams.write()


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz (make system-deps)")
@pytest.mark.parametrize("dot", DIAGRAMS, ids=lambda p: p.name)
def test_diagram_draws_what_a_fresh_render_draws(dot: Path, tmp_path: Path) -> None:
    """The SVG was not edited by hand: a fresh render has the same text in the same order
    (positions depend on the machine's fonts, so they are not compared)."""
    fresh = tmp_path / dot.with_suffix(".svg").name
    diagrams.render(dot, fresh)
    assert diagrams.visible_text(fresh) == diagrams.visible_text(dot.with_suffix(".svg"))
