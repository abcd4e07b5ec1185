"""The no-op server behind the service's own Envoy configuration: the ceiling for JSON
calls, which pay for Envoy's transcoding however fast the server is.

Usage: python -m bench.noop_stack GRPC_PORT HTTP_PORT ADMIN_PORT   (stops on SIGTERM)
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from server.stack.envoy_config import EnvoyOptions, write
from server.stack.stack import envoy_command


def main(argv: list[str]) -> int:
    grpc_port, http_port, admin_port = (int(arg) for arg in argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with tempfile.TemporaryDirectory(prefix="bench-noop-envoy-") as tmp:
        config = write(
            EnvoyOptions(
                upstreams=(("127.0.0.1", grpc_port),),
                listen_address="127.0.0.1",
                http_port=http_port,
                admin_port=admin_port,
            ),
            Path(tmp) / "envoy.yaml",
        )
        children = [
            subprocess.Popen([sys.executable, "-m", "bench.noop_server", str(grpc_port)]),
            subprocess.Popen(envoy_command(config), stdout=subprocess.DEVNULL),
        ]
        while not stop.wait(0.2):
            if any(child.poll() is not None for child in children):
                break
        for child in children:
            child.terminate()
        for child in children:
            child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
