"""What the blocking and the asyncio clients share: settings, the channel and stubs, and
per-call arguments. Each subclass names its grpc flavour's channel constructors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import grpc
from grpc_health.v1 import health_pb2_grpc

from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from diabetes_client.channel import ChannelOptions, RetryPolicy, channel_options
from diabetes_client.convert import DEFAULT_MAX_RECORDS_PER_CALL
from diabetes_client.security import Tls, bearer_metadata


class ClientBase:
    """`timeout` is each call's deadline in seconds (a split batch gives it to every call).
    Calls failing with UNAVAILABLE are retried by gRPC per `retry` (None: no retries).
    `wait_for_ready` makes calls wait for the server to come up (until their deadline)
    instead of failing at once when it cannot be reached.

    `token` is sent as `authorization: Bearer <token>` metadata on every call (the
    production edge checks it; send it over TLS). `tls` turns TLS on (`Tls()`: the
    system's CAs; `Tls(ca_file=..., server_name=...)`); `credentials` is the lower-level
    alternative, any `grpc.ChannelCredentials`.

    `model` and `version` choose what answers every call (a call's own `model=`/`version=`
    override them): a model the server lists (`info().models`; empty: its default model)
    and a version or a label, `stable` or `canary` (empty: the stable version, or the canary
    for its share of calls). One the server does not serve raises `ModelNotFoundError`."""

    _secure_channel: ClassVar[Callable[..., Any]]
    _insecure_channel: ClassVar[Callable[..., Any]]

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 5.0,
        max_records_per_call: int = DEFAULT_MAX_RECORDS_PER_CALL,
        retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 (frozen, so shared safely)
        wait_for_ready: bool = False,
        credentials: grpc.ChannelCredentials | None = None,
        options: ChannelOptions = (),
        token: str | None = None,
        tls: Tls | None = None,
        model: str = "",
        version: str = "",
    ) -> None:
        if max_records_per_call < 1:
            raise ValueError(f"max_records_per_call must be at least 1, got {max_records_per_call}")
        if tls is not None and credentials is not None:
            raise ValueError("give tls or credentials, not both")
        self.target = target
        self.timeout = timeout
        self.max_records_per_call = max_records_per_call
        self.wait_for_ready = wait_for_ready
        self.model = model
        self.version = version
        self._metadata = bearer_metadata(token)
        if tls is not None:
            credentials = tls.credentials()
            options = [*tls.options(), *options]
        all_options = channel_options(retry, options)
        self._channel = (
            type(self)._secure_channel(target, credentials, all_options)
            if credentials is not None
            else type(self)._insecure_channel(target, all_options)
        )
        self._stub = pb_grpc.PredictionServiceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def _choice(self, model: str | None, version: str | None) -> tuple[str, str]:
        """The model and version a call asks for: its own, else the client's."""
        return (
            self.model if model is None else model,
            self.version if version is None else version,
        )

    def _call_args(self, timeout: float | None) -> dict[str, object]:
        return {
            "timeout": self.timeout if timeout is None else timeout,
            "wait_for_ready": self.wait_for_ready,
            "metadata": self._metadata,
        }
