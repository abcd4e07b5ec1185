"""The Envoy renderer's public-exposure options: off by default, in the right filter order
when on, and accepted by Envoy itself (`envoy --mode validate`)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.stack.envoy_config import EnvoyOptions, main, render
from server.stack.stack import envoy_binary
from tests.support.credentials import SigningKey, write_self_signed_certificate


def _filters(config: dict[str, Any]) -> list[str]:
    public = next(x for x in config["static_resources"]["listeners"] if x["name"] == "public")
    manager = public["filter_chains"][0]["filters"][0]["typed_config"]
    return [f["name"].rsplit(".", 1)[-1] for f in manager["http_filters"]]


def test_defaults_add_nothing_for_public_exposure() -> None:
    config = render(EnvoyOptions(upstreams=(("127.0.0.1", 50051),)))
    assert _filters(config) == ["header_mutation", "lua", "grpc_json_transcoder", "router"]
    assert [x["name"] for x in config["static_resources"]["listeners"]] == ["public"]
    assert [c["name"] for c in config["static_resources"]["clusters"]] == ["diabetes_grpc"]
    assert "transport_socket" not in config["static_resources"]["listeners"][0]["filter_chains"][0]


def test_rate_limit_then_auth_before_anything_reads_the_body(tmp_path: Path) -> None:
    config = render(
        EnvoyOptions(jwks=tmp_path / "jwks.json", rate_limit_rps=10, otlp_endpoint=("otel", 4317))
    )
    assert _filters(config)[:5] == [
        "header_mutation",
        "local_ratelimit",
        "jwt_authn",
        "lua",
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
