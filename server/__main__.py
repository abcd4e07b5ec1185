"""`python -m server` / `diabetes-server`: serve the model over gRPC.

One process per server; to use N cores on one machine, run N servers behind Envoy
(`diabetes-service --servers N`), as production runs one per pod."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from model.artifact import ArtifactError
from server.app import serve
from server.logs import configure_logging
from server.settings import build_parser, parse_config

# The exit code of a server that could not start serving.
STARTUP_FAILED = 2
# Start-up failures worth a clear message rather than a traceback.
STARTUP_ERRORS = (ArtifactError, OSError, ValueError)

# build_parser: the command's parser, beside its entry point, where the docs find it.
__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    configure_logging(config.log_level)
    try:
        if not config.metrics_port:
            return serve(config)
        from server.metrics import ServerMetrics, serve_process_metrics

        serve_process_metrics(config.metrics_address, config.metrics_port)
        return serve(config, ServerMetrics())
    except STARTUP_ERRORS as exc:
        logging.getLogger("server").error("cannot start: %s", exc)
        return STARTUP_FAILED


if __name__ == "__main__":
    sys.exit(main())
