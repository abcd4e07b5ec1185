"""The committed abuse run (docs/results/abuse.json, rendered into operations.md's abuse
table) holds what the suite asserts: each case's outcomes are the documented ones, the steady
load kept >= 99%, Envoy stayed under its container limit, and the servers held to 384 MiB did;
each hostile body got its documented answer within design.md's bound."""

from __future__ import annotations

from typing import Any

import pytest

from tests.abuse import test_body_bounds as body_bounds
from tests.abuse.results import EXPECTED, SERVER_POD_LIMIT_BYTES, retryable
from tests.docs.docgen_tools import abuse, gen_docs

CASES: dict[str, Any] = dict(abuse.abuse_results()["cases"])


def test_every_case_in_the_file_is_one_the_suite_runs() -> None:
    assert CASES, "the committed abuse run holds no case"
    assert set(CASES) <= set(EXPECTED)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_saw_what_the_suite_asserts(name: str) -> None:
    case = CASES[name]
    assert case["outcomes"] == EXPECTED[name]
    assert case["steady_calls"] >= 10
    assert case["steady_ok"] >= 0.99 * case["steady_calls"]
    assert case["envoy"]["peak"] < case["envoy"]["limit"]
    assert all(retryable(form) for form in case["refusals"]), case["refusals"]


def test_the_servers_held_to_a_pod_limit_stayed_under_it() -> None:
    case = CASES.get("concurrent maximal batches")
    if case is None:
        pytest.skip("the committed run has no concurrent maximal batches (the case failed)")
    assert len(case["servers"]) == 2
    assert all(0 < server["peak"] < SERVER_POD_LIMIT_BYTES for server in case["servers"])


def test_operations_md_renders_the_committed_run() -> None:
    assert abuse.abuse_table() in (gen_docs.ROOT / "docs" / "operations.md").read_text()
    assert "docs/operations.md" not in gen_docs.stale(["docs/operations.md"])


SHAPES: dict[str, Any] = dict(abuse.abuse_results().get("shapes", {}))


def test_every_hostile_body_the_suite_sends_is_in_the_file() -> None:
    assert set(SHAPES) == {case.name for case in body_bounds.CASES}


@pytest.mark.parametrize("case", body_bounds.CASES, ids=[c.name for c in body_bounds.CASES])
def test_each_hostile_body_got_the_documented_answer_within_the_bound(
    case: body_bounds.Case,
) -> None:
    shape = SHAPES[case.name]
    assert (shape["path"], shape["status"], shape["message"]) == (
        case.path,
        case.status,
        case.message,
    )
    assert shape["sent_bytes"] == len(case.body)
    assert shape["bound"] == body_bounds.BODY_FACTOR * len(case.body) + body_bounds.SLACK
    assert 0 <= shape["server_growth"] <= shape["bound"]
