"""Every example in README.md and docs/*.md runs against the real stack (server + Envoy)
and prints what the document says it prints, so no example goes stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.stack.stack import Stack
from tests.docs import runner
from tests.docs.markdown import ROOT, Block, anchors, blocks, documents, examples, links

EXAMPLES = examples(documents())


def test_the_docs_have_examples() -> None:
    runnable_files = {block.path.name for block, _ in EXAMPLES}
    assert {"README.md", "api.md", "runbook.md"} <= runnable_files


@pytest.mark.parametrize(("block", "shown"), EXAMPLES, ids=[b.where for b, _ in EXAMPLES])
def test_example_runs_and_prints_what_is_shown(
    stack: Stack, block: Block, shown: Block | None
) -> None:
    outputs = runner.run(block, stack)
    if shown is not None:
        runner.check_output(shown, outputs[-1])
        return
    if block.language != "sh":
        return
    # A JSON call shown without its answer must at least succeed.
    for command, output in zip(runner.commands(block), outputs, strict=True):
        if command.startswith("curl"):
            body = json.loads(output)
            assert not (isinstance(body, dict) and {"code", "message"} <= set(body)), (
                f"{block.where}: `{command}` got an error: {body}"
            )


def test_output_blocks_follow_a_runnable_example() -> None:
    for path in documents():
        found = blocks(path)
        for previous, block in zip([None, *found], found, strict=False):
            if block.is_output:
                where = f"{block.where}: an output block must follow a runnable example"
                assert previous is not None, where
                assert previous.runnable, where


def test_unrun_blocks_are_few_and_marked() -> None:
    """Blocks that are not run say so with `norun`; the bulk of examples do run."""
    norun = [b for path in documents() for b in blocks(path) if "norun" in b.flags]
    assert len(norun) < len(EXAMPLES)
    for block in norun:
        assert block.language == "sh", f"{block.where}: only shell blocks may be `norun`"


@pytest.mark.parametrize(
    "path", documents(all_of_them=True), ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_resolve(path: Path) -> None:
    for target in links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        assert destination.exists(), f"{path.name}: broken link {target}"
        assert ROOT in destination.parents or destination == ROOT
        if anchor and destination.suffix == ".md":
            assert anchor in anchors(destination), f"{path.name}: no anchor #{anchor} in {target}"
