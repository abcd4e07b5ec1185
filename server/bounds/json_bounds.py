"""Bounded looks at a JSON body the caller sent, for decoders that must not turn it into
Python objects before its size is known: counting bytes with numpy, finding where a
value starts without decoding what precedes it, and quoting at most a short window.

Every function here costs at most one 1 MiB mask beside the body, whatever the body holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# How much of what a caller sent any message quotes, in characters.
QUOTE_LIMIT = 64
# A value quoted in a decode error: at most this many characters of its JSON text.
VALUE_LIMIT = 40
_BLOCK = 1 << 20
_WHITESPACE = b" \t\r\n"
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_KEY = re.compile(rb'"(?:[^"\\]|\\.)*"\s*:\s*', re.DOTALL)
_SCALAR = re.compile(rb"[^\s,\]}:]+")
_BACKTICKED = re.compile(r"`([^`]*)`")
# The first byte of a JSON value of each of msgspec's "got" kinds.
_STARTS = {
    "str": b'"',
    "null": b"n",
    "bool": b"tf",
    "float": b"-0123456789",
    "int": b"-0123456789",
}


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` as sent when at most `limit` characters, else its start and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shortened_backticks(message: str) -> str:
    """msgspec's message with every `quoted` part (field names it echoes) kept short."""
    return _BACKTICKED.sub(lambda part: f"`{quoted(part[1])}`", message)


def count_bytes(data: bytes | memoryview, chars: bytes) -> int:
    """How many bytes of `data` are one of `chars`, a block of bytes at a time (one
    comparison per char: ten times faster than a lookup table)."""
    octets, count = np.frombuffer(data, np.uint8), 0
    for start in range(0, len(octets), _BLOCK):
        block = octets[start : start + _BLOCK]
        count += sum(int(np.count_nonzero(block == char)) for char in chars)
    return count


def nth_byte(data: bytes, byte: int, n: int, start: int) -> int:
    """Where the `n`th (from 1) occurrence of `byte` at or after `start` is; -1 if none."""
    octets = np.frombuffer(data, np.uint8)
    for first in range(start, len(octets), _BLOCK):
        found = np.flatnonzero(octets[first : first + _BLOCK] == byte)
        if len(found) >= n:
            return first + int(found[n - 1])
        n -= len(found)
    return -1


def value_window(body: bytes, path: Sequence[int | str], got: str) -> str | None:
    """The JSON text of the scalar of kind `got` (msgspec's name: str, float, bool, ...)
    at `path` in `body`, at most `VALUE_LIMIT` characters; None when not found or not a
    scalar.

    Only for a typed decoder's error: everything before the value was accepted by the
    decoder, so the values passed over on the way are flat (numbers, null, objects of
    numbers, arrays of numbers) and a separator count finds an array's i-th element."""
    starts = _STARTS.get(got)
    pos = _skip_space(body, 0)
    for step in path:
        if pos < 0:
            return None
        pos = _element(body, pos, step) if isinstance(step, int) else _member(body, pos, step)
    if starts is None or pos < 0 or pos >= len(body) or body[pos] not in starts:
        return None
    window = body[pos : pos + VALUE_LIMIT + 1]
    token = (_STRING if got == "str" else _SCALAR).match(window)
    text = (token[0] if token else window).decode("utf-8", "replace")
    return quoted(text, VALUE_LIMIT)


def _skip_space(body: bytes, pos: int) -> int:
    while pos < len(body) and body[pos] in _WHITESPACE:
        pos += 1
    return pos if pos < len(body) else -1


def _element(body: bytes, pos: int, index: int) -> int:
    if body[pos : pos + 1] != b"[":
        return -1
    first = _skip_space(body, pos + 1)
    if index == 0 or first < 0:
        return first
    if body[first : first + 1] == b"{":  # flat objects: the index-th "}" ends the one before
        end = nth_byte(body, ord("}"), index, first)
        comma = _skip_space(body, end + 1) if end >= 0 else -1
    else:  # numbers or null: the index-th comma
        comma = nth_byte(body, ord(","), index, first)
    if comma < 0 or body[comma : comma + 1] != b",":
        return -1
    return _skip_space(body, comma + 1)


def _member(body: bytes, pos: int, name: str) -> int:
    if body[pos : pos + 1] != b"{":
        return -1
    pos = _skip_space(body, pos + 1)
    while pos >= 0:
        key = _KEY.match(body, pos)
        if key is None:
            return -1
        text = body[key.start() + 1 : key[0].rindex(b'"') + key.start()]
        if text == name.encode():
            return key.end()
        pos = _past_value(body, key.end())
        pos = _skip_space(body, pos) if pos >= 0 else -1
        if pos < 0 or body[pos : pos + 1] != b",":
            return -1
        pos = _skip_space(body, pos + 1)
    return -1


def _past_value(body: bytes, pos: int) -> int:
    """The end of an accepted value: a number, null, or an array or object of numbers."""
    opening = body[pos : pos + 1]
    if opening in (b"[", b"{"):
        end = body.find(b"]" if opening == b"[" else b"}", pos)
        return end + 1 if end >= 0 else -1
    scalar = _SCALAR.match(body, pos)
    return scalar.end() if scalar else -1
