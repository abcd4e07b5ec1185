"""The Envoy renderer's public-exposure options: off by default, in the right filter order
when on, and accepted by Envoy itself (`envoy --mode validate`)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest
import yaml

from server.stack.envoy_config import EnvoyOptions, main, render
from server.stack.processes import Process, start
from server.stack.stack import bound_ports, envoy_binary
from tests.support.credentials import SigningKey, write_self_signed_certificate


def _filters(config: dict[str, Any]) -> list[str]:
    public = next(x for x in config["static_resources"]["listeners"] if x["name"] == "public")
    manager = public["filter_chains"][0]["filters"][0]["typed_config"]
    return [f["name"].rsplit(".", 1)[-1] for f in manager["http_filters"]]


def test_defaults_add_nothing_for_public_exposure() -> None:
    config = render(EnvoyOptions(upstreams=(("127.0.0.1", 50051),)))
    assert _filters(config) == [
        "header_mutation",
        "lua",
        "buffer",
        "grpc_json_transcoder",
        "router",
    ]
    assert [x["name"] for x in config["static_resources"]["listeners"]] == ["public"]
    assert [c["name"] for c in config["static_resources"]["clusters"]] == ["diabetes_grpc"]
    assert "transport_socket" not in config["static_resources"]["listeners"][0]["filter_chains"][0]


def test_rate_limit_then_auth_before_anything_reads_the_body(tmp_path: Path) -> None:
    config = render(
        EnvoyOptions(jwks=tmp_path / "jwks.json", rate_limit_rps=10, otlp_endpoint=("otel", 4317))
    )
    # The address before the token (bad tokens count), the subject after it.
    assert _filters(config)[:7] == [
        "header_mutation",
        "local_ratelimit",
        "jwt_authn",
        "local_ratelimit",
        "lua",
        "buffer",
        "grpc_json_transcoder",
    ]
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    assert clusters["opentelemetry_collector"]["type"] == "STRICT_DNS"


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        EnvoyOptions(tls_cert=tmp_path / "tls.crt")
    with pytest.raises(SystemExit):
        main(["--tls-key", str(tmp_path / "tls.key")])


def test_envoy_accepts_every_option_together(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(SigningKey.generate("k").jwks()))
    cert, key = write_self_signed_certificate(tmp_path)
    output = tmp_path / "envoy.yaml"
    main(
        [
            "--upstream", "server:50051",
            "--jwks", str(jwks), "--jwt-issuer", "https://issuer.test", "--jwt-audience", "api",
            "--tls-cert", str(cert), "--tls-key", str(key),
            "--rate-limit-rps", "50", "--rate-limit-burst", "100",
            "--rate-limit-bytes-per-second", "4194304", "--rate-limit-bytes-burst", "8388608",
            "--max-request-bytes", "4194304", "--trusted-proxy-hops", "1",
            "--otlp-endpoint", "otel:4317", "--stats-port", "9902",
            "-o", str(output),
        ]
    )  # fmt: skip
    config = yaml.safe_load(output.read_text())
    assert config["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    result = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(output), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _envoy_validates(config: dict[str, Any], path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(path), "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_largest_streams_are_reset_before_new_requests_are_refused(tmp_path: Path) -> None:
    config = render(EnvoyOptions(upstreams=(("127.0.0.1", 50051),)))
    overload = config["overload_manager"]
    triggers = {a["name"].rsplit(".", 1)[-1]: a["triggers"] for a in overload["actions"]}
    (reset,) = triggers["reset_high_memory_stream"]
    (refuse,) = triggers["stop_accepting_requests"]
    assert reset["name"] == refuse["name"] == "envoy.resource_monitors.fixed_heap"
    scaled = reset["scaled"]
    assert scaled["scaling_threshold"] < scaled["saturation_threshold"]
    assert scaled["saturation_threshold"] < refuse["threshold"]["value"]
    assert overload["buffer_factory_config"]["minimum_account_to_track_power_of_two"] == 20
    accepted = _envoy_validates(config, tmp_path / "envoy.yaml")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    # Envoy itself checks the pairing: without buffer accounting the action is refused.
    del overload["buffer_factory_config"]
    refused = _envoy_validates(config, tmp_path / "no-accounts.yaml")
    assert refused.returncode != 0
    assert "requires buffer_factory_config" in refused.stdout + refused.stderr


def test_http1_is_shed_at_the_heap_trigger_too(tmp_path: Path) -> None:
    """The reset acts on HTTP/2 only; the load shed points cover HTTP/1.1 (the Ingress's
    protocol), on the same heap monitor, no later than the reset's saturation."""
    config = render(EnvoyOptions(upstreams=(("127.0.0.1", 50051),)))
    overload = config["overload_manager"]
    (reset,) = next(
        a["triggers"] for a in overload["actions"] if a["name"].endswith("reset_high_memory_stream")
    )
    points = {p["name"].rsplit(".", 1)[-1]: p["triggers"] for p in overload["loadshed_points"]}
    assert set(points) == {"http1_server_abort_dispatch", "http_connection_manager_decode_headers"}
    for (trigger,) in points.values():
        assert trigger["name"] == "envoy.resource_monitors.fixed_heap"
        assert trigger["threshold"]["value"] <= reset["scaled"]["saturation_threshold"]
    accepted = _envoy_validates(config, tmp_path / "envoy.yaml")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def _sink() -> tuple[socket.socket, list[socket.socket]]:
    """An upstream that accepts connections and never reads: what Envoy sends stays in Envoy."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return listener, held


MIB = 1024 * 1024


def _upload_until_reset(port: int, limit: int) -> tuple[int, list[h2.events.Event]]:
    """One HTTP/2 POST /batch whose body never ends: bytes sent when Envoy answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        connection.initiate_connection()
        stream = connection.get_next_available_stream_id()
        connection.send_headers(
            stream,
            [(":method", "POST"), (":path", "/batch"), (":scheme", "http"), (":authority", "t")],
        )
        sock.sendall(connection.data_to_send())
        sent, deadline = 0, time.monotonic() + 30
        while time.monotonic() < deadline:
            window = min(connection.local_flow_control_window(stream), 16384, limit - sent)
            if window > 0:
                connection.send_data(stream, b" " * window)
                sent += window
                sock.sendall(connection.data_to_send())
                if sent // MIB > (sent - window) // MIB:
                    time.sleep(0.05)  # the heap grows slower than Envoy's monitor samples it
                continue
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            events = connection.receive_data(data) if data else []
            answers: list[h2.events.Event] = [
                e
                for e in events
                if isinstance(e, h2.events.StreamReset | h2.events.ResponseReceived)
            ]
            if answers or not data:
                return sent, answers
            sock.sendall(connection.data_to_send())
    return sent, []


@dataclass
class HeapEnvoy:
    """An Envoy with a small heap cap in front of a sink that never reads."""

    process: Process
    port: int
    admin: int

    def stats(self) -> dict[str, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/stats", timeout=2) as reply:
            lines = reply.read().decode().splitlines()
        return dict(line.split(": ", 1) for line in lines if ": " in line)


@contextlib.contextmanager
def _heap_envoy(
    tmp_path: Path, heap: int, edit: Callable[[dict[str, Any]], None] = lambda config: None
) -> Iterator[HeapEnvoy]:
    """Envoy rendered with `max_heap_bytes=heap` (then `edit`ed), upstream a sink that holds
    what it gets; Envoy binds free ports itself and `bound_ports` reads them back."""
    listener, held = _sink()
    config = render(
        EnvoyOptions(
            upstreams=(("127.0.0.1", listener.getsockname()[1]),),
            listen_address="127.0.0.1",
            http_port=0,
            admin_port=0,
            max_heap_bytes=heap,
        )
    )
    edit(config)
    (tmp_path / "envoy.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    envoy = start(
        "envoy",
        [envoy_binary(), "-c", str(tmp_path / "envoy.yaml"), "--concurrency", "1",
         "--disable-hot-restart", "--log-level", "warn",
         "--admin-address-path", str(tmp_path / "admin-address")],
        log_path=tmp_path / "envoy.log",
    )  # fmt: skip
    try:
        envoy.wait_ready(lambda: bound_ports(tmp_path / "admin-address") is not None, timeout=30)
        ports = bound_ports(tmp_path / "admin-address")
        assert ports is not None
        yield HeapEnvoy(envoy, ports.http, ports.admin)
    finally:
        envoy.stop()
        listener.close()
        for connection in held:
            connection.close()


def test_envoy_resets_the_largest_http2_stream_under_heap_pressure(tmp_path: Path) -> None:
    """A body held in Envoy (its upstream never reads) pushes the heap over the reset action's
    threshold: Envoy resets that stream (its body never ended, so nothing else would)."""
    with _heap_envoy(tmp_path, 40 * MIB) as envoy:

        def live() -> bool:
            try:
                socket.create_connection(("127.0.0.1", envoy.port), timeout=1).close()
            except OSError:
                return False
            return True

        envoy.process.wait_ready(live, timeout=30)
        sent, answers = _upload_until_reset(envoy.port, limit=31 * MIB)
        after = envoy.stats()
        pressure = after["overload.envoy.resource_monitors.fixed_heap.pressure"]
        print(f"[reset] upload reset after {sent / MIB:.1f} MiB, heap at {pressure}% of 40 MiB")
        assert [type(a).__name__ for a in answers] == ["StreamReset"], answers
        assert int(after["envoy.overload_actions.reset_high_memory_stream.count"]) >= 1


def _http1_upload_until_answered(port: int, limit: int) -> tuple[int, bytes]:
    """One HTTP/1.1 POST /batch of `limit` bytes, paced so that Envoy's heap monitor (sampled
    every 0.25 s) sees it grow: bytes sent when Envoy answered, and its answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = f"POST /batch HTTP/1.1\r\nhost: t\r\ncontent-length: {limit}\r\n\r\n"
        sock.sendall(head.encode())
        sent, chunk = 0, b" " * 65536
        while sent < limit:
            try:
                sock.sendall(chunk[: limit - sent])
            except OSError:  # closed by Envoy while a chunk was under way
                break
            sent += min(len(chunk), limit - sent)
            if sent % MIB == 0:
                time.sleep(0.3)
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
    return sent, answer


def test_envoy_refuses_an_http1_upload_once_the_heap_passes_the_threshold(tmp_path: Path) -> None:
    """The HTTP/2 reset is taken out, so that only the HTTP/1.1 load shed point can act: a
    body the transcoder holds pushes the heap past 90% of its cap, and Envoy answers the
    upload 503 with Retry-After (before the body ended) and closes the connection; once the
    memory is back, it serves again."""

    def without_http2_reset(config: dict[str, Any]) -> None:
        overload = config["overload_manager"]
        overload["actions"] = [
            a for a in overload["actions"] if not a["name"].endswith("reset_high_memory_stream")
        ]
        del overload["buffer_factory_config"]

    with _heap_envoy(tmp_path, 40 * MIB, without_http2_reset) as envoy:

        def page() -> int:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{envoy.port}/", timeout=2) as reply:
                    return int(reply.status)
            except OSError:
                return 0

        envoy.process.wait_ready(lambda: page() == 200, timeout=30)
        limit = 31 * MIB
        sent, answer = _http1_upload_until_answered(envoy.port, limit)
        shed = envoy.stats()[
            "overload.envoy.load_shed_points.http1_server_abort_dispatch.shed_load_count"
        ]
        print(f"[shed] HTTP/1.1 upload answered after {sent / MIB:.1f} of 31 MiB")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b"retry-after: 1" in head.lower()
        assert b"connection: close" in head.lower()
        assert json.loads(body) == {
            "code": 14,
            "message": "service unavailable: Envoy is short of memory; retry shortly",
            "details": [],
        }
        assert sent < limit
        assert int(shed) >= 1
        # The refused body is freed with its stream: Envoy serves again.
        envoy.process.wait_ready(lambda: page() == 200, timeout=30)


def test_rate_limits_key_on_the_subject_else_the_address_by_64_bits_of_ipv6(
    tmp_path: Path,
) -> None:
    config = render(
        EnvoyOptions(
            jwks=tmp_path / "jwks.json",
            rate_limit_rps=10,
            rate_limit_bytes_per_second=32 * MIB,
            max_request_bytes=32 * MIB,
        )
    )
    public = next(x for x in config["static_resources"]["listeners"] if x["name"] == "public")
    manager = public["filter_chains"][0]["filters"][0]["typed_config"]
    limits = {
        f["typed_config"]["stat_prefix"]: f["typed_config"]
        for f in manager["http_filters"]
        if f["name"].endswith("local_ratelimit")
    }
    keys = {
        prefix: [[e["key"] for e in d["entries"]] for d in limit["descriptors"]]
        for prefix, limit in limits.items()
    }
    assert keys == {
        "per_address": [["masked_remote_address"]],
        "per_caller": [
            ["subject", "cost"],
            ["subject", "cost"],
            ["caller", "masked_remote_address", "cost"],
            ["caller", "masked_remote_address", "cost"],
        ],
    }
    masks = [
        action["masked_remote_address"]
        for limit in limits.values()
        for rule in limit["rate_limits"]
        for action in rule["actions"]
        if "masked_remote_address" in action
    ]
    assert len(masks) == 4  # the front bucket, and the address caller's three rules
    assert all(m == {"v4_prefix_mask_len": 32, "v6_prefix_mask_len": 64} for m in masks)
    addends = [r.get("hits_addend") for r in limits["per_caller"]["rate_limits"]]
    assert {"format": "%REQ(content-length)%"} in addends
    # A byte bucket smaller than the body cap would refuse every call at the cap.
    with pytest.raises(ValueError, match="must hold the largest body"):
        render(EnvoyOptions(rate_limit_rps=10, rate_limit_bytes_per_second=1024))
