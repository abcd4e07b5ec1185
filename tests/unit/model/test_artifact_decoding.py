"""Every way an artifact file can be unreadable or malformed is an `ArtifactError` naming the
file and the problem: never a UnicodeDecodeError, RecursionError, OverflowError or TypeError
escaping to the server (whose file watcher would die of it)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import artifact
from model.artifact import BUNDLED_ARTIFACT, ArtifactError, compute_checksum, load_artifact

GOOD = json.loads(BUNDLED_ARTIFACT.read_text())


def _refusal(path: Path) -> str:
    with pytest.raises(ArtifactError) as error:
        load_artifact(path)
    message = str(error.value)
    assert str(path) in message
    return message


def _write(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / "model.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _resealed(document: Any) -> str:
    """A document with a valid checksum, so the schema checks (not the checksum) must refuse it."""
    if isinstance(document, dict):
        document = {**document, "checksum": compute_checksum(document)}
    return json.dumps(document)


BAD_BYTES = [
    ("non-UTF-8", b'{"name": "\xff\xfe"}', "is not UTF-8 text (byte 10: invalid start byte)"),
    ("latin-1 text", GOOD["name"].encode() + b"\xe9", "is not UTF-8 text"),
    ("invalid JSON", b'{"name": ', "is not valid JSON"),
    ("NaN", b'{"x": NaN}', "NaN is not allowed in an artifact"),
    ("deeply nested array", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("deeply nested object", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    ("integer of 5000 digits", b'{"n": ' + b"9" * 5000 + b"}", "is not valid JSON"),
    ("empty", b"", "is empty"),
    ("only whitespace", b" \n\t\n", "is empty"),
    ("a JSON list", b"[1, 2]", "artifact must be a JSON object"),
    ("a JSON string", b'"model"', "artifact must be a JSON object"),
    ("null", b"null", "artifact must be a JSON object"),
]


@pytest.mark.parametrize(("case", "content", "words"), BAD_BYTES, ids=[c[0] for c in BAD_BYTES])
def test_undecodable_files_are_refused(
    tmp_path: Path, case: str, content: bytes, words: str
) -> None:
    assert words in _refusal(_write(tmp_path, content))


def _with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(json.dumps(GOOD))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


WRONG_VALUES = [
    ("huge integer", ("intercept",), 10**400, "artifact.intercept must be a finite number"),
    ("huge n_train", ("interval", "n_train"), 10**400, "n_train differs from"),
    ("features as a string", ("features",), "bmi", "artifact.features must be a list of strings"),
    ("coefficient as a string", ("coefficients",), ["1.0"], "coefficients[0] must be a finite"),
    ("boolean number", ("intercept",), True, "artifact.intercept must be a finite number"),
    ("interval as a list", ("interval",), [1, 2], "artifact.interval must be a JSON object"),
    ("matrix of the wrong shape", ("interval", "xtx_inv_centered"), [[1, 2]], "1x1 matrix"),
    ("negative variance", ("interval", "xtx_inv_centered"), [[-1.0]], "positive semi-definite"),
    ("metric as null", ("metrics", "test_r2"), None, "artifact.metrics.test_r2 must be"),
    ("version as a number", ("version",), 3, "artifact.version must be a non-empty string"),
    ("unknown feature", ("features",), ["shoe_size"], "features must be distinct names"),
    ("overflowing intercept", ("intercept",), 1.7e308, "would not be finite"),
]


@pytest.mark.parametrize(
    ("case", "path", "value", "words"), WRONG_VALUES, ids=[c[0] for c in WRONG_VALUES]
)
def test_wrong_types_and_numbers_are_refused_even_with_a_valid_checksum(
    tmp_path: Path, case: str, path: tuple[str, ...], value: Any, words: str
) -> None:
    sys.set_int_max_str_digits(0)  # so that json can write the 400-digit integers
    try:
        content = _resealed(_with(path, value))
    finally:
        sys.set_int_max_str_digits(4300)
    assert words in _refusal(_write(tmp_path, content))


def test_a_float_literal_beyond_double_range_is_refused(tmp_path: Path) -> None:
    # json reads 1e999 as inf; no checksum can be computed over it, so the schema refuses it.
    text = json.dumps({**GOOD, "coefficients": [123.0]}).replace("123.0", "1e999")
    message = _refusal(_write(tmp_path, text))
    assert "artifact.coefficients[0] must be a finite number" in message


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "Is a directory" in _refusal(tmp_path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    assert "No such file or directory" in _refusal(tmp_path / "missing.json")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    assert "is not a regular file" in _refusal(fifo)


def test_a_file_over_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artifact, "MAX_ARTIFACT_BYTES", 1024)
    assert "is over 0 MiB" in _refusal(_write(tmp_path, " " * 1025))


def test_permission_denied_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, BUNDLED_ARTIFACT.read_bytes())
    path.chmod(0)
    if os.geteuid() != 0:
        assert "Permission denied" in _refusal(path)
        return
    # root reads any file: load it in a forked child that has become an unprivileged user.
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.setgid(65534)
            os.setuid(65534)
            load_artifact(path)
            report = "loaded"
        except ArtifactError as exc:
            report = str(exc)
        except BaseException as exc:
            report = f"escaped: {exc!r}"
        os.write(write_end, report.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(child, 0)
    assert report == f"cannot read model artifact {path}: Permission denied"


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000))
def test_arbitrary_bytes_are_refused_cleanly(tmp_path, content):
    _refusal(_write(tmp_path, content))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(sorted(GOOD)),
    nested=st.sampled_from([None, "mean", "n_train", "xtx_inv_centered", "bmi"]),
    value=JSON_VALUES,
)
def test_any_value_in_any_field_is_loaded_or_refused_cleanly(tmp_path, key, nested, value):
    document = json.loads(json.dumps(GOOD))
    if nested is not None and isinstance(document[key], dict) and nested in document[key]:
        document[key][nested] = value
    else:
        document[key] = value
    path = _write(tmp_path, _resealed(document))
    with contextlib.suppress(ArtifactError):
        load_artifact(path)
