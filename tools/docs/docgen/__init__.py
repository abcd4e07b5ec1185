"""Renderers for the generated parts of the docs; `tools/docs/gen_docs.py` runs them."""
