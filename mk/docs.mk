# Documentation: the API reference generated from the contract, the diagrams, their checks.
#   make docs            regenerate docs/api.md and the diagrams' SVGs
#   make docs-diagrams   render docs/diagrams/*.dot to SVG (Graphviz)
#   make docs-check      fail if docs/api.md or a rendered diagram is stale (run by `make ci`)
# The documented examples are run by tests/docs/ (part of `make test`).

SYSTEM_PACKAGES += graphviz
CI_TARGETS += docs-check

.PHONY: docs docs-api docs-diagrams docs-check

## Regenerate docs/api.md (from the contract) and the diagrams.
docs: docs-api docs-diagrams

docs-api: $(STAMP)
	$(PY) tools/docs/gen_api.py

docs-diagrams: $(STAMP)
	bash tools/system-deps.sh graphviz
	$(PY) tools/docs/diagrams.py

docs-check: $(STAMP)
	bash tools/system-deps.sh graphviz
	$(PY) tools/docs/gen_api.py --check
	$(PY) tools/docs/diagrams.py --check
