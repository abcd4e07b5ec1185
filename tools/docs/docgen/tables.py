"""Markdown tables and number formatting shared by the renderers."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") or " " for cell in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def seconds(value: float) -> str:
    return f"{value:g} s"


def size(n_bytes: int) -> str:
    """Bytes, with the MiB or KiB figure when it is a whole number of them."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n_bytes >= factor and n_bytes % factor == 0:
            return f"{n_bytes:,} bytes ({n_bytes // factor} {unit})"
    return f"{n_bytes:,} bytes"
