"""Render Envoy's configuration from the repository's `envoy.yaml`.

`envoy.yaml` is the deployable default (upstream `server:50051`, public port 8080); this
module adapts it to other addresses and upstreams without a second copy of the config:

    python -m launcher.envoy_config --upstream 127.0.0.1:50051 --http-port 8080 -o out.yaml
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_CONFIG = PACKAGE_DIR / "envoy.yaml"
PAGE = PACKAGE_DIR / "static" / "index.html"
CLUSTER = "diabetes_grpc"


def descriptor_path() -> Path:
    return Path(str(resources.files("diabetes.v1") / "prediction_descriptor.pb"))


@dataclass(frozen=True)
class EnvoyOptions:
    upstreams: tuple[tuple[str, int], ...] = (("server", 50051),)
    listen_address: str = "0.0.0.0"
    http_port: int = 8080
    admin_port: int = 9901
    descriptor: Path | None = None
    page: Path | None = None


def render(options: EnvoyOptions) -> dict[str, Any]:
    """The Envoy config (as a dict) for these options."""
    config: dict[str, Any] = yaml.safe_load(BASE_CONFIG.read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = options.admin_port
    listener = config["static_resources"]["listeners"][0]
    listener["address"]["socket_address"] = {
        "address": options.listen_address,
        "port_value": options.http_port,
    }
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    transcoder = _http_filter(manager, "envoy.filters.http.grpc_json_transcoder")
    transcoder["proto_descriptor"] = str(options.descriptor or descriptor_path())
    for virtual_host in manager["route_config"]["virtual_hosts"]:
        for route in virtual_host["routes"]:
            if "direct_response" in route and route["match"].get("path") == "/":
                route["direct_response"]["body"] = {"filename": str(options.page or PAGE)}
    cluster = next(c for c in config["static_resources"]["clusters"] if c["name"] == CLUSTER)
    cluster["type"] = (
        "STATIC" if all(_is_ip(host) for host, _ in options.upstreams) else "STRICT_DNS"
    )
    cluster["load_assignment"]["endpoints"] = [
        {
            "lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                for host, port in options.upstreams
            ]
        }
    ]
    return config


def write(options: EnvoyOptions, path: Path) -> Path:
    path.write_text(yaml.safe_dump(render(options), sort_keys=False))
    return path


def _http_filter(manager: dict[str, Any], name: str) -> dict[str, Any]:
    for http_filter in manager["http_filters"]:
        if http_filter["name"] == name:
            config: dict[str, Any] = http_filter["typed_config"]
            return config
    raise KeyError(name)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render Envoy's config for the service.")
    parser.add_argument(
        "--upstream",
        action="append",
        type=parse_host_port,
        help="server HOST:PORT (repeat for several; default server:50051)",
    )
    parser.add_argument("--listen-address", default="0.0.0.0")
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--admin-port", type=int, default=9901)
    parser.add_argument("--descriptor", type=Path, help="descriptor set path as Envoy sees it")
    parser.add_argument("--page", type=Path, help="try-it page path as Envoy sees it")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    options = EnvoyOptions(
        upstreams=tuple(args.upstream or [("server", 50051)]),
        listen_address=args.listen_address,
        http_port=args.http_port,
        admin_port=args.admin_port,
        descriptor=args.descriptor,
        page=args.page,
    )
    if args.output:
        write(options, args.output)
    else:
        yaml.safe_dump(render(options), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
