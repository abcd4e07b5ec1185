"""Failed calls become client exceptions that keep the status code and the server's message."""

from __future__ import annotations

import pickle

import grpc
import pytest

from client import (
    DeadlineExceededError,
    InvalidInputError,
    MessageTooLargeError,
    PredictionError,
    UnavailableError,
)
from client.errors import error_from_rpc


class FailedCall(grpc.RpcError):  # type: ignore[misc]
    """What grpc raises for a failed call: an RpcError that is also a grpc.Call."""

    def __init__(self, code: grpc.StatusCode, details: str | None) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str | None:
        return self._details


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidInputError),
        (grpc.StatusCode.UNAVAILABLE, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceededError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, MessageTooLargeError),
        (grpc.StatusCode.INTERNAL, PredictionError),
        (grpc.StatusCode.NOT_FOUND, PredictionError),
    ],
)
def test_status_codes_map_to_exceptions(code, kind):
    error = error_from_rpc(FailedCall(code, "the server says"))
    assert type(error) is kind
    assert (error.code, error.message) == (code, "the server says")
    assert str(error) == f"{code.name}: the server says"


def test_the_call_offset_is_kept_and_shown():
    error = error_from_rpc(FailedCall(grpc.StatusCode.INVALID_ARGUMENT, "columns.bmi[3]"), 2_000)
    assert error.record_offset == 2_000
    assert str(error) == "INVALID_ARGUMENT: columns.bmi[3] (in the call starting at record 2000)"


def test_no_details_is_an_empty_message():
    assert error_from_rpc(FailedCall(grpc.StatusCode.UNKNOWN, None)).message == ""


def test_errors_survive_pickling():
    error = InvalidInputError(grpc.StatusCode.INVALID_ARGUMENT, "record.bmi is missing", 5)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidInputError
    assert (copy.code, copy.message, copy.record_offset, str(copy)) == (
        error.code, error.message, 5, str(error),
    )  # fmt: skip
