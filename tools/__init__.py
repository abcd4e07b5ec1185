"""The repository's own tooling, run from the checkout as modules (`python -m tools.docs`,
`python -m tools.delivery.deploy_config`, ...), so no tool edits `sys.path`."""
