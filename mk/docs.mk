# Documentation: everything in docs/ that the code or a committed run knows is generated.
#   make docs            re-render every generated part: docs/api.md, the generated sections
#                        (flags, limits, errors, figures) in the docs, and the diagrams' SVGs
#   make docs-check      fail if any of them is stale (run by `make check`)
# The documented examples are run by tests/docs/ (part of `make test`).

SYSTEM_PACKAGES += graphviz
CHECK_TARGETS += docs-check

.PHONY: docs docs-text docs-diagrams docs-check

## Re-render every generated part of the docs (api.md, generated sections, figures, diagrams).
docs: docs-text docs-diagrams

## docs/api.md and the generated sections of the docs (tools/docs/gen_docs.py).
docs-text: $(STAMP)
	$(PY) tools/docs/gen_docs.py
	$(PY) tools/docs/gen_openapi.py

## Render docs/diagrams/*.dot to SVG (Graphviz).
docs-diagrams: $(STAMP)
	bash tools/system-deps.sh graphviz
	$(PY) tools/docs/diagrams.py

## Fail if a generated part of the docs or a rendered diagram is stale.
docs-check: $(STAMP)
	$(PY) tools/docs/gen_docs.py --check
	$(PY) tools/docs/gen_openapi.py --check
	$(PY) tools/docs/measure_complexity.py --check
	bash tools/system-deps.sh graphviz
	$(PY) tools/docs/diagrams.py --check
