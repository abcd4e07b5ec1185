"""Import the docs generators (tools/docs/docgen, tools/docs/gen_docs.py) from the tests."""

from __future__ import annotations

import sys

from tests.docs.markdown import ROOT

TOOLS = ROOT / "tools" / "docs"
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

import gen_docs  # noqa: E402
from docgen import capacity, commands, errors, figures, limits, markers  # noqa: E402

__all__ = ["capacity", "commands", "errors", "figures", "gen_docs", "limits", "markers"]
