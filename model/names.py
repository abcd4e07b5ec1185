"""The one pattern for model names, versions and labels, wherever they come from: a call,
a repository's files and manifests, an artifact, `diabetes-models`' arguments.

A name is a letter or digit, then up to 63 letters, digits, `.`, `_` or `-`: it is a safe
file name (no `/`, never `.` or `..`), a safe metric label value and short enough to quote
whole. Text that is not a name is quoted by `quoted`, which keeps at most `QUOTE_CHARS`
characters of it, so a refusal never echoes what a caller sent in full.
"""

from __future__ import annotations

import re

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
NAME_RULE = (
    "a letter or digit, then up to 63 letters, digits, '.', '_' or '-' "
    f"(the pattern {NAME_PATTERN})"
)
MAX_NAME_CHARS = 64
# At most this many characters of an invalid name are quoted back.
QUOTE_CHARS = 64

_NAME = re.compile(NAME_PATTERN)


class InvalidNameError(ValueError):
    """A model name, version or label that does not match `NAME_PATTERN`; the message
    quotes at most `QUOTE_CHARS` characters of it."""


def is_valid_name(text: str) -> bool:
    return _NAME.fullmatch(text) is not None


def check_name(text: str, what: str) -> str:
    """`text` if it is a valid name; InvalidNameError saying `what` it was meant to be
    (e.g. "model name") otherwise."""
    if not is_valid_name(text):
        raise InvalidNameError(f"{what} {quoted(text)} is not valid: expected {NAME_RULE}")
    return text


def quoted(text: str) -> str:
    """`text` in double quotes (JSON-style escapes, so control characters stay visible),
    cut to its first `QUOTE_CHARS` characters with its length said when it is longer."""
    if len(text) <= QUOTE_CHARS:
        return _escaped(text)
    return f"{_escaped(text[:QUOTE_CHARS])}... ({len(text):,} characters)"


def _escaped(text: str) -> str:
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    if body.isprintable():
        return f'"{body}"'
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in body) + '"'
