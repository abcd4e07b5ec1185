"""Every limit and timeout a caller or an operator meets, read from where it is set: the
server's defaults (`ServerConfig`), the Envoy config the stack and deployments render, and the
shutdown timings of each deployment (compose, Kubernetes)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tools.docs.docgen.tables import code, size, table

ROOT = Path(__file__).resolve().parents[3]
GRPC_PATH = re.compile(r"^/[A-Za-z_][\w]*\.")
COMPOSE = ROOT / "docker-compose.yml"
K8S_SERVER = ROOT / "deploy" / "base" / "server-deployment.yaml"
K8S_ENVOY = ROOT / "deploy" / "base" / "envoy-deployment.yaml"

# (ServerConfig field, what it bounds); the value and flag come from the server itself.
SERVER_LIMITS = (
    ("max_batch_records", "records in one `PredictBatch` call (either form)"),
    ("batch_chunk_records", "predictions per reply chunk of `PredictBatch`"),
    ("max_receive_message_bytes", "one gRPC request message"),
    ("max_send_message_bytes", "one gRPC reply message"),
    ("threads", "calls handled at once per server process"),
    ("max_concurrent_rpcs", "calls running or queued per process (RESOURCE_EXHAUSTED above)"),
    (
        "max_small_request_bytes",
        "one request of a method that takes no bulk (health, reflection, metadata, "
        "`GetModelInfo`, `Predict`, `POST /stream`), refused unparsed above",
    ),
    (
        "max_traffic_calls",
        "prediction calls running or queued per process (0: `--max-concurrent-rpcs` − 8; "
        "RESOURCE_EXHAUSTED above, before receipt)",
    ),
    (
        "max_bulk_calls",
        "bulk calls at once per process, before receipt (0: as many largest requests as "
        "the memory budget holds; RESOURCE_EXHAUSTED above)",
    ),
    (
        "memory_budget_bytes",
        "memory the calls in flight may reserve (0: the cgroup limit − "
        "`--memory-baseline-bytes`; RESOURCE_EXHAUSTED above)",
    ),
    ("grace_period", "seconds in-flight calls get to finish after SIGTERM"),
    ("shutdown_delay", "seconds a server reports NOT_SERVING before it stops taking calls"),
)


def server_config() -> Any:
    from server.config import ServerConfig  # the one declaration of the server's defaults

    return ServerConfig()


def envoy_config() -> dict[str, Any]:
    """The config the local stack renders (the same routes and limits as envoy.yaml)."""
    from server.stack.envoy_config import EnvoyOptions, render

    return render(EnvoyOptions())


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _value(field: str, value: object) -> str:
    if field.endswith("_bytes") and isinstance(value, int):
        return size(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g} s"
    return str(value)


def render_server() -> str:
    config = server_config()
    fields = {f.name for f in dataclasses.fields(config)}
    rows = []
    for field, meaning in SERVER_LIMITS:
        if field not in fields:
            raise KeyError(f"ServerConfig has no field {field!r}; update docgen.limits")
        rows.append([meaning, _value(field, getattr(config, field)), code(_flag(field))])
    return table(["Limit", "Default", "Set with"], rows)


def _public(config: Mapping[str, Any]) -> dict[str, Any]:
    listener = next(x for x in config["static_resources"]["listeners"] if x["name"] == "public")
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return {"listener": listener, "manager": manager}


def _filter(manager: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = next(f for f in manager["http_filters"] if f["name"] == name)
    config: Mapping[str, Any] = found["typed_config"]
    return config


def routes(config: Mapping[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """The public routes that reach the server, as plain facts (what the docs and tests use)."""
    manager = _public(config or envoy_config())["manager"]
    for host in manager["route_config"]["virtual_hosts"]:
        for route in host["routes"]:
            match = route["match"].get("path") or route["match"].get("prefix", "")
            if "safe_regex" in route["match"]:
                # "/a\\.B/(C|D)" reads /a.B/{C,D}
                regex = route["match"]["safe_regex"]["regex"].replace("\\.", ".")
                match = regex.replace("(", "{").replace(")", "}").replace("|", ",")
            if "route" not in route or not GRPC_PATH.match(match):
                continue  # the page, and JSON paths (matched again after transcoding)
            action = route["route"]
            retry = action.get("retry_policy", {})
            predicates = [
                p["name"].rsplit(".", 1)[-1] for p in retry.get("retry_host_predicate", [])
            ]
            stream = action.get("max_stream_duration", {}).get("max_stream_duration", "")
            yield {
                "match": match if "prefix" not in route["match"] else match + "*",
                "timeout": action.get("timeout", "15s"),
                "max_stream_duration": stream,
                "retry_on": [x for x in retry.get("retry_on", "").split(",") if x],
                "num_retries": retry.get("num_retries", 0),
                "per_try_timeout": retry.get("per_try_timeout", ""),
                "host_predicates": predicates,
            }


def _duration(text: str) -> str:
    return "none" if text in ("0s", "") else text.replace("s", " s")


def render_routes() -> str:
    rows = []
    for route in routes():
        retries = (
            f"{route['num_retries']} on {', '.join(code(x) for x in route['retry_on'])}"
            if route["retry_on"]
            else "none"
        )
        if route["per_try_timeout"]:
            retries += f", {_duration(route['per_try_timeout'])} per try"
        if "previous_hosts" in route["host_predicates"]:
            retries += ", each on another host"
        rows.append(
            [
                code(route["match"]),
                _duration(route["timeout"]),
                _duration(route["max_stream_duration"]),
                retries,
            ]
        )
    return table(["Envoy route (gRPC path)", "Timeout", "Longest stream", "Retries"], rows)


def envoy_limits(config: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
    config = config or envoy_config()
    public = _public(config)
    manager, listener = public["manager"], public["listener"]
    transcoder = _filter(manager, "envoy.filters.http.grpc_json_transcoder")
    cluster = config["static_resources"]["clusters"][0]
    check = cluster["health_checks"][0]
    outlier = cluster["outlier_detection"]
    common = manager["common_http_protocol_options"]
    http2 = manager["http2_protocol_options"]
    overload = config["overload_manager"]
    monitors = {
        m["name"].rsplit(".", 1)[-1]: m["typed_config"] for m in overload["resource_monitors"]
    }
    triggers = {a["name"].rsplit(".", 1)[-1]: a["triggers"][0] for a in overload["actions"]}
    actions = {name: t["threshold"]["value"] for name, t in triggers.items() if "threshold" in t}
    reset = triggers["reset_high_memory_stream"]["scaled"]
    tracked = 2 ** overload["buffer_factory_config"]["minimum_account_to_track_power_of_two"]
    heap = monitors["fixed_heap"]["max_heap_size_bytes"]
    connections = monitors["global_downstream_max_connections"]
    shed = min(p["triggers"][0]["threshold"]["value"] for p in overload["loadshed_points"])
    small_body = _filter(manager, "envoy.filters.http.buffer")["max_request_bytes"]
    from server.stack.envoy_config import TLS_HANDSHAKE_TIMEOUT  # set when TLS is on

    return [
        (
            "JSON request body (buffered by the transcoder, only on routes that take one, "
            "after authentication; 413 above)",
            size(transcoder["max_request_body_size"]),
        ),
        (
            "request body on a route that takes no bulk (gRPC health, the OIP metadata, ready "
            "and live routes, `GetModelInfo`, `Predict`, `POST /stream`; held whole by Envoy, "
            "413 or `RESOURCE_EXHAUSTED` above, never forwarded)",
            size(small_body),
        ),
        ("JSON reply body the transcoder builds", size(transcoder["max_response_body_size"])),
        ("buffer per client connection", size(listener["per_connection_buffer_limit_bytes"])),
        (
            "try-it page (direct response)",
            size(manager["route_config"]["max_direct_response_body_size_bytes"]),
        ),
        (
            "request headers, the URL included (431, code 3 INVALID_ARGUMENT above)",
            size(manager["max_request_headers_kb"] * 1024),
        ),
        ("request headers to arrive", _duration(manager["request_headers_timeout"])),
        ("whole request to arrive", _duration(manager["request_timeout"])),
        ("idle stream (nothing sent either way)", _duration(manager["stream_idle_timeout"])),
        ("idle connection (no request in flight)", _duration(common["idle_timeout"])),
        (
            "longest request or stream (unless its route says less)",
            _duration(common["max_stream_duration"]),
        ),
        ("TLS handshake (when Envoy terminates TLS)", _duration(TLS_HANDSHAKE_TIMEOUT)),
        ("HTTP/2 streams per client connection", f"{http2['max_concurrent_streams']:,}"),
        (
            "HTTP/2 flow-control windows",
            f"{size(http2['initial_stream_window_size'])} per stream, "
            f"{size(http2['initial_connection_window_size'])} per connection",
        ),
        (
            "open client connections (overload manager)",
            f"{connections['max_active_downstream_connections']:,}",
        ),
        (
            "Envoy heap (overload manager)",
            f"{size(heap)}: from {reset['scaling_threshold']:.0%} the HTTP/2 streams holding "
            f"the most buffered memory are reset, largest first (every stream holding "
            f"{size(tracked)} or more by {reset['saturation_threshold']:.0%}); from {shed:.0%} "
            "an HTTP/1.1 connection that sends more is answered 503 and closed, and new "
            f"requests get 503 (load shed points); free memory returned above "
            f"{actions['shrink_heap']:.0%}, every new request refused (503) above "
            f"{actions['stop_accepting_requests']:.0%}",
        ),
        ("connect to a server", _duration(cluster["connect_timeout"])),
        (
            "health check of each server",
            f"every {_duration(check['interval'])}, timeout {_duration(check['timeout'])}, "
            f"{check['unhealthy_threshold']} failures in a row mark it unhealthy",
        ),
        (
            "outlier ejection",
            f"after {outlier['consecutive_gateway_failure']} consecutive gateway failures, "
            f"{_duration(outlier['base_ejection_time'])} base, at most "
            f"{outlier['max_ejection_percent']}% of the servers",
        ),
    ]


def render_envoy() -> str:
    return table(["Envoy limit", "Value"], [list(row) for row in envoy_limits()])


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    env = container.get("environment") or container.get("env") or {}
    if isinstance(env, list):
        return {item["name"]: str(item.get("value", "")) for item in env}
    return {key: str(value) for key, value in env.items()}


def _seconds(text: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)s?", str(text).strip())
    if not found:
        raise ValueError(f"not a duration in seconds: {text!r}")
    return float(found[1])


def shutdown_timings() -> dict[str, dict[str, float]]:
    """Per deployment: the server's NOT_SERVING delay, its drain, and what the platform allows."""
    default = server_config()
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["server"]
    compose_env = _env(compose)
    k8s = yaml.safe_load(K8S_SERVER.read_text())["spec"]["template"]["spec"]
    k8s_env = _env(k8s["containers"][0])
    envoy = yaml.safe_load(K8S_ENVOY.read_text())["spec"]["template"]["spec"]
    return {
        "local stack (`make run`)": {
            "delay": default.shutdown_delay,
            "grace": default.grace_period,
        },
        "compose (`docker-compose.yml`)": {
            "delay": float(compose_env.get("DIABETES_SHUTDOWN_DELAY", default.shutdown_delay)),
            "grace": float(compose_env.get("DIABETES_GRACE_PERIOD", default.grace_period)),
            "stop": _seconds(compose["stop_grace_period"]),
        },
        "Kubernetes (`deploy/base`)": {
            "delay": float(k8s_env.get("DIABETES_SHUTDOWN_DELAY", default.shutdown_delay)),
            "grace": float(k8s_env.get("DIABETES_GRACE_PERIOD", default.grace_period)),
            "stop": float(k8s["terminationGracePeriodSeconds"]),
            "envoy_pre_stop": float(
                envoy["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
            ),
        },
    }


def render_shutdown() -> str:
    rows = []
    for name, t in shutdown_timings().items():
        stop = f"{t['stop']:g} s" if "stop" in t else "until the stack stops (Ctrl-C)"
        rows.append([name, f"{t['delay']:g} s", f"{t['grace']:g} s", stop])
    return table(
        [
            "Deployment",
            "NOT_SERVING delay (`--shutdown-delay`)",
            "Drain (`--grace-period`)",
            "Platform waits",
        ],
        rows,
    )


def figure(name: str) -> str:
    """One value for running text: `limit:server.FIELD`, `limit:shutdown.DEPLOYMENT.KEY`."""
    kind, _, rest = name.partition(".")
    if kind == "server":
        return _value(rest, getattr(server_config(), rest))
    if kind == "shutdown":
        deployment, _, key = rest.partition(".")
        for label, timings in shutdown_timings().items():
            if label.lower().startswith(deployment):
                return f"{timings[key]:g} s"
    if kind == "healthcheck":
        check = envoy_config()["static_resources"]["clusters"][0]["health_checks"][0]
        return _duration(check[rest])
    raise KeyError(f"no limit figure {name!r}")
