"""The generated Envoy configs (tools/delivery/deploy_config.py), and the same configs moved
onto loopback so that the host's Envoy can validate and run them unchanged otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.processes import ROOT

# Run as `python -m` from the checkout, like `make deploy-config`.
DEPLOY_CONFIG = "tools.delivery.deploy_config"
BASE = ROOT / "deploy" / "base" / "envoy" / "envoy.yaml"
K8S_PRODUCTION = ROOT / "deploy" / "overlays" / "production" / "envoy" / "envoy.yaml"
COMPOSE_PRODUCTION = ROOT / "deploy" / "compose" / "envoy-production.yaml"
GENERATED_CONFIGS = (BASE, K8S_PRODUCTION, COMPOSE_PRODUCTION)
PLACEHOLDER_JWKS = ROOT / "deploy" / "overlays" / "production" / "jwks.json"
# Where the configs expect their files (the ConfigMaps' and compose's mount points).
MOUNTS = ("/etc/envoy/", "/etc/jwks/")

Config = dict[str, Any]


def load(path: Path) -> Config:
    config: Config = yaml.safe_load(path.read_text())
    return config


def listener(config: Config, name: str) -> Config:
    found: Config = next(x for x in config["static_resources"]["listeners"] if x["name"] == name)
    return found


def cluster(config: Config, name: str) -> Config:
    found: Config = next(c for c in config["static_resources"]["clusters"] if c["name"] == name)
    return found


def connection_manager(config: Config) -> Config:
    manager: Config = listener(config, "public")["filter_chains"][0]["filters"][0]["typed_config"]
    return manager


def http_filter(config: Config, name: str) -> Config:
    for candidate in connection_manager(config)["http_filters"]:
        if candidate["name"] == f"envoy.filters.http.{name}":
            typed: Config = candidate["typed_config"]
            return typed
    raise AssertionError(f"no {name} filter")


def jwt_claims(config: Config) -> dict[str, Any]:
    """The `iss` and `aud` a token needs for this config's JWT provider."""
    (provider,) = http_filter(config, "jwt_authn")["providers"].values()
    return {"iss": provider["issuer"], "aud": provider["audiences"][0]}


def relocate(value: Any, mounts: Mapping[str, Path]) -> Any:
    """`value` with every path under a mount point (e.g. "/etc/envoy/") moved to a directory."""
    if isinstance(value, dict):
        return {key: relocate(item, mounts) for key, item in value.items()}
    if isinstance(value, list):
        return [relocate(item, mounts) for item in value]
    if isinstance(value, str):
        for mount, directory in mounts.items():
            if value.startswith(mount):
                return str(directory / value.removeprefix(mount))
    return value


def on_loopback(
    config: Config, *, upstream_port: int, http_port: int, admin_port: int, stats_port: int
) -> Config:
    """The config with its listeners on 127.0.0.1 free ports and one upstream on loopback."""
    config["admin"]["address"]["socket_address"]["port_value"] = admin_port
    for name, port in (("public", http_port), ("stats", stats_port)):
        listener(config, name)["address"]["socket_address"] = {
            "address": "127.0.0.1",
            "port_value": port,
        }
    upstream = cluster(config, "diabetes_grpc")
    upstream["type"] = "STATIC"
    (endpoints,) = upstream["load_assignment"]["endpoints"]
    (host,) = endpoints["lb_endpoints"]
    host["endpoint"]["address"]["socket_address"] = {
        "address": "127.0.0.1",
        "port_value": upstream_port,
    }
    admin = cluster(config, "envoy_admin")["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
    admin["endpoint"]["address"]["socket_address"]["port_value"] = admin_port
    return config
