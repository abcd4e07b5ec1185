"""Fenced blocks and links of the project's Markdown files, for the docs tests.

Conventions the docs follow (see docs/README.md):
- a block whose info string is `sh`, `python`, `go` or `java` (a whole program, run with the
  client built by `make go-client` / `make java-client`) is an example the tests run, unless its
  info string also says `norun` (commands for a cluster, a registry, a long-running
  process);
- a block whose info string ends in `output` (`json output`, `text output`) is what the
  runnable block just before it prints, and the tests compare the two;
- an `sh rollout` block is a step of the runbook's roll-out walk-through: run in order, in a
  folder of its own against a server on a model repository, by
  tests/docs/test_rollout_walkthrough.py (not by the shared stack's example test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`]*)$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<target>[^)\s]+)\)|!\[[^\]]*\]\((?P<image>[^)\s]+)\)")
RUNNABLE = {"sh", "python", "go", "java"}
# The flag of the roll-out walk-through's blocks (run by their own test).
ROLLOUT = "rollout"


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str
    flags: frozenset[str]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.language in RUNNABLE and "norun" not in self.flags

    @property
    def is_output(self) -> bool:
        return "output" in self.flags


# Documents whose examples their own suites keep true (tests/ops/, the benchmark).
CHECKED_ELSEWHERE = {"operations.md", "performance.md"}


def documents(*, all_of_them: bool = False) -> list[Path]:
    """The README and the documents under docs/ whose examples the docs tests run (with
    `all_of_them`, every document, e.g. for checking links)."""
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [p for p in found if all_of_them or p.name not in CHECKED_ELSEWHERE]


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        words = opening["info"].split()
        body: list[str] = []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        found.append(
            Block(
                path=path,
                line=index - len(body),
                language=words[0] if words else "",
                flags=frozenset(words[1:]),
                text="\n".join(body) + "\n",
            )
        )
        index += 1
    return found


def examples(paths: list[Path]) -> list[tuple[Block, Block | None]]:
    """Every runnable block with the output block that follows it, if any."""
    pairs: list[tuple[Block, Block | None]] = []
    for path in paths:
        found = blocks(path)
        for position, block in enumerate(found):
            if not block.runnable or ROLLOUT in block.flags:
                continue
            following = found[position + 1] if position + 1 < len(found) else None
            pairs.append((block, following if following and following.is_output else None))
    return pairs


def links(path: Path) -> list[str]:
    """Relative link targets outside code blocks (http(s) and mailto links are left out)."""
    text = path.read_text()
    text = re.sub(r"^ *```.*?^ *```", "", text, flags=re.DOTALL | re.MULTILINE)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = []
    for match in LINK.finditer(text):
        target = match["target"] or match["image"]
        if not re.match(r"^[a-z]+:", target):
            targets.append(target)
    return targets


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file, plus explicit `<a id>`s."""
    text = re.sub(r"^ *```.*?^ *```", "", path.read_text(), flags=re.DOTALL | re.MULTILINE)
    found = set(re.findall(r'<a id="([^"]+)"', text))
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        found.add(slug if seen == 0 else f"{slug}-{seen}")
    return found
