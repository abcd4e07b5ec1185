"""The abuse suite: the production edge (JWT + TLS + per-client rate limit, X-Forwarded-For
from one trusted proxy as in Kubernetes) on loopback, in front of a real server, attacked one
way at a time while a steady authenticated caller keeps calling. Each case prints its figures
(and, with DIABETES_ABUSE_RESULTS, writes them for operations.md's table: tests/abuse/results.py);
during each, the steady caller keeps >= 99% success, Envoy's RSS stays below the memory limit
of its Kubernetes container, nothing exits, and a normal call works after. The concurrent
maximal batches run against two servers with a 384 MiB pod's budget, their peak RSS asserted.

Bounded in time: each case lasts seconds (the timeouts it relies on are Envoy's own, rendered
from envoy.yaml). Traffic goes to 127.0.0.1 only."""

from __future__ import annotations

import collections
import contextlib
import functools
import http.client
import json
import math
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import h2.config
import h2.connection
import h2.events
import pytest
import requests
import yaml
from grpc_health.v1 import health_pb2

from diabetes.v1 import prediction_pb2 as pb
from diabetes.v1 import prediction_pb2_grpc as pb_grpc
from server.config import ServerConfig
from server.stack.envoy_config import EnvoyOptions, render
from tests.abuse.results import (
    CLOSED_WHILE_SENDING,
    EXPECTED,
    SERVER_POD_LIMIT_BYTES,
    UNAUTHENTICATED_REPLY,
    CaseResult,
    Memory,
    record,
    refusal_form,
    retryable,
)
from tests.support.credentials import AUDIENCE, ISSUER, SigningKey, write_self_signed_certificate
from tests.support.held_stream import held_reflection_stream
from tests.support.memory import peak_rss_bytes, reset_peak_rss, rss_bytes
from tests.support.ops import Envoy, Load, proc_status, running_envoy
from tests.support.processes import ROOT, ServerProcess, running_server, wait_until

MIB = 1024 * 1024
RECORD = {"bmi": 0.05}
# The steady caller, as the Ingress would report it (its own rate-limit bucket).
STEADY_CLIENT = "198.51.100.1"
STEADY_SUBJECT = "steady-caller"
K8S_ENVOY = ROOT / "deploy" / "base" / "envoy-deployment.yaml"
MIN_CASE_SECONDS = 3.0


FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
# The largest /batch body the service takes: its record limit, in Envoy's body cap.
MAX_RECORDS = ServerConfig.max_batch_records
MAX_BODY_BYTES = 32 * MIB


@functools.cache
def maximal_batch_body(records: int = MAX_RECORDS, limit: int = MAX_BODY_BYTES) -> bytes:
    """`records` real ten-feature records whose JSON is as close to `limit` bytes as whole
    digits allow: values of the training data's scale (|x| < 0.1), each written with as many
    digits as fit."""
    values = [0.1 * math.sin(index) for index in range(1, 1000)]
    names = [f'"{name}": ' for name in FEATURES]
    # Per record: names, "0." and a sign at most, ", " between fields and between records.
    fixed = sum(map(len, names)) + 2 + 2 * len(FEATURES) + len(FEATURES) * 3
    digits = ((limit - 2) // records - fixed) // len(FEATURES)
    while True:
        rendered = [f"{value:.{digits}f}" for value in values]
        body = "[" + ", ".join(_record(names, rendered, index) for index in range(records)) + "]"
        if len(body) <= limit:
            return body.encode()
        digits -= 1


def _record(names: list[str], values: list[str], index: int) -> str:
    fields = (
        name + values[(index * 11 + offset) % len(values)] for offset, name in enumerate(names)
    )
    return "{" + ", ".join(fields) + "}"


def envoy_memory_limit() -> int:
    """Envoy's container memory limit in Kubernetes, in bytes (e.g. 512Mi)."""
    pod = yaml.safe_load(K8S_ENVOY.read_text())["spec"]["template"]["spec"]
    text = pod["containers"][0]["resources"]["limits"]["memory"]
    assert text.endswith("Mi"), text
    return int(text[:-2]) * MIB


@dataclass
class Edge:
    envoy: Envoy
    servers: list[ServerProcess]
    ca: Path
    key: SigningKey

    @property
    def server(self) -> ServerProcess:
        return self.servers[0]

    @property
    def port(self) -> int:
        return self.envoy.http_port

    def token(self, subject: str = "client-1") -> str:
        return self.key.token(sub=subject)

    def tls_context(self, alpn: str = "http/1.1") -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.set_alpn_protocols([alpn])
        return context

    def call(self, timeout: float = 10) -> requests.Response:
        return requests.post(
            f"{self.envoy.url}/stream",
            json=RECORD,
            headers={
                # Its own subject and address: the rate limit keys on the token's subject
                # (and, before the token, on the address), so the attacks' calls never
                # spend the steady caller's tokens.
                "authorization": f"Bearer {self.token(STEADY_SUBJECT)}",
                "x-forwarded-for": STEADY_CLIENT,
            },
            verify=str(self.ca),
            timeout=timeout,
        )


@contextlib.contextmanager
def production_edge(workdir: Path, servers: list[ServerProcess]) -> Iterator[Edge]:
    """The production edge (JWT + TLS + per-caller rate limit, one trusted proxy hop) in
    front of `servers`."""
    key = SigningKey.generate("abuse")
    (workdir / "jwks.json").write_text(json.dumps(key.jwks()))
    cert, tls_key = write_self_signed_certificate(workdir)
    with running_envoy(
        [server.target for server in servers],
        jwks=workdir / "jwks.json",
        jwt_issuer=ISSUER,
        jwt_audiences=(AUDIENCE,),
        tls_cert=cert,
        tls_key=tls_key,
        rate_limit_rps=50,
        rate_limit_burst=100,
        trusted_proxy_hops=1,
    ) as envoy:
        yield Edge(envoy, servers, cert, key)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    with (
        running_server() as server,
        production_edge(tmp_path_factory.mktemp("abuse"), [server]) as edge,
    ):
        yield edge


# What a server in a 384 MiB pod may let its calls reserve: the limit minus the idle server
# (docs/runbook.md, capacity). cgroup v2 is not writable here, so the budget is the setting
# the server would derive from the limit, and the limit is asserted on its own peak RSS.
POD_BUDGET_BYTES = SERVER_POD_LIMIT_BYTES - ServerConfig.memory_baseline_bytes


@pytest.fixture(scope="module")
def pod_edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    """Two servers, each with the budget a 384 MiB pod gets, behind the production edge."""
    budget = ("--memory-budget-bytes", str(POD_BUDGET_BYTES))
    with (
        running_server(*budget) as first,
        running_server(*budget) as second,
        production_edge(tmp_path_factory.mktemp("pods"), [first, second]) as edge,
    ):
        yield edge


@dataclass
class Watch:
    """A steady authenticated caller (about 20 calls/s), Envoy's RSS sampled, and each
    server's own peak RSS (VmHWM, reset at the start)."""

    edge: Edge
    ok: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    rss_start: int = 0
    rss_peak: int = 0
    servers: list[Memory] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _call(self) -> None:
        while not self._stop.is_set():
            try:
                reply = self.edge.call()
                good = reply.status_code == 200
                detail = f"{reply.status_code} {reply.text[:120]}"
            except requests.RequestException as exc:
                good, detail = False, repr(exc)[:160]
            if good:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(detail)
            self._stop.wait(0.05)

    def _sample(self) -> None:
        pid = self.edge.envoy.process.popen.pid
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.rss_peak = max(self.rss_peak, proc_status(pid)["VmRSS"] * 1024)
            self._stop.wait(0.05)

    @contextlib.contextmanager
    def running(self) -> Iterator[Watch]:
        self.rss_start = proc_status(self.edge.envoy.process.popen.pid)["VmRSS"] * 1024
        for server in self.edge.servers:
            reset_peak_rss(server.popen.pid)
        self.servers = [Memory(rss_bytes(s.popen.pid), 0) for s in self.edge.servers]
        threads = [threading.Thread(target=self._call, daemon=True) for _ in range(2)]
        threads.append(threading.Thread(target=self._sample, daemon=True))
        for thread in threads:
            thread.start()
        started = time.monotonic()
        try:
            yield self
        finally:
            # At least a few seconds of steady calls around every attack, however short.
            self._stop.wait(max(0.0, MIN_CASE_SECONDS - (time.monotonic() - started)))
            self._stop.set()
            for thread in threads:
                thread.join(timeout=15)
            for memory, server in zip(self.servers, self.edge.servers, strict=True):
                with contextlib.suppress(OSError):
                    memory.peak = peak_rss_bytes(server.popen.pid)

    @property
    def success(self) -> float:
        return self.ok / max(1, self.ok + self.failed)

    def check(
        self,
        case: str,
        sent: str,
        answer: str,
        outcomes: dict[str, int],
        steady: tuple[int, int] = (0, 0),
        refusals: dict[str, int] | None = None,
    ) -> None:
        """Assert the case's outcomes are the ones docs say (EXPECTED), the steady load kept
        >= 99% (this caller's calls plus `steady`: (calls, ok) of other steady load), Envoy
        stayed under its container limit and every process is alive and answers; then
        record the figures (tests/abuse/results.py)."""
        limit = envoy_memory_limit()
        calls, ok = self.ok + self.failed + steady[0], self.ok + steady[1]
        servers = ", ".join(
            f"{m.start / MIB:.0f} -> peak {m.peak / MIB:.0f} MiB" for m in self.servers
        )
        print(
            f"[{case}] steady load: {calls} calls, {ok / max(1, calls):.1%} ok; "
            f"Envoy RSS {self.rss_start / MIB:.0f} MiB before, peak {self.rss_peak / MIB:.0f} MiB "
            f"(limit {limit / MIB:.0f} MiB); server RSS {servers}"
        )
        assert outcomes == EXPECTED[case], outcomes
        assert self.ok + self.failed >= 10, "the steady caller hardly ran"
        assert self.success >= 0.99, self.errors
        assert ok >= 0.99 * calls
        assert self.rss_peak < limit
        assert self.edge.envoy.process.alive(), "Envoy exited"
        for server in self.edge.servers:
            assert server.alive(), f"the server {server.popen.pid} exited"
        after = self.edge.call()
        assert after.status_code == 200, after.text
        record(
            CaseResult(
                case=case,
                order=list(EXPECTED).index(case),
                sent=sent,
                answer=answer,
                outcomes=outcomes,
                steady_calls=calls,
                steady_ok=ok,
                envoy=Memory(self.rss_start, self.rss_peak, limit),
                servers=self.servers,
                refusals=refusals or {},
            ),
            envoy_version=envoy_version(self.edge.envoy),
        )


def envoy_version(envoy: Envoy) -> str:
    """Envoy's release (e.g. 1.40.0), from its admin API."""
    info = requests.get(f"{envoy.admin_url}/server_info", timeout=5).json()
    found = re.search(r"/(\d+\.\d+\.\d+)/", str(info.get("version", "")))
    return found.group(1) if found else str(info.get("version", ""))


def _post_body(edge: Edge, path: str, body: bytes) -> str:
    """One unauthenticated POST: the headers, then the reply Envoy gives to them alone, then
    the body. "<status> <gRPC code>: <message>; <how sending the body ended>"."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    raw = socket.create_connection(("127.0.0.1", edge.port), timeout=30)
    with edge.tls_context().wrap_socket(raw, server_hostname="localhost") as sock:
        sock.sendall(head)
        reply = http.client.HTTPResponse(sock)
        reply.begin()
        error = json.loads(reply.read())
        try:
            sock.sendall(body)
            ending = "body sent whole"
        except (ConnectionError, ssl.SSLError, OSError):
            ending = CLOSED_WHILE_SENDING
    return f"{reply.status} {error['code']}: {error['message']}; {ending}"


def test_concurrent_32_mib_unauthenticated_bodies(edge: Edge) -> None:
    body = maximal_batch_body()
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def attack(path: str) -> None:
        outcome = _post_body(edge, path, body)
        with lock:
            outcomes[f"{path} -> {outcome}"] = outcomes.get(f"{path} -> {outcome}", 0) + 1

    started = time.monotonic()
    with Watch(edge).running() as watch:
        attackers = [threading.Thread(target=attack, args=(path,)) for path in ("/batch", "/") * 8]
        for thread in attackers:
            thread.start()
        for thread in attackers:
            thread.join(timeout=60)
    print(
        f"[bodies] 16 concurrent unauthenticated {len(body) / MIB:.1f} MiB /batch bodies of "
        f"{MAX_RECORDS:,} records (8 to POST /batch, 8 to POST /) "
        f"in {time.monotonic() - started:.1f} s: {outcomes}"
    )
    # As operations.md says: 401 at the headers, and the connection closed while the body
    # was being sent.
    assert outcomes == {
        f"{path} -> {UNAUTHENTICATED_REPLY}; {CLOSED_WHILE_SENDING}": 8 for path in ("/batch", "/")
    }
    watch.check(
        "bodies",
        sent=f"16 concurrent unauthenticated maximal `/batch` bodies ({MAX_RECORDS:,} "
        f"ten-feature records, {len(body) / MIB:.1f} MiB of JSON; 8 to `POST /batch`, 8 to "
        "`POST /`)",
        answer='401 `{"code": 16, "message": "Jwt is missing"}` to the headers alone, then '
        "the connection closed while the client was still sending the body: nothing buffered",
        outcomes=outcomes,
    )


def test_concurrent_32_mib_authenticated_bodies_fit_the_heap(edge: Edge) -> None:
    """What the memory limit is sized for: a 32 MiB JSON body costs about 70 MiB while it is
    transcoded; four at once stay under the limit (the overload manager refuses more)."""
    body = maximal_batch_body()
    token = edge.token()
    outcomes: list[str] = []

    def send() -> None:
        try:
            reply = requests.post(
                f"{edge.envoy.url}/batch",
                data=body,
                headers={"authorization": f"Bearer {token}", "x-forwarded-for": "203.0.113.50"},
                verify=str(edge.ca),
                timeout=90,
            )
        except requests.RequestException as exc:
            outcomes.append(type(exc).__name__)
            return
        answer = reply.json() if reply.status_code == 200 else {}
        outcomes.append(f"{reply.status_code}, {len(answer.get('predictions', ()))} predictions")

    with Watch(edge).running() as watch:
        senders = [threading.Thread(target=send) for _ in range(4)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join(timeout=120)
    print(
        f"[authenticated bodies] 4 concurrent {len(body) / MIB:.1f} MiB JSON bodies of "
        f"{MAX_RECORDS:,} ten-feature records to POST /batch: {outcomes}"
    )
    # Accepted whole and answered in full by the server, never cut short.
    assert outcomes == [f"200, {MAX_RECORDS} predictions"] * 4
    per_body = (watch.rss_peak - watch.rss_start) / 4 / MIB
    watch.check(
        "authenticated bodies",
        sent=f"4 concurrent authenticated maximal bodies (the same {MAX_RECORDS:,} records) to "
        "`POST /batch`",
        answer="each buffered once by the transcoder and answered in full by the server "
        f"(200, {MAX_RECORDS:,} predictions; about {per_body:.0f} MiB of Envoy memory per body "
        "while transcoded)",
        outcomes=dict(collections.Counter(outcomes)),
    )


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except (ConnectionError, ssl.SSLError, OSError):
        return True


def test_a_thousand_idle_and_slow_connections(edge: Edge) -> None:
    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    context = edge.tls_context()
    with Watch(edge).running() as watch:
        started = time.monotonic()
        for _ in range(500):
            # TCP only: the TLS handshake never starts.
            idle.append(socket.create_connection(("127.0.0.1", edge.port), timeout=5))
        for _ in range(500):
            tls = context.wrap_socket(
                socket.create_connection(("127.0.0.1", edge.port), timeout=5),
                server_hostname="localhost",
            )
            tls.sendall(b"POST /stream HTTP/1.1\r\nHost: localhost\r\nx-slow: ")
            slow.append(tls)
        opened = time.monotonic() - started
        for sock in (*idle, *slow):
            sock.setblocking(False)
        closed_at: dict[int, float] = {}
        deadline = time.monotonic() + 25
        while len(closed_at) < 1000 and time.monotonic() < deadline:
            for index, sock in enumerate((*idle, *slow)):
                if index in closed_at:
                    continue
                if index >= 500:
                    with contextlib.suppress(OSError, ssl.SSLError):
                        sock.send(b"a")  # one byte a second: the headers never end
                if _closed(sock):
                    closed_at[index] = time.monotonic() - started
            time.sleep(1)
        for sock in (*idle, *slow):
            sock.close()
    idle_closed = [t for i, t in closed_at.items() if i < 500]
    slow_closed = [t for i, t in closed_at.items() if i >= 500]
    print(
        f"[connections] 500 idle TCP + 500 TLS trickling headers opened in {opened:.1f} s; "
        f"Envoy closed {len(idle_closed)} idle (last after {max(idle_closed, default=0):.0f} s, "
        f"TLS handshake timeout) and {len(slow_closed)} slow (last after "
        f"{max(slow_closed, default=0):.0f} s, request headers timeout)"
    )
    assert len(idle_closed) == len(slow_closed) == 500
    watch.check(
        "connections",
        sent="500 idle TCP connections (no TLS handshake) + 500 TLS connections trickling "
        "header bytes",
        answer="all closed: the idle ones by the TLS handshake timeout (last after "
        f"{max(idle_closed):.0f} s), the slow ones by the request-headers timeout (last after "
        f"{max(slow_closed):.0f} s)",
        outcomes={"idle closed": len(idle_closed), "slow closed": len(slow_closed)},
    )


def test_streams_held_open_get_no_server_thread(edge: Edge) -> None:
    """Reflection and health's Watch are not routed in production, so they cannot hold a
    server thread; the server's own limit turns excess calls into RESOURCE_EXHAUSTED."""
    metadata = (("authorization", f"Bearer {edge.token()}"),)
    credentials = grpc.ssl_channel_credentials(edge.ca.read_bytes())
    refused: dict[str, int] = {}
    with (
        Watch(edge).running() as watch,
        grpc.secure_channel(f"127.0.0.1:{edge.port}", credentials) as channel,
    ):
        watch_health = channel.unary_stream(
            "/grpc.health.v1.Health/Watch",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        with contextlib.ExitStack() as held:
            for _ in range(50):
                try:
                    held.enter_context(held_reflection_stream(channel, metadata=metadata))
                    refused["answered"] = refused.get("answered", 0) + 1
                except grpc.RpcError as exc:
                    refused[exc.code().name] = refused.get(exc.code().name, 0) + 1
            watches = [
                watch_health(health_pb2.HealthCheckRequest(), metadata=metadata) for _ in range(50)
            ]
            for call in watches:
                try:
                    next(iter(call))
                    refused["answered"] = refused.get("answered", 0) + 1
                except grpc.RpcError as exc:
                    refused[exc.code().name] = refused.get(exc.code().name, 0) + 1
    print(f"[streams] 50 reflection + 50 health Watch streams through Envoy: {refused}")
    assert refused == {"UNIMPLEMENTED": 100}
    watch.check(
        "streams",
        sent="50 reflection + 50 health `Watch` streams with a valid token",
        answer="all `UNIMPLEMENTED`: neither is routed in production, so none holds a server "
        "thread",
        outcomes=refused,
    )


def test_server_refuses_calls_beyond_its_limit_at_once() -> None:
    """Direct to a server with 2 threads and --max-concurrent-rpcs 2: two held streams, and a
    third call gets RESOURCE_EXHAUSTED at once instead of waiting for a thread."""
    with (
        running_server("--threads", "2", "--max-concurrent-rpcs", "2") as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        with (
            held_reflection_stream(channel),  # both running, each holding a thread
            held_reflection_stream(channel),
        ):
            predict = pb_grpc.PredictionServiceStub(channel).Predict
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                predict(pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10)
            waited = time.monotonic() - started
        print(f"[limit] third call: {caught.value.code().name} after {waited * 1000:.0f} ms")
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "Concurrent RPC limit exceeded" in (caught.value.details() or "")
        # Once the server has seen the two streams end, it has room again.

        def answers() -> bool:
            try:
                return bool(predict(pb.PredictRequest(record=pb.Record(bmi=0.05)), timeout=10))
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    raise
                return False

        wait_until(answers, 10, "the server to take calls again")


def _rapid_reset(edge: Edge, streams: int) -> tuple[int, str]:
    """HEADERS then RST_STREAM, back to back on one HTTP/2 connection, until Envoy closes it
    or `streams` were sent; (streams sent, how it ended)."""
    sock = edge.tls_context("h2").wrap_socket(
        socket.create_connection(("127.0.0.1", edge.port), timeout=10), server_hostname="localhost"
    )
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    sock.sendall(connection.data_to_send())
    headers = [
        (":method", "POST"),
        (":path", "/stream"),
        (":scheme", "https"),
        (":authority", "localhost"),
        ("content-type", "application/json"),
    ]
    sent = 0
    try:
        while sent < streams:
            stream_id = connection.get_next_available_stream_id()
            connection.send_headers(stream_id, headers)
            connection.reset_stream(stream_id)
            sock.sendall(connection.data_to_send())
            sent += 1
            # Read whatever Envoy sent after every stream, so its GOAWAY is seen before a
            # write to the closed connection could reset it (and lose the frame).
            if sock.pending() or select.select([sock], [], [], 0)[0]:
                data = sock.recv(65536)
                if not data:
                    return sent, "closed"
                for event in connection.receive_data(data):
                    if isinstance(event, h2.events.ConnectionTerminated):
                        return sent, f"GOAWAY ({event.error_code!r})"
                sock.sendall(connection.data_to_send())
    except (ConnectionError, ssl.SSLError, OSError, h2.exceptions.ProtocolError) as exc:
        return sent, type(exc).__name__
    finally:
        sock.close()
    return sent, "still open"


def test_http2_rapid_reset(edge: Edge) -> None:
    outcomes = []
    with Watch(edge).running() as watch:
        started = time.monotonic()
        for _ in range(4):
            outcomes.append(_rapid_reset(edge, 5000))
        spent = time.monotonic() - started
    print(f"[rapid reset] 4 connections in {spent:.1f} s, (streams, end): {outcomes}")
    # operations.md: Envoy's premature-reset detection closes each connection with GOAWAY.
    assert [end.split(" ")[0] for _, end in outcomes] == ["GOAWAY"] * 4, outcomes
    codes = sorted({found[1] for _, end in outcomes if (found := re.search(r"\.(\w+):", end))})
    streams = sorted(sent for sent, _ in outcomes)
    watch.check(
        "rapid reset",
        sent="HTTP/2 rapid reset (HEADERS + RST_STREAM back to back, 4 connections)",
        answer=f"each connection closed with GOAWAY ({', '.join(f'`{c}`' for c in codes)}) "
        f"after {streams[0]:,}-{streams[-1]:,} streams (Envoy's premature-reset detection)",
        outcomes=dict(collections.Counter(end.split(" ")[0] for _, end in outcomes)),
    )


def test_oversized_headers(edge: Edge) -> None:
    token = edge.token()
    statuses: dict[str, int] = {}
    with Watch(edge).running() as watch:
        for name, headers in (
            ("one 100 KiB header", {"x-big": "a" * 100 * 1024}),
            ("200 headers", {f"x-h{i}": "a" * 100 for i in range(200)}),
        ):
            for _ in range(10):
                try:
                    reply = requests.post(
                        f"{edge.envoy.url}/stream",
                        json=RECORD,
                        headers={"authorization": f"Bearer {token}", **headers},
                        verify=str(edge.ca),
                        timeout=10,
                    )
                    outcome = str(reply.status_code)
                except requests.RequestException as exc:
                    outcome = type(exc).__name__
                statuses[f"{name} -> {outcome}"] = statuses.get(f"{name} -> {outcome}", 0) + 1
    print(f"[headers] {statuses}")
    # operations.md: 431 for both.
    assert statuses == {"one 100 KiB header -> 431": 10, "200 headers -> 431": 10}
    watch.check(
        "headers",
        sent="Oversized headers (one of 100 KiB; 200 headers)",
        answer="431 for every request",
        outcomes=statuses,
    )


def test_the_edge_config_is_the_production_one() -> None:
    """The suite attacks what deployments render: same timeouts and limits as envoy.yaml."""
    config = render(EnvoyOptions(tls_cert=Path("c"), tls_key=Path("k")))
    chain = config["static_resources"]["listeners"][0]["filter_chains"][0]
    assert chain["transport_socket_connect_timeout"]


# The steady gRPC caller beside the bulk calls: its own subject and address (bucket).
STEADY_GRPC_SUBJECT = "steady-grpc-caller"
STEADY_GRPC_CLIENT = "198.51.100.2"
BULK_CALLS = 16
# However busy the two servers are, a call that is refused and retried gets its turn within
# this (16 calls of a few seconds each, two at a time).
BULK_DEADLINE_SECONDS = 300


UPLOAD_CHUNK = 1024 * 1024


def _post_reading_early(
    edge: Edge, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """One POST over HTTP/1.1 that, like curl, reads an answer given before the whole body
    is sent (Envoy short of memory answers 503 and closes an upload mid-way): (status,
    headers, body); status 0 when the connection closed with no answer."""
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    raw = socket.create_connection(("127.0.0.1", edge.port), timeout=120)
    with edge.tls_context().wrap_socket(raw, server_hostname="localhost") as sock:
        view = memoryview(body)
        with contextlib.suppress(ConnectionError, ssl.SSLError, OSError):
            sock.sendall(head.encode())
            for offset in range(0, len(body), UPLOAD_CHUNK):
                if sock.pending() or select.select([sock], [], [], 0)[0]:
                    break  # answered before the whole body
                sock.sendall(view[offset : offset + UPLOAD_CHUNK])
        reply = http.client.HTTPResponse(sock)
        try:
            reply.begin()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        except (http.client.HTTPException, ConnectionError, ssl.SSLError, OSError) as exc:
            return 0, {}, f"closed with no answer ({type(exc).__name__})".encode()


def _maximal_batch_until_answered(edge: Edge, index: int, body: bytes) -> tuple[str, list[str]]:
    """One caller's maximal /batch, retried as a client would: after a 503's Retry-After,
    until it is answered otherwise. (final answer, the refusals before it)."""
    refusals: list[str] = []
    deadline = time.monotonic() + BULK_DEADLINE_SECONDS
    headers = {
        "authorization": f"Bearer {edge.token(f'bulk-caller-{index}')}",
        "x-forwarded-for": f"203.0.113.{index + 1}",
        "content-type": "application/json",
    }
    while time.monotonic() < deadline:
        status, reply_headers, text = _post_reading_early(edge, "/batch", headers, body)
        if status == 200:
            return f"200, {len(json.loads(text)['predictions'])} predictions", refusals
        if status != 503 or "retry-after" not in reply_headers:
            return f"{status} {text[:200]!r}", refusals
        error = json.loads(text)
        refusals.append(f"503 {error['code']}: {error['message']}")
        time.sleep(float(reply_headers["retry-after"]))
    return f"no answer but refusals within {BULK_DEADLINE_SECONDS} s", refusals


def test_concurrent_maximal_batches_on_servers_held_to_384_mib(pod_edge: Edge) -> None:
    """16 concurrent maximal authenticated /batch calls against two servers with a 384 MiB
    pod's budget, small JSON and gRPC calls beside them: each bulk call succeeds, at once or
    after retryable refusals; no server is lost, none grows past 384 MiB; the steady load
    keeps >= 99%."""
    edge = pod_edge
    body = maximal_batch_body()
    pids = [server.popen.pid for server in edge.servers]
    answers: list[str] = []
    refusals: list[str] = []
    lock = threading.Lock()

    def bulk(index: int) -> None:
        answer, refused = _maximal_batch_until_answered(edge, index, body)
        with lock:
            answers.append(answer)
            refusals.extend(refused)

    grpc_load = Load(
        f"127.0.0.1:{edge.port}",
        threads=2,
        max_seconds=BULK_DEADLINE_SECONDS + 60,
        credentials=grpc.ssl_channel_credentials(edge.ca.read_bytes()),
        metadata=(
            ("authorization", f"Bearer {edge.token(STEADY_GRPC_SUBJECT)}"),
            ("x-forwarded-for", STEADY_GRPC_CLIENT),
        ),
        pause=0.05,
    )
    started = time.monotonic()
    with Watch(edge).running() as watch, grpc_load:
        callers = [threading.Thread(target=bulk, args=(i,)) for i in range(BULK_CALLS)]
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join(timeout=BULK_DEADLINE_SECONDS + 130)
    grpc_report = grpc_load.report
    spent = time.monotonic() - started
    forms = collections.Counter(refusal_form(refusal) for refusal in refusals)
    print(
        f"[concurrent maximal batches] {BULK_CALLS} concurrent {len(body) / MIB:.1f} MiB "
        f"/batch bodies of {MAX_RECORDS:,} records, two servers with a "
        f"{POD_BUDGET_BYTES / MIB:.0f} MiB budget, in {spent:.0f} s: "
        f"{collections.Counter(answers)}; "
        f"{len(refusals)} refusals before success: {dict(forms)}; steady gRPC: "
        f"{grpc_report.sent} calls, {grpc_report.failed} failed {grpc_report.errors[:3]}"
    )
    assert [server.popen.pid for server in edge.servers] == pids
    for memory in watch.servers:
        assert memory.peak < SERVER_POD_LIMIT_BYTES, [m.peak / MIB for m in watch.servers]
    assert all(retryable(refusal) for refusal in refusals), dict(forms)
    assert grpc_report.sent >= 10, "the steady gRPC caller hardly ran"
    watch.check(
        "concurrent maximal batches",
        sent=f"{BULK_CALLS} concurrent authenticated maximal bodies (the same {MAX_RECORDS:,} "
        f"records) to `POST /batch`, two servers each with a 384 MiB pod's budget "
        f"({POD_BUDGET_BYTES / MIB:.0f} MiB), small JSON and gRPC calls beside them",
        answer=f"{len(refusals)} refusals, each 503 with `retry-after: 1` (Envoy had retried "
        "the server's `RESOURCE_EXHAUSTED` on the other server first); every call answered in "
        f"full when retried (200, {MAX_RECORDS:,} predictions); no server lost, their peak "
        f"RSS under 384 MiB; {grpc_report.sent - grpc_report.failed:,} of "
        f"{grpc_report.sent:,} steady gRPC calls answered",
        outcomes=dict(collections.Counter(answers)),
        steady=(grpc_report.sent, grpc_report.sent - grpc_report.failed),
        refusals=dict(forms),
    )
