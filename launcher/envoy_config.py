"""Render Envoy's configuration from the repository's `envoy.yaml`.

`envoy.yaml` is the deployable default (upstream `server:50051`, public port 8080); this
module adapts it to other addresses and upstreams without a second copy of the config:

    python -m launcher.envoy_config --upstream 127.0.0.1:50051 --http-port 8080 -o out.yaml

It also switches on what a public deployment needs and a local run does not (all off by
default): JWT authentication against a local JWKS file (`--jwks`), TLS termination
(`--tls-cert`/`--tls-key`), a per-client rate limit (`--rate-limit-rps`), a smaller request
body cap (`--max-request-bytes`), OpenTelemetry tracing (`--otlp-endpoint`) and a
stats-only listener for Prometheus (`--stats-port`).
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
    # JWT authentication (Envoy jwt_authn) on every public route but the try-it page, its
    # OpenAPI description and gRPC health, when a JWKS file is given: 401 JSON without a
    # valid bearer token.
    jwks: Path | None = None
    jwt_issuer: str | None = None
    jwt_audiences: tuple[str, ...] = ()
    # TLS termination on the public listener (PEM files as Envoy sees them).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Per-client (source address) token bucket: requests per second, 0 = off; 429 JSON.
    rate_limit_rps: int = 0
    rate_limit_burst: int = 0
    # Largest request body Envoy accepts (413 JSON above it); None keeps envoy.yaml's cap.
    max_request_bytes: int | None = None
    # Proxies in front of Envoy that append to X-Forwarded-For (the client address the rate
    # limit and the access log use is then taken from it).
    trusted_proxy_hops: int = 0
    # OpenTelemetry collector (OTLP/gRPC) HOST:PORT: Envoy starts or continues a trace per
    # request and passes `traceparent` on to the server.
    otlp_endpoint: tuple[str, int] | None = None
    # A listener that serves only GET /stats/prometheus (from the admin interface, which
    # stays on loopback), for a Prometheus outside Envoy's host or pod; 0 = none.
    stats_port: int = 0

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and a private key")
        if self.rate_limit_rps < 0 or self.rate_limit_burst < 0:
            raise ValueError("rate limits must not be negative")


JWT_PROVIDER = "clients"
# Reachable without a token when JWT is on: the try-it page and gRPC health (load balancers).
JWT_EXEMPT = ({"path": "/"}, {"path": "/openapi.json"}, {"prefix": "/grpc.health.v1.Health/"})
MAX_CLIENT_BUCKETS = 100_000
OTEL_CLUSTER = "opentelemetry_collector"
ADMIN_CLUSTER = "envoy_admin"
STATS_LISTENER = "stats"


def render(options: EnvoyOptions) -> dict[str, Any]:
    """The Envoy config (as a dict) for these options."""
    config: dict[str, Any] = yaml.safe_load(BASE_CONFIG.read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = options.admin_port
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "public")
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
            elif "direct_response" in route and route["match"].get("path") == "/openapi.json":
                # Beside the page: web/openapi.json (tools/docs/gen_openapi.py).
                openapi = (options.page or PAGE).parent / "openapi.json"
                route["direct_response"]["body"] = {"filename": str(openapi)}
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
    if options.max_request_bytes is not None:
        _http_filter(manager, "envoy.filters.http.buffer")["max_request_bytes"] = (
            options.max_request_bytes
        )
        transcoder["max_request_body_size"] = options.max_request_bytes
    if options.trusted_proxy_hops:
        manager["xff_num_trusted_hops"] = options.trusted_proxy_hops
    # Order matters: refuse over-limit clients first, then unauthenticated ones, before
    # any body is buffered or transcoded.
    front: list[dict[str, Any]] = []
    if options.rate_limit_rps:
        front.append(_rate_limit_filter(options.rate_limit_rps, options.rate_limit_burst))
    if options.jwks is not None:
        front.append(_jwt_filter(options))
    manager["http_filters"][:0] = front
    if options.tls_cert is not None and options.tls_key is not None:
        listener["filter_chains"][0]["transport_socket"] = _tls_socket(
            options.tls_cert, options.tls_key
        )
    if options.otlp_endpoint is not None:
        manager["tracing"] = _tracing()
        config["static_resources"]["clusters"].append(
            _static_cluster(OTEL_CLUSTER, *options.otlp_endpoint, http2=True)
        )
    _stats_listener(config, options)
    return config


def _stats_listener(config: dict[str, Any], options: EnvoyOptions) -> None:
    """Point envoy.yaml's stats-only listener at the admin port, or drop it."""
    resources = config["static_resources"]
    if not options.stats_port:
        resources["listeners"] = [x for x in resources["listeners"] if x["name"] != STATS_LISTENER]
        resources["clusters"] = [c for c in resources["clusters"] if c["name"] != ADMIN_CLUSTER]
        return
    listener = next(x for x in resources["listeners"] if x["name"] == STATS_LISTENER)
    listener["address"]["socket_address"] = {
        "address": options.listen_address,
        "port_value": options.stats_port,
    }
    admin = next(c for c in resources["clusters"] if c["name"] == ADMIN_CLUSTER)
    endpoint = admin["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    endpoint["address"]["socket_address"]["port_value"] = options.admin_port


def _rate_limit_filter(rps: int, burst: int) -> dict[str, Any]:
    """Local rate limit with one token bucket per client address (a descriptor entry with
    no value makes Envoy keep a bucket per distinct value, up to MAX_CLIENT_BUCKETS)."""
    always = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3"
            ".LocalRateLimit",
            "stat_prefix": "per_client",
            # The default bucket applies to requests no descriptor matched: effectively none.
            "token_bucket": {
                "max_tokens": 1_000_000_000,
                "tokens_per_fill": 1_000_000_000,
                "fill_interval": "1s",
            },
            "filter_enabled": always,
            "filter_enforced": always,
            # Native gRPC callers get RESOURCE_EXHAUSTED (as JSON callers get 429).
            "rate_limited_as_resource_exhausted": True,
            "rate_limits": [{"actions": [{"remote_address": {}}]}],
            "descriptors": [
                {
                    "entries": [{"key": "remote_address"}],
                    "token_bucket": {
                        "max_tokens": burst or 2 * rps,
                        "tokens_per_fill": rps,
                        "fill_interval": "1s",
                    },
                }
            ],
            "max_dynamic_descriptors": MAX_CLIENT_BUCKETS,
            "response_headers_to_add": [
                {
                    "header": {"key": "retry-after", "value": "1"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
        },
    }


def _jwt_filter(options: EnvoyOptions) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "local_jwks": {"filename": str(options.jwks)},
        # The token stops at Envoy; the server gets the caller's subject instead.
        "forward": False,
        "claim_to_headers": [{"header_name": "x-client-id", "claim_name": "sub"}],
    }
    if options.jwt_issuer:
        provider["issuer"] = options.jwt_issuer
    if options.jwt_audiences:
        provider["audiences"] = list(options.jwt_audiences)
    return {
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3"
            ".JwtAuthentication",
            "providers": {JWT_PROVIDER: provider},
            "rules": [
                *({"match": match} for match in JWT_EXEMPT),
                {"match": {"prefix": "/"}, "requires": {"provider_name": JWT_PROVIDER}},
            ],
        },
    }


def _tls_socket(cert: Path, key: Path) -> dict[str, Any]:
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3"
            ".DownstreamTlsContext",
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2"},
                # h2 for native gRPC and HTTP/2 JSON callers, http/1.1 for the rest.
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": str(cert)},
                        "private_key": {"filename": str(key)},
                    }
                ],
            },
        },
    }


def _tracing() -> dict[str, Any]:
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_CLUSTER}, "timeout": "1s"},
                "service_name": "diabetes-envoy",
            },
        }
    }


def _static_cluster(name: str, host: str, port: int, *, http2: bool) -> dict[str, Any]:
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": host, "port_value": port}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3"
                ".HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


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
    security = parser.add_argument_group("public exposure (all off by default)")
    security.add_argument("--jwks", type=Path, help="JWKS file: require a JWT on public routes")
    security.add_argument("--jwt-issuer", help="required `iss` claim")
    security.add_argument(
        "--jwt-audience", action="append", default=[], help="accepted `aud` (repeatable)"
    )
    security.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve TLS")
    security.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    security.add_argument(
        "--rate-limit-rps", type=int, default=0, help="requests/s per client address, 0 = off"
    )
    security.add_argument(
        "--rate-limit-burst", type=int, default=0, help="bucket size (default 2 x rps)"
    )
    security.add_argument(
        "--max-request-bytes", type=int, help="request body cap (default: envoy.yaml's 32 MiB)"
    )
    security.add_argument(
        "--trusted-proxy-hops",
        type=int,
        default=0,
        help="proxies in front of Envoy whose X-Forwarded-For entries are trusted",
    )
    security.add_argument(
        "--otlp-endpoint", type=parse_host_port, help="OpenTelemetry collector HOST:PORT"
    )
    security.add_argument(
        "--stats-port",
        type=int,
        default=0,
        help="port of a listener serving only GET /stats/prometheus (admin stays on loopback)",
    )
    args = parser.parse_args(argv)
    try:
        options = _options(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.output:
        write(options, args.output)
    else:
        yaml.safe_dump(render(options), sys.stdout, sort_keys=False)
    return 0


def _options(args: argparse.Namespace) -> EnvoyOptions:
    return EnvoyOptions(
        upstreams=tuple(args.upstream or [("server", 50051)]),
        listen_address=args.listen_address,
        http_port=args.http_port,
        admin_port=args.admin_port,
        descriptor=args.descriptor,
        page=args.page,
        jwks=args.jwks,
        jwt_issuer=args.jwt_issuer,
        jwt_audiences=tuple(args.jwt_audience),
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        rate_limit_rps=args.rate_limit_rps,
        rate_limit_burst=args.rate_limit_burst,
        max_request_bytes=args.max_request_bytes,
        trusted_proxy_hops=args.trusted_proxy_hops,
        otlp_endpoint=args.otlp_endpoint,
        stats_port=args.stats_port,
    )


if __name__ == "__main__":
    sys.exit(main())
