"""The bounded looks at a caller's JSON: counts and positions found a block at a time, as
`bytes` itself would find them, and quotes cut short."""

from __future__ import annotations

import numpy as np
import pytest

from server.bounds.json_bounds import (
    count_bytes,
    nth_byte,
    quoted,
    shortened_backticks,
    value_window,
)

SIZES = [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 5]


def _data(size: int) -> bytes:
    return np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes()


@pytest.mark.parametrize("size", SIZES)
def test_count_bytes_counts_like_bytes_count(size: int) -> None:
    data = _data(size)
    assert count_bytes(data, b"{:") == data.count(b"{") + data.count(b":")


@pytest.mark.parametrize("size", SIZES)
def test_nth_byte_finds_what_bytes_find_finds(size: int) -> None:
    data = _data(size)
    start, expected = 7, list[int]()
    position = data.find(b",", start)
    while position >= 0 and len(expected) < 5_000:
        expected.append(position)
        position = data.find(b",", position + 1)
    for n in {1, 2, len(expected) // 2 or 1, len(expected) or 1}:
        assert nth_byte(data, ord(","), n, start) == (expected[n - 1] if n <= len(expected) else -1)
    assert nth_byte(data, ord(","), len(expected) + 10**7, start) == -1


def test_quotes_are_cut_to_64_characters() -> None:
    assert quoted("x" * 64) == "x" * 64
    assert quoted("x" * 65) == "x" * 61 + "..."
    assert shortened_backticks(f"unknown field `{'y' * 100}` - at `$.a`") == (
        f"unknown field `{'y' * 61}...` - at `$.a`"
    )


@pytest.mark.parametrize(
    ("body", "path", "got", "text"),
    [
        (b'[{"a": 1}, {"a": 2},\n {"b": 3, "a": "s"}]', [2, "a"], "str", '"s"'),
        (b'{"a": [1, 2, 3], "b": [4, null]}', ["b", 1], "null", "null"),
        (b'{"a": 1, "b": true}', ["b"], "bool", "true"),
        (b'{"a": [1, 2]}', ["a", 5], "float", None),  # past the end
        (b'{"a": "' + b"q" * 100 + b'"}', ["a"], "str", '"' + "q" * 36 + "..."),
        (b'{"a": [[1]]}', ["a", 0], "array", None),  # containers are named, not quoted
        (b'{"a": 1', ["b"], "float", None),  # malformed before the value
    ],
)
def test_value_window_reads_the_scalar_at_a_path(
    body: bytes, path: list[int | str], got: str, text: str | None
) -> None:
    assert value_window(body, path, got) == text
