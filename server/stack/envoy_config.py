"""Render Envoy's configuration from the repository's `envoy.yaml`.

`envoy.yaml` is the deployable default (upstream `server:50051`, public port 8080); this
module adapts it to other addresses and upstreams without a second copy of the config:

    python -m server.stack.envoy_config --upstream 127.0.0.1:50051 --http-port 8080 -o out.yaml

It also switches on what a public deployment needs and a local run does not (all off by
default): JWT authentication against a local JWKS file (`--jwks`), TLS termination
(`--tls-cert`/`--tls-key`), a per-caller rate limit (`--rate-limit-rps`, weighted by body
size with `--rate-limit-bytes-per-second`), a smaller request body cap (`--max-request-bytes`),
a heap cap (`--max-heap-bytes`), OpenTelemetry tracing (`--otlp-endpoint`), a stats-only
listener for Prometheus (`--stats-port`) and, for local use only, gRPC server reflection through
Envoy (`--grpc-reflection`).
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

from command_settings import Setting, SettingsParser, non_negative_int, port_number, positive_int
from server.config import ServerConfig

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_CONFIG = PACKAGE_DIR / "envoy.yaml"
PAGE = PACKAGE_DIR / "static" / "index.html"
CLUSTER = "diabetes_grpc"


def descriptor_path() -> Path:
    return Path(str(resources.files("diabetes.v1") / "prediction_descriptor.pb"))


@dataclass(frozen=True)
class EnvoyOptions:
    # The server as compose and Kubernetes name it, on the server's default port.
    upstreams: tuple[tuple[str, int], ...] = (("server", ServerConfig.port),)
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
    # Per-caller token buckets (the verified token's subject, else the client address, IPv6 by
    # /64): requests per second, 0 = off; 429 JSON. With JWT, each address also has a bucket
    # ADDRESS_SHARE times as large, checked before the token (failed logins count too).
    rate_limit_rps: int = 0
    rate_limit_burst: int = 0
    # A second bucket per caller, in bytes of request body (Content-Length): a large call costs
    # proportionally more than a small one; 0 = off. Its burst must hold the largest body.
    rate_limit_bytes_per_second: int = 0
    rate_limit_bytes_burst: int = 0
    # Largest request body Envoy accepts (413 JSON above it); None keeps envoy.yaml's cap.
    max_request_bytes: int | None = None
    # The overload manager's heap cap (Envoy refuses new requests near it); None keeps
    # envoy.yaml's. Size it against the memory limit of Envoy's container.
    max_heap_bytes: int | None = None
    # Route grpc.reflection.* to the servers (for grpcurl and the like); off in deployments,
    # where a held-open reflection stream would hold a server thread.
    grpc_reflection: bool = False
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
        limits = (
            self.rate_limit_rps,
            self.rate_limit_burst,
            self.rate_limit_bytes_per_second,
            self.rate_limit_bytes_burst,
        )
        if min(limits) < 0:
            raise ValueError("rate limits must not be negative")
        if self.rate_limit_bytes_per_second and not self.rate_limit_rps:
            raise ValueError("--rate-limit-bytes-per-second needs --rate-limit-rps")


JWT_PROVIDER = "clients"


def _method(path: str, method: str) -> dict[str, Any]:
    return {"path": path, "headers": [{"name": ":method", "string_match": {"exact": method}}]}


# Reachable without a token when JWT is on, by method and path: the try-it page, the OpenAPI
# document and gRPC
# health's one-shot check (load balancers). Every other method on these paths needs a token.
JWT_EXEMPT = (
    _method("/", "GET"),
    _method("/openapi.json", "GET"),
    _method("/grpc.health.v1.Health/Check", "POST"),
)
# The verified token's subject: a request header for the server (its access log), and
# dynamic metadata for Envoy's access log (`%DYNAMIC_METADATA(...:jwt_payload:sub)%`).
SUBJECT_HEADER = "x-jwt-subject"
JWT_PAYLOAD_METADATA = "jwt_payload"
REFLECTION_PREFIX = "/grpc.reflection."
TLS_HANDSHAKE_TIMEOUT = "10s"
MAX_CLIENT_BUCKETS = 100_000
# Callers behind one address (a NAT, an office) share this many callers' allowance in the
# per-address bucket that JWT's front line has.
ADDRESS_SHARE = 2
# IPv4 addresses count whole, IPv6 ones by /64 (what one client gets and can rotate within).
ADDRESS_MASK = {"v4_prefix_mask_len": 32, "v6_prefix_mask_len": 64}
# Bulk routes as callers spell them: a body sent there without Content-Length (chunked) is
# charged as one at the body cap, the most it can be.
BULK_PATHS = r"(/batch|/v2/models/[^?]*/infer)([/?].*)?"
OTEL_CLUSTER = "opentelemetry_collector"
ADMIN_CLUSTER = "envoy_admin"
STATS_LISTENER = "stats"
PUBLIC_LISTENER = "public"


def render(options: EnvoyOptions) -> dict[str, Any]:
    """The Envoy config (as a dict) for these options."""
    config: dict[str, Any] = yaml.safe_load(BASE_CONFIG.read_text())
    config["admin"]["address"]["socket_address"]["port_value"] = options.admin_port
    listeners = config["static_resources"]["listeners"]
    listener = next(x for x in listeners if x["name"] == PUBLIC_LISTENER)
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
        transcoder["max_request_body_size"] = options.max_request_bytes
    max_body = int(transcoder["max_request_body_size"])
    if options.max_heap_bytes is not None:
        _heap_monitor(config)["max_heap_size_bytes"] = options.max_heap_bytes
    if options.grpc_reflection:
        manager["route_config"]["virtual_hosts"][0]["routes"].append(_reflection_route())
    if options.trusted_proxy_hops:
        manager["xff_num_trusted_hops"] = options.trusted_proxy_hops
    # Order matters, and all of it comes before any body is buffered or transcoded (and after
    # the caller's own subject header is dropped): with JWT, over-limit addresses first, then
    # unauthenticated callers, then over-limit callers (by subject, which only a verified token
    # sets).
    front: list[dict[str, Any]] = []
    if options.rate_limit_rps and options.jwks is not None:
        front.append(_address_limit_filter(options))
    if options.jwks is not None:
        front.append(_jwt_filter(options))
    if options.rate_limit_rps:
        front.append(_caller_limit_filter(options, max_body))
    first_reader = next(
        index
        for index, each in enumerate(manager["http_filters"])
        if each["name"] in ("envoy.filters.http.lua", "envoy.filters.http.grpc_json_transcoder")
    )
    manager["http_filters"][first_reader:first_reader] = front
    if options.tls_cert is not None and options.tls_key is not None:
        chain = listener["filter_chains"][0]
        chain["transport_socket"] = _tls_socket(options.tls_cert, options.tls_key)
        # A TLS handshake that has not finished by then is closed (slow or idle handshakes
        # cannot hold connections).
        chain["transport_socket_connect_timeout"] = TLS_HANDSHAKE_TIMEOUT
    if options.otlp_endpoint is not None:
        manager["tracing"] = _tracing()
        config["static_resources"]["clusters"].append(
            _static_cluster(OTEL_CLUSTER, *options.otlp_endpoint, http2=True)
        )
    _stats_listener(config, options)
    return config


def _heap_monitor(config: dict[str, Any]) -> dict[str, Any]:
    for monitor in config["overload_manager"]["resource_monitors"]:
        if monitor["name"] == "envoy.resource_monitors.fixed_heap":
            typed: dict[str, Any] = monitor["typed_config"]
            return typed
    raise KeyError("envoy.yaml has no fixed_heap resource monitor")


def _reflection_route() -> dict[str, Any]:
    return {
        "match": {"prefix": REFLECTION_PREFIX},
        "route": {
            "cluster": CLUSTER,
            "timeout": "0s",
            "max_stream_duration": {"max_stream_duration": "300s"},
        },
    }


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


def _bucket(per_second: int, burst: int) -> dict[str, Any]:
    return {
        "max_tokens": burst or 2 * per_second,
        "tokens_per_fill": per_second,
        "fill_interval": "1s",
    }


def _local_rate_limit(
    stat_prefix: str, rate_limits: list[dict[str, Any]], descriptors: list[dict[str, Any]]
) -> dict[str, Any]:
    """Envoy's local rate limit: a token bucket per distinct value of each descriptor entry
    given no value (up to MAX_CLIENT_BUCKETS), 429 JSON with Retry-After."""
    always = {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    return {
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3"
            ".LocalRateLimit",
            "stat_prefix": stat_prefix,
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
            "rate_limits": rate_limits,
            "descriptors": descriptors,
            "max_dynamic_descriptors": MAX_CLIENT_BUCKETS,
            "response_headers_to_add": [
                {
                    "header": {"key": "retry-after", "value": "1"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
        },
    }


def _address_limit_filter(options: EnvoyOptions) -> dict[str, Any]:
    """Before JWT: a bucket per client address, ADDRESS_SHARE callers' worth, so requests
    with bad tokens are bounded too."""
    rps = ADDRESS_SHARE * options.rate_limit_rps
    burst = ADDRESS_SHARE * (options.rate_limit_burst or 2 * options.rate_limit_rps)
    return _local_rate_limit(
        "per_address",
        [{"actions": [{"masked_remote_address": ADDRESS_MASK}]}],
        [{"entries": [{"key": "masked_remote_address"}], "token_bucket": _bucket(rps, burst)}],
    )


def _caller_limit_filter(options: EnvoyOptions, max_body: int) -> dict[str, Any]:
    """A request bucket per caller, and (with --rate-limit-bytes-per-second) a byte bucket
    charged each request's Content-Length. The caller is the verified token's subject
    (`x-jwt-subject`, set only by jwt_authn), else the client address (token-free routes, or
    no JWT at all)."""
    bytes_burst = options.rate_limit_bytes_burst or 2 * options.rate_limit_bytes_per_second
    if options.rate_limit_bytes_per_second and bytes_burst < max_body:
        raise ValueError(
            f"the byte bucket ({bytes_burst} bytes) must hold the largest body ({max_body} "
            "bytes), or a call at the cap could never pass"
        )
    no_subject = {"name": SUBJECT_HEADER, "present_match": True, "invert_match": True}
    by_subject = {"header_name": SUBJECT_HEADER, "descriptor_key": "subject"}
    by_address = {"descriptor_key": "caller", "descriptor_value": "address"}
    callers: dict[str, list[dict[str, Any]]] = {
        "subject": [{"request_headers": by_subject}],
        "address": [
            {"header_value_match": {**by_address, "headers": [no_subject]}},
            {"masked_remote_address": ADDRESS_MASK},
        ],
    }
    caller_entries: dict[str, list[dict[str, str]]] = {
        "subject": [{"key": "subject"}],
        "address": [{"key": "caller", "value": "address"}, {"key": "masked_remote_address"}],
    }
    rate_limits: list[dict[str, Any]] = []
    descriptors: list[dict[str, Any]] = []
    for caller, actions in callers.items():
        rate_limits.append({"actions": [*actions, _cost("requests")]})
        descriptors.append(
            {
                "entries": [*caller_entries[caller], {"key": "cost", "value": "requests"}],
                "token_bucket": _bucket(options.rate_limit_rps, options.rate_limit_burst),
            }
        )
        if not options.rate_limit_bytes_per_second:
            continue
        sized = {"name": "content-length", "present_match": True}
        unsized_bulk = {"name": "content-length", "present_match": True, "invert_match": True}
        bulk_path = {"name": ":path", "string_match": {"safe_regex": {"regex": BULK_PATHS}}}
        rate_limits += [
            {
                "actions": [*actions, _cost("bytes", sized)],
                "hits_addend": {"format": "%REQ(content-length)%"},
            },
            {
                "actions": [*actions, _cost("bytes", unsized_bulk, bulk_path)],
                "hits_addend": {"number": max_body},
            },
        ]
        descriptors.append(
            {
                "entries": [*caller_entries[caller], {"key": "cost", "value": "bytes"}],
                "token_bucket": _bucket(options.rate_limit_bytes_per_second, bytes_burst),
            }
        )
    return _local_rate_limit("per_caller", rate_limits, descriptors)


def _cost(kind: str, *headers: dict[str, Any]) -> dict[str, Any]:
    """The descriptor entry naming a caller's bucket (`cost: requests|bytes`), appended only
    when every header matcher holds."""
    if not headers:
        return {"generic_key": {"descriptor_key": "cost", "descriptor_value": kind}}
    return {
        "header_value_match": {
            "descriptor_key": "cost",
            "descriptor_value": kind,
            "headers": list(headers),
        }
    }


def _jwt_filter(options: EnvoyOptions) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "local_jwks": {"filename": str(options.jwks)},
        # Only from the Authorization header: never `?access_token=`, which would end up in
        # access logs and browser histories.
        "from_headers": [{"name": "Authorization", "value_prefix": "Bearer "}],
        "require_expiration": True,
        # The token stops at Envoy; the server gets the caller's subject instead.
        "forward": False,
        "claim_to_headers": [{"header_name": SUBJECT_HEADER, "claim_name": "sub"}],
        "payload_in_metadata": JWT_PAYLOAD_METADATA,
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


def _local(flag: str, help: str, **kwargs: Any) -> Setting:
    """A renderer flag without an environment variable: `make deploy-config` must render the
    same files whatever the shell exports. Its default is EnvoyOptions' field."""
    name = flag.removeprefix("--").replace("-", "_")
    return Setting(flag, help, default=getattr(EnvoyOptions, name), env=None, **kwargs)


def build_parser() -> SettingsParser:
    parser = SettingsParser(
        prog="python -m server.stack.envoy_config",
        description="Render Envoy's config for the service.",
    )
    upstream = EnvoyOptions.upstreams[0]
    parser.add_argument(
        "--upstream",
        action="append",
        type=parse_host_port,
        help=f"server HOST:PORT (repeat for several; default {upstream[0]}:{upstream[1]})",
    )
    parser.add_setting(_local("--listen-address", "address of the public listener"))
    parser.add_setting(_local("--http-port", "public port: JSON and gRPC", type=port_number))
    parser.add_setting(_local("--admin-port", "admin port (loopback only)", type=port_number))
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
    parser.add_argument(
        "--grpc-reflection",
        action="store_true",
        help="route gRPC server reflection through Envoy (local use; off in deployments)",
    )
    for each in (
        _local(
            "--rate-limit-rps",
            "requests/s per caller (token subject, else address; IPv6 by /64), 0 = off",
            type=int,
        ),
        _local("--rate-limit-burst", "bucket size (0 = 2 x rps)", type=int),
        _local(
            "--rate-limit-bytes-per-second",
            "request body bytes/s per caller (Content-Length), 0 = off",
            type=non_negative_int,
        ),
        _local(
            "--rate-limit-bytes-burst",
            "byte bucket size (0 = 2 x bytes/s); must hold the largest body",
            type=non_negative_int,
        ),
        _local(
            "--max-request-bytes",
            "request body cap (none = envoy.yaml's 32 MiB)",
            type=positive_int,
        ),
        _local(
            "--trusted-proxy-hops",
            "proxies in front of Envoy whose X-Forwarded-For entries are trusted",
            type=non_negative_int,
        ),
        _local(
            "--otlp-endpoint", "OpenTelemetry collector HOST:PORT, none = off", type=parse_host_port
        ),
        _local(
            "--max-heap-bytes",
            "overload manager's heap cap (none = envoy.yaml's); fit it in Envoy's memory limit",
            type=positive_int,
        ),
        _local(
            "--stats-port",
            "port of a listener serving only GET /stats/prometheus (admin stays on loopback), "
            "0 = none",
            type=port_number,
        ),
    ):
        parser.add_setting(each, security)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
        upstreams=tuple(args.upstream or EnvoyOptions.upstreams),
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
        rate_limit_bytes_per_second=args.rate_limit_bytes_per_second,
        rate_limit_bytes_burst=args.rate_limit_bytes_burst,
        max_request_bytes=args.max_request_bytes,
        max_heap_bytes=args.max_heap_bytes,
        grpc_reflection=args.grpc_reflection,
        trusted_proxy_hops=args.trusted_proxy_hops,
        otlp_endpoint=args.otlp_endpoint,
        stats_port=args.stats_port,
    )


if __name__ == "__main__":
    sys.exit(main())
