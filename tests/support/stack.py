"""The whole stack (servers + a real Envoy) on free loopback ports: Envoy binds port 0 (a
free port of its choosing, learnt from its admin API); each server gets a free port."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.stack.stack import Stack, StackOptions


@contextlib.contextmanager
def running_stack(servers: int = 1, **options: Any) -> Iterator[Stack]:
    """Start servers and Envoy (children's logs in a temporary folder); stop them after."""
    with tempfile.TemporaryDirectory(prefix="stack-logs-") as log_dir:
        stack = Stack(
            StackOptions(
                http_port=0,
                grpc_port=None,
                admin_port=0,
                servers=servers,
                log_dir=Path(log_dir),
                **options,
            )
        )
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


def log_text(stack: Stack, name: str) -> str:
    """A child's output so far: `envoy` or `server-<port>`."""
    assert stack.options.log_dir is not None
    return (stack.options.log_dir / f"{name}.log").read_text(errors="replace")
