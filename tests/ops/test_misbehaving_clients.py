"""Clients that go away: cancelling mid-stream, running out of deadline, reading a large
/batch reply slowly through Envoy and hanging up. The server stays healthy and keeps no
threads or memory from them."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import grpc
import pytest

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.healthcheck import check
from server.stack.stack import Stack
from tests.support.artifacts import write_test_artifact
from tests.support.held_stream import held_reflection_stream
from tests.support.ops import proc_status
from tests.support.processes import wait_until
from tests.support.stack import log_text, running_stack

RECORDS = 50_000
ROUNDS = 10
# Handler threads: pooled, so cancelled calls may grow the pool up to this, never beyond.
HANDLER_THREADS = 4
# Memory the server may gain over the measured rounds after warm-up: allocator noise is about
# 2 MiB; keeping one abandoned 50,000-record batch per round would add several MiB a round.
MAX_RSS_GROWTH_KIB = 8 * 1024
SLOW_READER_BODY = json.dumps([{"bmi": (i % 100) / 1000} for i in range(RECORDS)]).encode()


def _batch(count: int) -> pb.PredictBatchRequest:
    return pb.PredictBatchRequest(
        columns=pb.FeatureColumns(bmi=[(i % 100) / 1000 for i in range(count)])
    )


def _cancel_mid_stream(stub: pb_grpc.PredictionServiceStub) -> None:
    replies = stub.PredictBatch(_batch(RECORDS), timeout=30)
    next(replies)
    replies.cancel()


def _deadline_exceeded(stub: pb_grpc.PredictionServiceStub, channel: grpc.Channel) -> None:
    """Two deadlines that certainly pass: one already past when the call is made (the client
    library ends it), one that passes on the server mid-call, a stream the test holds open."""
    with pytest.raises(grpc.RpcError) as caught:
        for _ in stub.PredictBatch(_batch(RECORDS), timeout=-1):
            pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    with (
        pytest.raises(grpc.RpcError) as caught,
        held_reflection_stream(channel, timeout=0.5) as held,
    ):
        for _ in held.replies:
            pass
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def _slow_reader_hangs_up(http_port: int) -> None:
    """POST a large /batch through Envoy, read a little of the reply slowly, hang up."""
    body = SLOW_READER_BODY
    with socket.create_connection(("127.0.0.1", http_port), timeout=10) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        head = (
            f"POST /batch HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        received = b""
        for _ in range(5):
            received += sock.recv(1024)
            time.sleep(0.05)
        assert received.startswith(b"HTTP/1.1 200")


def _one_round(stack: Stack, channel: grpc.Channel) -> None:
    stub = pb_grpc.PredictionServiceStub(channel)
    _cancel_mid_stream(stub)
    _deadline_exceeded(stub, channel)
    _slow_reader_hangs_up(stack.http_port)


def test_cancels_deadlines_and_slow_readers_leave_the_server_healthy(tmp_path: Path) -> None:
    model = write_test_artifact(tmp_path / "model.json")
    # Small reply messages: a 50,000-record reply is 50 messages, so there is a "mid-stream".
    args = ("--batch-chunk-records", "1000", "--threads", str(HANDLER_THREADS))
    with running_stack(servers=1, model=model, server_args=args) as stack:
        pid = stack.servers[0].pid
        with grpc.insecure_channel(stack.server_target) as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            idle = proc_status(pid)
            for _ in range(ROUNDS):  # warm-up: thread pool, allocator, Envoy buffers
                _one_round(stack, channel)
            before = proc_status(pid)
            for _ in range(ROUNDS):
                _one_round(stack, channel)
            after = proc_status(pid)
            reply = stub.Predict(pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=5)
        assert check(stack.server_target)
        server_log = f"server-{stack.server_ports[0]}"
        # Access lines are written in batches (every 0.2 s): wait for the one asserted on.
        wait_until(
            lambda: "CANCELLED" in _call_codes(log_text(stack, server_log)),
            10,
            "a cancelled call in the access log",
        )
        log = log_text(stack, server_log)
    growth = after["VmRSS"] - before["VmRSS"]
    print(
        f"[misbehaving clients] {2 * ROUNDS} rounds of cancel/deadline/slow reader: threads "
        f"{idle['Threads']} idle -> {before['Threads']} -> {after['Threads']}, RSS "
        f"{before['VmRSS']} -> {after['VmRSS']} KiB over the last {ROUNDS} rounds"
    )
    assert reply.model_version == "test-1"
    assert after["Threads"] <= idle["Threads"] + HANDLER_THREADS
    assert growth <= MAX_RSS_GROWTH_KIB
    assert "Traceback" not in log
    assert _call_codes(log) <= {"OK", "CANCELLED", "DEADLINE_EXCEEDED"}


def _call_codes(log: str) -> set[str]:
    return {json.loads(line)["code"] for line in log.splitlines() if '"message": "call"' in line}


def test_server_answers_health_while_a_client_stalls(tmp_path: Path) -> None:
    """A reader that never reads does not block other callers."""
    model = write_test_artifact(tmp_path / "model.json")
    with running_stack(servers=1, model=model) as stack:
        server_log = f"server-{stack.server_ports[0]}"
        body = SLOW_READER_BODY
        with socket.create_connection(("127.0.0.1", stack.http_port)) as stalled:
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(
                b"POST /batch HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
            )
            # The server has answered it; the reply now waits in Envoy for a reader.
            wait_until(
                lambda: '"method": "PredictJsonRecords"' in log_text(stack, server_log),
                30,
                "the stalled call's access line",
            )
            assert check(stack.server_target)
            with grpc.insecure_channel(stack.grpc_target) as channel:
                reply = pb_grpc.PredictionServiceStub(channel).Predict(
                    pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=5
                )
            assert reply.model_version == "test-1"
