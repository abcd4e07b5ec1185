"""The one name pattern for models, versions and labels, and the short quotes of text that
is not a name."""

from __future__ import annotations

import pytest

from model.names import QUOTE_CHARS, InvalidNameError, check_name, is_valid_name, quoted


@pytest.mark.parametrize(
    "name",
    ["diabetes-bmi", "bmi-raw-20261130-04afd835", "v1", "1", "a.b_c-d", "A" * 64, "stable"],
)
def test_valid_names(name: str) -> None:
    assert is_valid_name(name)
    assert check_name(name, "model name") == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "../../x", "a/b", "-v1", ".hidden", "_x", "a b", "v1\n", "é", "A" * 65],
)
def test_invalid_names(name: str) -> None:
    assert not is_valid_name(name)
    with pytest.raises(InvalidNameError) as error:
        check_name(name, "model name")
    assert str(error.value).startswith(f"model name {quoted(name)} is not valid: expected ")
    assert "[A-Za-z0-9][A-Za-z0-9._-]{0,63}" in str(error.value)


def test_a_long_name_is_quoted_by_its_first_64_characters_and_its_length() -> None:
    name = "x" * 200_000
    with pytest.raises(InvalidNameError) as error:
        check_name(name, "model name")
    message = str(error.value)
    assert f'model name "{"x" * QUOTE_CHARS}"... (200,000 characters) is not valid' in message
    assert "x" * (QUOTE_CHARS + 1) not in message
    assert len(message) < 250


def test_quotes_escape_quotes_and_control_characters() -> None:
    assert quoted('a"b') == '"a\\"b"'
    assert quoted("a\nb\x00") == '"a\\u000ab\\u0000"'
    assert quoted("x" * 64) == '"' + "x" * 64 + '"'
