# Documentation: everything in docs/ that the code or a committed run knows is generated, by
# one command (tools/docs, `python -m tools.docs`):
#   make docs            re-render every stale generated part: docs/api.md, the generated
#                        sections (flags, limits, errors, figures), web/openapi.json, and the
#                        SVG of each changed diagram (Graphviz, installed if missing)
#   make docs-check      fail if any of them is stale (run by `make check`; no Graphviz, no
#                        training: each SVG records its source's digest)
# The documented examples are run by tests/docs/ (part of `make test`).

SYSTEM_PACKAGES += graphviz
CHECK_TARGETS += docs-check

.PHONY: docs docs-check

## Re-render every stale generated part of the docs (api.md, sections, OpenAPI, diagrams).
docs: $(STAMP)
	bash tools/system-deps.sh graphviz
	$(PY) -m tools.docs

## Fail if a generated part of the docs or a diagram's SVG is stale (no Graphviz needed).
docs-check: $(STAMP)
	$(PY) -m tools.docs --check
