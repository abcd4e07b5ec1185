"""How the clients open their channel: retries on UNAVAILABLE and RESOURCE_EXHAUSTED
through gRPC's service config, and message limits that fit the service's."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diabetes.v1 import prediction_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name
HEALTH_SERVICE = "grpc.health.v1.Health"
# Replies are chunked by the server (10,000 records by default) but a server may be
# configured with bigger chunks; gRPC's default of 4 MiB would refuse them.
MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024
# gRPC keeps a request in memory for retries only up to this size (256 KiB by default),
# so without it a large batch would never be retried.
RETRY_BUFFER_BYTES = 64 * 1024 * 1024

ChannelOptions = Sequence[tuple[str, Any]]
# A server at capacity answers RESOURCE_EXHAUSTED with a pushback (the same call succeeds
# in a moment, or on another server behind the same address).
RETRYABLE_CODES = ("UNAVAILABLE", "RESOURCE_EXHAUSTED")


@dataclass(frozen=True)
class RetryPolicy:
    """gRPC retries a call that failed with UNAVAILABLE (server down, restarting or
    draining) or RESOURCE_EXHAUSTED (a server at capacity, or a rate limit) up to
    `max_attempts` times in all (gRPC allows at most 5), waiting a random time up to
    initial_backoff × multiplier^n (at most max_backoff) between attempts, or as long as
    the server's `grpc-retry-pushback-ms` says."""

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    backoff_multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not 2 <= self.max_attempts <= 5:
            raise ValueError(f"max_attempts must be 2 to 5, got {self.max_attempts}")
        for name in ("initial_backoff", "max_backoff", "backoff_multiplier"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value}")

    def as_config(self) -> dict[str, Any]:
        return {
            "maxAttempts": self.max_attempts,
            "initialBackoff": _duration(self.initial_backoff),
            "maxBackoff": _duration(self.max_backoff),
            "backoffMultiplier": self.backoff_multiplier,
            "retryableStatusCodes": list(RETRYABLE_CODES),
        }


def service_config(retry: RetryPolicy | None) -> str:
    """The channel's service config (JSON) for the prediction and health services."""
    method: dict[str, Any] = {"name": [{"service": SERVICE}, {"service": HEALTH_SERVICE}]}
    if retry is not None:
        method["retryPolicy"] = retry.as_config()
    return json.dumps({"methodConfig": [method]})


def channel_options(retry: RetryPolicy | None, extra: ChannelOptions = ()) -> list[tuple[str, Any]]:
    """Options for `grpc.insecure_channel` / `grpc.aio.insecure_channel`; `extra` wins."""
    options: dict[str, Any] = {
        "grpc.service_config": service_config(retry),
        "grpc.enable_retries": 1 if retry is not None else 0,
        "grpc.per_rpc_retry_buffer_size": RETRY_BUFFER_BYTES,
        "grpc.max_receive_message_length": MAX_RECEIVE_MESSAGE_BYTES,
    }
    options.update(dict(extra))
    return list(options.items())


def _duration(seconds: float) -> str:
    """A service-config duration, e.g. "0.25s"."""
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
