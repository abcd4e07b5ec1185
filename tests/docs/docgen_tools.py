"""The docs generators (the `tools.docs` package), by the names the tests use."""

from __future__ import annotations

from tools.docs import command, diagrams, gen_api, gen_docs
from tools.docs.docgen import abuse, capacity, commands, errors, figures, limits, markers

__all__ = [
    "abuse",
    "capacity",
    "command",
    "commands",
    "diagrams",
    "errors",
    "figures",
    "gen_api",
    "gen_docs",
    "limits",
    "markers",
]
