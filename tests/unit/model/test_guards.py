"""Guard expressions and windows as `diabetes-models canary --guard/--window` takes them, the
manifest's guard record, and a breach written once: the canary's share 0, the reason in
`changes`, a second server's breach refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.guards import Breach, Guard, GuardError, parse_expression, parse_window
from model.repository import (
    Labels,
    RepositoryError,
    breach_canary,
    parse_labels,
    read_labels,
    write_labels,
)

BREACH = Breach("2026-12-08T00:00:00Z", "guard@host:1", "v2", "beyond_interval_share", 0.5,
                "beyond_interval_share<0.05")  # fmt: skip


def test_expressions_hold_below_their_limit() -> None:
    strict = parse_expression("beyond_interval_share<0.05")
    assert (strict.figure, strict.operator, strict.limit) == ("beyond_interval_share", "<", 0.05)
    assert strict.holds(0.04)
    assert not strict.holds(0.05)
    inclusive = parse_expression(" mean_abs_diff <= 20 ")
    assert inclusive.holds(20.0)
    assert not inclusive.holds(20.5)
    assert inclusive.text == "mean_abs_diff<=20"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error_rate<0.01", "no figure 'error_rate'; figures: beyond_interval_share"),
        ("beyond_interval_share>0.05", "is not FIGURE<LIMIT or FIGURE<=LIMIT"),
        ("max_abs_diff<1e999", "the limit must be finite"),
        ("x" * 500, "'" + "x" * 64 + "' is not"),
    ],
)
def test_bad_expressions_name_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(GuardError, match=r"^guard ") as raised:
        parse_expression(text)
    assert message in str(raised.value)
    assert len(str(raised.value)) < 200


def test_windows() -> None:
    assert parse_window("5m") == 300.0
    assert parse_window("90s") == 90.0
    assert parse_window("1h") == 3600.0
    assert parse_window("45") == 45.0
    for bad in ("2h", "0s", "5 minutes", ""):
        with pytest.raises(GuardError, match="window"):
            parse_window(bad)


def test_a_guard_round_trips_through_the_manifest(tmp_path: Path) -> None:
    guard = Guard((parse_expression("beyond_interval_share<0.05"),), 30.0, 10, BREACH)
    labels = Labels("v1", "v2", 0.0, (), "v3", guard)
    path = tmp_path / "labels.json"
    write_labels(path, labels)
    assert read_labels(path) == labels
    assert json.loads(path.read_text())["guard"]["breached"]["by"] == "guard@host:1"


def test_a_manifest_without_the_new_keys_reads_and_writes_as_before() -> None:
    document: dict[str, object] = {
        "stable": "v1",
        "canary": None,
        "canary_percent": 0,
        "history": [],
    }
    assert parse_labels(document, "labels.json").document() == {**document, "canary_percent": 0.0}


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        ({"expressions": []}, "labels.json.guard.expressions: expected a non-empty list"),
        ({"expressions": ["mean_abs_diff<1"], "window_seconds": 0}, "window_seconds: must be"),
        ({"expressions": ["mean_abs_diff<1"], "min_compared": 0}, "min_compared: expected"),
        ({"expressions": ["mean_abs_diff<1"], "breached": {"at": "x"}}, "breached: 'by'"),
        ({"expressions": ["nope<1"]}, "no figure 'nope'"),
    ],
)
def test_a_bad_guard_record_refuses_the_manifest(guard: object, message: str) -> None:
    with pytest.raises(RepositoryError) as raised:
        parse_labels({"stable": "v1", "canary": "v2", "guard": guard}, "labels.json")
    assert message in str(raised.value)


def test_a_breach_zeroes_the_share_once_and_says_why(tmp_path: Path) -> None:
    manifest = tmp_path / "m" / "labels.json"
    guard = Guard((parse_expression("beyond_interval_share<0.05"),), 30.0, 10)
    write_labels(manifest, Labels("v1", "v2", 50.0, (), None, guard))
    assert breach_canary(tmp_path, "m", BREACH) is True
    labels = read_labels(manifest)
    assert (labels.canary, labels.canary_percent) == ("v2", 0.0)
    assert labels.guard is not None
    assert labels.guard.breached == BREACH
    assert labels.changes[-1] == {
        "at": BREACH.at,
        "by": "guard@host:1",
        "change": "canary rolled back",
        "detail": "v2: beyond_interval_share was 0.5, breaking beyond_interval_share<0.05; "
        "canary_percent set to 0",
    }
    later = Breach("2026-12-08T00:00:01Z", "guard@other:2", "v2", "mean_abs_diff", 9, "x")
    assert breach_canary(tmp_path, "m", later) is False  # another server was first
    assert read_labels(manifest).guard.breached == BREACH  # type: ignore[union-attr]
    assert len(read_labels(manifest).changes) == 1
