"""Every error a caller can get is in one list (tools/docs/docgen/errors.py), which docs/api.md
renders: each entry with a request is checked against a running stack here, each other entry
names the test that triggers it, and every message the server's validation or Envoy's local
replies can produce matches an entry."""

from __future__ import annotations

import ast
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from server.stack.envoy_config import EnvoyOptions, write
from server.stack.stack import EnvoyPorts, Stack, bound_ports, envoy_command
from tests.docs.docgen_tools import errors
from tests.docs.markdown import ROOT
from tests.support.processes import wait_until

VALIDATION = ROOT / "server" / "validation.py"
ENVOY = ROOT / "envoy.yaml"
REQUESTS = [e for e in errors.ERRORS if e.request is not None]
OTHERS = [e for e in errors.ERRORS if e.request is None]


def assert_error_reply(reply: requests.Response, error: errors.Error) -> None:
    assert reply.status_code == error.status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == error.code
    assert body["details"] == []
    if error.message.endswith("..."):
        assert body["message"].startswith(error.prefix), body["message"]
    else:
        assert body["message"] == error.message


def test_the_list_covers_the_error_kinds() -> None:
    assert len(REQUESTS) >= 18
    assert {e.status for e in REQUESTS} == {400, 404}
    assert all(e.code in errors.GRPC_CODES for e in errors.ERRORS)


@pytest.mark.parametrize("error", REQUESTS, ids=[e.case for e in REQUESTS])
def test_error_matches_the_service(stack: Stack, error: errors.Error) -> None:
    assert error.request is not None
    reply = requests.request(
        error.request.method,
        f"{stack.http_url}{error.request.path}",
        data=(error.request.body or "").encode(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert_error_reply(reply, error)


def _defined_tests(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}::{f.name}" for f in node.body if isinstance(f, ast.FunctionDef)}
    return names


@pytest.mark.parametrize("error", OTHERS, ids=[e.case for e in OTHERS])
def test_every_other_error_names_a_test_that_triggers_it(error: errors.Error) -> None:
    path, _, name = error.checked_by.partition("::")
    assert name, f"{error.case}: checked_by must be tests/...py::test_name"
    assert name in _defined_tests(ROOT / path), f"{error.checked_by} does not exist"


def _template_pattern(node: ast.JoinedStr) -> str:
    """An f-string as a regex: literal parts escaped, each placeholder any text."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(re.escape(str(value.value)))
        else:
            parts.append(".*")
    return "".join(parts)


def validation_messages() -> list[str]:
    """Regexes of every message server/validation.py raises InvalidInputError with: an
    f-string or constant given directly, or returned by a module function that builds it."""
    tree = ast.parse(VALIDATION.read_text())
    builders = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    patterns = []

    def add(message: ast.expr) -> None:
        if isinstance(message, ast.Constant):
            patterns.append(re.escape(str(message.value)))
        elif isinstance(message, ast.JoinedStr):
            patterns.append(_template_pattern(message))
        else:
            assert isinstance(message, ast.Call), ast.dump(message)
            builder = builders[getattr(message.func, "id", "")]
            returns = [n for n in ast.walk(builder) if isinstance(n, ast.Return)]
            assert returns, f"{builder.name} returns no message"
            for each in returns:
                assert each.value is not None
                add(each.value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "InvalidInputError":
            (message,) = node.args
            add(message)
    return patterns


def test_every_validation_message_is_in_the_list() -> None:
    patterns = validation_messages()
    assert len(patterns) >= 7
    messages = [e.prefix for e in errors.ERRORS]
    for pattern in patterns:
        assert any(re.fullmatch(pattern, m) or re.match(pattern, m) for m in messages), (
            f"server/validation.py can answer {pattern!r}, which docs/api.md does not list"
        )


def envoy_local_replies() -> list[tuple[int, str]]:
    """(HTTP status, the fixed start of the message) of each of Envoy's local reply shapes;
    status 0 for a gRPC-only one (a mapper that sets `grpc-status`)."""
    config = yaml.safe_load(ENVOY.read_text())
    listener = config["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    replies = []
    for mapper in manager["local_reply_config"]["mappers"]:
        selector = mapper["filter"]
        filters = selector["and_filter"]["filters"] if "and_filter" in selector else [selector]
        (comparison,) = (
            f["status_code_filter"]["comparison"] for f in filters if "status_code_filter" in f
        )
        if comparison["op"] != "EQ":
            continue
        body = mapper["body_format_override"]
        if "json_format" in body:
            message = body["json_format"]["message"]
        else:
            message = body["text_format_source"]["inline_string"]
        grpc_only = any(
            h["header"]["key"] == "grpc-status" for h in mapper.get("headers_to_add", [])
        )
        status = (
            0 if grpc_only else int(mapper.get("status_code", comparison["value"]["default_value"]))
        )
        replies.append((status, message.split("%", 1)[0]))
    return replies


def test_every_envoy_local_reply_is_in_the_list() -> None:
    replies = envoy_local_replies()
    assert {status for status, _ in replies} >= {0, 400, 404, 413, 429, 503, 504}
    for status, start in replies:
        listed = [e for e in errors.ERRORS if e.status == status]
        assert listed, f"Envoy answers {status} ({start!r}...), which docs/api.md does not list"
        assert any(e.message.startswith(start) for e in listed), (status, start)


@pytest.fixture
def silent_upstream() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@pytest.mark.slow
def test_a_silent_server_is_504_json(silent_upstream: int, tmp_path: Path) -> None:
    """The route timeout (3 tries of at most 5 s each, 15 s in all) ends in a JSON 504."""
    options = EnvoyOptions(
        upstreams=(("127.0.0.1", silent_upstream),),
        listen_address="127.0.0.1",
        http_port=0,  # Envoy binds free ports itself; bound_ports reads them back
        admin_port=0,
    )
    config = write(options, tmp_path / "envoy.yaml")
    admin_address = tmp_path / "admin-address"
    log = (tmp_path / "envoy.log").open("wb")
    envoy = subprocess.Popen(
        envoy_command(config, admin_address_path=admin_address),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        ports: list[EnvoyPorts] = []

        def ready() -> bool:
            found = bound_ports(admin_address)
            if found is None or not _answers(f"http://127.0.0.1:{found.admin}/ready"):
                return False
            ports.append(found)
            return True

        wait_until(ready, timeout=30, what="Envoy ready", alive=lambda: envoy.poll() is None)
        reply = requests.get(f"http://127.0.0.1:{ports[0].http}/model", timeout=60)
        (expected,) = [e for e in errors.ERRORS if e.status == 504]
        assert_error_reply(reply, expected)
    finally:
        envoy.terminate()
        envoy.wait(timeout=30)
        log.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
