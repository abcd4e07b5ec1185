"""Renderers for the generated sections of the docs; `tools/docs/gen_docs.py` runs them."""
