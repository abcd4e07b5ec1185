"""`python -m server` / `diabetes-server`: serve the model over gRPC."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from model.artifact import ArtifactError
from server.app import serve
from server.config import parse_config
from server.logs import configure_logging
from server.workers import run_workers


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    configure_logging(config.log_level)
    try:
        if config.workers > 1:
            return run_workers(config, serve)
        return serve(config)
    except (ArtifactError, OSError, ValueError) as exc:
        logging.getLogger("server").error("cannot start: %s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
