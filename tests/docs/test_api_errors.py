"""The error table of docs/api.md is what a running stack answers, row by row."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import requests

from server.stack.stack import Stack
from tests.docs.markdown import ROOT

API = ROOT / "docs" / "api.md"
REQUEST = re.compile(r"^`(?P<method>[A-Z]+) (?P<path>[^`]+)`(?: `(?P<body>[^`]*)`)?$")
CODE = re.compile(r"^(?P<number>\d+) [A-Z_]+$")


@dataclass(frozen=True)
class Row:
    case: str
    method: str
    path: str
    body: str | None
    status: int
    code: int
    message: str


def table_rows() -> list[Row]:
    text = API.read_text()
    table = text.split("<!-- errors-table -->", 1)[1].split("<!-- end-errors-table -->", 1)[0]
    rows = []
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        case, request, status, code, message = cells
        request_match, code_match = REQUEST.match(request), CODE.match(code)
        assert request_match, f"docs/api.md: cannot read the request in {line!r}"
        assert code_match, f"docs/api.md: cannot read the gRPC code in {line!r}"
        rows.append(
            Row(
                case=case,
                method=request_match["method"],
                path=request_match["path"],
                body=request_match["body"],
                status=int(status),
                code=int(code_match["number"]),
                message=message,
            )
        )
    return rows


ROWS = table_rows()


def test_the_table_covers_the_error_kinds() -> None:
    assert len(ROWS) >= 15
    assert {row.status for row in ROWS} == {400, 404}


@pytest.mark.parametrize("row", ROWS, ids=[row.case for row in ROWS])
def test_error_row_matches_the_service(stack: Stack, row: Row) -> None:
    reply = requests.request(
        row.method,
        f"{stack.http_url}{row.path}",
        data=(row.body or "").encode(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert reply.status_code == row.status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == row.code
    assert body["details"] == []
    if row.message.endswith("..."):
        assert body["message"].startswith(row.message[:-3]), body["message"]
    else:
        assert body["message"] == row.message
