"""Generated sections inside hand-written Markdown.

A section is `<!-- generated:NAME -->...<!-- end -->` (not inside backticks). On its own lines
it is a block (the text between the markers is replaced by what NAME renders); inside a line
it is inline (one figure or phrase). Everything outside the markers is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SECTION = re.compile(
    r"(?<!`)<!-- generated:(?P<name>[\w:./=-]+) -->(?P<body>.*?)<!-- end -->", re.DOTALL
)


def names(text: str) -> list[str]:
    return [found["name"] for found in SECTION.finditer(text)]


def fill(text: str, render: Callable[[str], str]) -> str:
    """`text` with every generated section re-rendered by `render(name)`."""

    def replace(found: re.Match[str]) -> str:
        name, body = found["name"], found["body"]
        rendered = render(name)
        if body.startswith("\n"):
            inner = "\n" + rendered.strip("\n") + "\n"
        else:
            if "\n" in rendered.strip():
                raise ValueError(f"inline section {name} rendered more than one line")
            inner = rendered.strip()
        return f"<!-- generated:{name} -->{inner}<!-- end -->"

    return SECTION.sub(replace, text)


def outside(text: str) -> str:
    """The text with every generated section and fenced code block removed."""
    text = SECTION.sub("", text)
    return re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
