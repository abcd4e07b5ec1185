"""A reflection stream a test holds open on the server: the request iterator sends one request
and then waits until the test releases it, so the call stays in flight (holding a handler
thread, keeping a draining server alive) for as long as the test needs."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection_pb2

REFLECTION_INFO = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
# The longest a held stream waits for its release, and the exit for the call to end: a test
# that forgets to release does not hang.
HOLD_SECONDS = 30.0


@dataclass(frozen=True)
class HeldStream:
    """A reflection call in flight; `first` is the server's answer, proof that it has the call."""

    replies: Iterator[reflection_pb2.ServerReflectionResponse]
    first: reflection_pb2.ServerReflectionResponse
    _release: threading.Event

    def release(self) -> None:
        """End the requests: the server then ends the stream with OK and no more replies."""
        self._release.set()


@contextlib.contextmanager
def held_reflection_stream(
    channel: grpc.Channel,
    *,
    timeout: float | None = None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> Iterator[HeldStream]:
    """Start a held reflection stream and wait for its first reply (an RpcError from the
    call, e.g. a refusal, is raised here). On exit release it, cancel it if it is still
    running, and wait up to HOLD_SECONDS for the call to end."""
    info = channel.stream_stream(
        REFLECTION_INFO,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    release = threading.Event()
    ended = threading.Event()

    def requests() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        release.wait(HOLD_SECONDS)

    call: Any = info(requests(), timeout=timeout, metadata=metadata)
    call.add_done_callback(lambda _: ended.set())
    try:
        yield HeldStream(replies=call, first=next(call), _release=release)
    finally:
        release.set()
        call.cancel()
        if not ended.wait(HOLD_SECONDS):
            raise AssertionError(f"the held reflection stream did not end in {HOLD_SECONDS} s")
