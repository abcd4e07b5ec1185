"""Batch files for the command line: CSV or JSON-lines records in, read in chunks as
feature columns; predictions out as CSV, JSON lines or one JSON array."""

from __future__ import annotations

import csv
import itertools
import json
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from diabetes_client.convert import FEATURES
from diabetes_client.results import BatchPrediction, FloatArray

INPUT_FORMATS = ("csv", "jsonl")
OUTPUT_FORMATS = ("csv", "jsonl", "json")


class InputFileError(ValueError):
    """The input file is not a batch of records; the message names the line."""


@dataclass(frozen=True)
class Chunk:
    columns: dict[str, FloatArray]
    count: int
    # Characters of the input this chunk consumed (for a progress bar).
    size: int


def input_format_for(name: str, first_line: str) -> str:
    """The input format from the file name, else from the first line (stdin)."""
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def output_format_for(name: str | None) -> str:
    lower = (name or "").lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "json" if lower.endswith(".json") else "csv"


def read_chunks(lines: Iterator[str], input_format: str, chunk_records: int) -> Iterator[Chunk]:
    """The records in `lines` as feature columns, `chunk_records` at a time."""
    if input_format == "csv":
        return _csv_chunks(lines, chunk_records)
    return _jsonl_chunks(lines, chunk_records)


def _csv_chunks(stream: Iterator[str], chunk_records: int) -> Iterator[Chunk]:
    header_line = next(stream, "")
    if not header_line.strip():
        raise InputFileError("line 1: expected a header row of feature names, e.g. bmi,bp")
    names = [name.strip() for name in next(csv.reader([header_line]))]
    _check_names(names, "line 1 (the header)")
    line_number = 1
    while lines := list(itertools.islice(stream, chunk_records)):
        data = [line for line in lines if line.strip()]
        if data:
            columns = _csv_columns(data, names)
            if columns is None:
                _raise_csv_problem(lines, names, line_number)
                raise InputFileError(f"lines {line_number + 1}-{line_number + len(lines)}: not CSV")
            yield Chunk(columns, len(data), _size(lines))
        line_number += len(lines)


def _csv_columns(data: list[str], names: list[str]) -> dict[str, FloatArray] | None:
    """The chunk's columns as float64, or None when a line is not right (then
    `_raise_csv_problem` finds and names it). Most of the work is in C: a plain split when
    nothing is quoted, a transpose by zip, float over each column."""
    quoted = '"' in "".join(data)
    rows = list(csv.reader(data)) if quoted else [line.split(",") for line in data]
    if set(map(len, rows)) != {len(names)}:
        return None
    try:
        columns = {
            name: array("d", map(float, column))
            for name, column in zip(names, zip(*rows, strict=True), strict=True)
        }
    except ValueError:
        return None
    if not all(all(map(math.isfinite, column)) for column in columns.values()):
        return None
    return columns


def _raise_csv_problem(lines: list[str], names: list[str], line_number: int) -> None:
    """Find the first line `_csv_columns` refused and say what is wrong with it."""
    for offset, fields in enumerate(csv.reader(lines)):
        where = f"line {line_number + offset + 1}"
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) != len(names):
            raise InputFileError(f"{where}: {len(fields)} values for {len(names)} columns")
        for name, field in zip(names, fields, strict=True):
            try:
                value = float(field)
            except ValueError:
                raise InputFileError(f"{where}, column {name}: {field!r} is not a number") from None
            if not math.isfinite(value):
                raise InputFileError(f"{where}, column {name}: {value} is not a finite number")


def _jsonl_chunks(stream: Iterator[str], chunk_records: int) -> Iterator[Chunk]:
    names: list[str] | None = None
    line_number = 0
    while lines := list(itertools.islice(stream, chunk_records)):
        columns: list[list[float]] = []
        count = 0
        for offset, line in enumerate(lines):
            if not line.strip():
                continue
            where = f"line {line_number + offset + 1}"
            record = _json_record(line, where)
            if names is None:
                names = list(record)
                _check_names(names, where)
            if record.keys() != set(names):
                raise InputFileError(
                    f"{where}: has features {sorted(record)} but line 1 has {sorted(names)}; "
                    "every record needs the same features"
                )
            if not columns:
                columns = [[] for _ in names]
            for column, name in zip(columns, names, strict=True):
                column.append(_json_number(record[name], f"{where}, {name}"))
            count += 1
        line_number += len(lines)
        if count and names is not None:
            arrays = {name: array("d", column) for name, column in zip(names, columns, strict=True)}
            yield Chunk(arrays, count, _size(lines))


def _json_record(line: str, where: str) -> dict[str, object]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise InputFileError(
            f'{where}: expected a JSON object of feature values, e.g. {{"bmi": 0.06}}'
        )
    return record


def _json_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputFileError(f"{where}: {json.dumps(value)} is not a finite number")
    return float(value)


def _check_names(names: list[str], where: str) -> None:
    if not names:
        raise InputFileError(f"{where}: no features")
    unknown = [name for name in names if name not in FEATURES]
    if unknown:
        raise InputFileError(
            f"{where}: unknown feature(s) {', '.join(map(repr, unknown))}; "
            f"the features are {', '.join(FEATURES)}"
        )
    if len(set(names)) != len(names):
        raise InputFileError(f"{where}: a feature is named twice")


def _size(lines: list[str]) -> int:
    return sum(map(len, lines))


class ResultWriter:
    """Writes predictions, chunk after chunk, in one of OUTPUT_FORMATS."""

    def __init__(self, stream: TextIO, output_format: str, include_intervals: bool) -> None:
        self._stream = stream
        self._format = output_format
        self._fields = ["prediction", *(["lower", "upper"] if include_intervals else [])]
        self._written = 0

    def write(self, result: BatchPrediction) -> None:
        """Write the predictions of the next records."""
        columns = [result.predictions.tolist()]
        if result.lower is not None and result.upper is not None and len(self._fields) > 1:
            columns += [result.lower.tolist(), result.upper.tolist()]
        out_of_range = set(result.out_of_range_indices)
        flagged = [i in out_of_range for i in range(len(result))]
        rows = zip(*columns, flagged, strict=True)
        if self._format == "csv":
            if not self._written:
                self._stream.write(",".join([*self._fields, "out_of_range"]) + "\n")
            lines = [",".join([*map(repr, row[:-1]), _bool(row[-1])]) for row in rows]
        else:
            lines = [
                "{"
                + ", ".join(f'"{f}": {v!r}' for f, v in zip(self._fields, row, strict=False))
                + f', "out_of_range": {_bool(row[-1])}}}'
                for row in rows
            ]
        if self._format == "json":
            separator = ",\n" if self._written else "[\n"
            self._stream.write(separator + ",\n".join(lines))
        else:
            self._stream.write("\n".join(lines) + "\n")
        self._written += len(result)

    def close(self) -> None:
        if self._format == "json":
            self._stream.write("\n]\n" if self._written else "[]\n")


def _bool(value: bool) -> str:
    return "true" if value else "false"
