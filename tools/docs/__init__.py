"""The docs tooling, one package with one command: `python -m tools.docs` (`make docs`)
renders every generated part of the docs, `python -m tools.docs --check` (`make docs-check`)
fails if one is stale. See tools/docs/command.py."""
