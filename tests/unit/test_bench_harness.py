"""The benchmark's plumbing that needs no load: bodies, generator output parsing, the
and process accounting."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench import payloads
from bench.loadgen import _parse_h2load
from bench.procs import cpu_seconds, process_tree, rss_bytes
from diabetes.v1 import prediction_pb2 as pb

H2LOAD_OUTPUT = """\
finished in 504.23ms, 7278.00 req/s, 455.26KB/s
requests: 3639 total, 3640 started, 3639 done, 3637 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 3637 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 227.63KB (233091) total, 10.73KB (10992) headers (space savings 96.27%), \
17.77KB (18195) data
"""


def test_h2load_output_is_read_with_units_and_failures() -> None:
    result = _parse_h2load(H2LOAD_OUTPUT, np.array([100.0, 200.0, 300.0]))
    assert result.requests == 3637
    assert result.failed == 2
    assert result.seconds == pytest.approx(0.50423)
    assert result.data_bytes == 18195
    assert result.p50_ms == 0.2


def test_grpc_bodies_are_length_prefixed_messages() -> None:
    framed = payloads.grpc_frame(payloads.batch_columns_request(100))
    assert framed[0] == 0
    assert int.from_bytes(framed[1:5], "big") == len(framed) - 5
    request = pb.PredictBatchRequest.FromString(framed[5:])
    assert list(request.columns.bmi) == payloads.bmi_values(100)


def test_every_form_carries_the_same_values() -> None:
    records = pb.PredictBatchRequest.FromString(payloads.batch_records_request(50))
    assert [r.bmi for r in records.records] == payloads.bmi_values(50)
    assert payloads.json_columns(3).startswith(b'{"bmi":[')


def test_process_accounting_reads_this_process() -> None:
    pid = os.getpid()
    assert process_tree(pid)[0] == pid
    assert cpu_seconds([pid]) > 0
    assert rss_bytes([pid]) > 1024 * 1024
    assert cpu_seconds([2**22 + 7]) == 0  # a pid that does not exist counts nothing
