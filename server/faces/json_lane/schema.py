"""The JSON lane's strict decoders, built at start-up from the contract's `Record` fields.

Every `Record` field (an `optional double`) becomes a field of a msgspec Struct typed
`float | None`, defaulting to UNSET, so "absent" and `null` stay distinguishable; unknown
fields are refused. A smaller decoder per model (only the fields it reads) is tried first
on `POST /batch`; see `JsonSchema.decode_records`. Numbers must be JSON numbers: `"0.05"`
is refused (strict, unlike protobuf's JSON mapping on `POST /stream`). Decode errors become
`InvalidInputError`s naming the record index and field, e.g.
`records[12].bmi: expected a number, got "abc"`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from google.protobuf.descriptor import FieldDescriptor

from diabetes.v1 import prediction_pb2 as pb
from server.bounds.json_bounds import count_bytes, quoted, shortened_backticks, value_window
from server.errors import InvalidInputError

# msgspec's `<what> - at `$<path>``, e.g. "Expected `float | null`, got `str` - at `$[12].bmi`".
_LOCATED = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]*)`, got `(?P<got>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>.*)`$", re.DOTALL)
_MAX_DOUBLE = "the largest is about 1.8e308"
_PATH_STEP = re.compile(r"\[(\d+)\]|\.([^.\[]+)")
_JSON_KINDS = {
    "float": "a number",
    "float | null": "a number",
    "int": "a number",
    "array": "an array",
    "object": "an object",
    "str": "a string",
    "bool": "a boolean",
    "null": "null",
}


@dataclass(frozen=True)
class BodyShape:
    """What one route takes, for messages: `POST /batch` takes `records`, an array."""

    route: str
    root: str
    example: str
    # The fewest bytes one value of the body takes with its comma (`{},` or `0,`).
    min_item_bytes: int
    item_byte: bytes
    items: str


RECORDS = BodyShape(
    "POST /batch", "records", 'a JSON array of records, e.g. [{"bmi": 0.05}]', 3, b"{", "records"
)
RECORD = BodyShape("POST /stream", "record", 'a JSON record, e.g. {"bmi": 0.05}', 0, b"{", "")
COLUMNS = BodyShape(
    "POST /batch/columns",
    "columns",
    'a JSON object of one array per feature, e.g. {"bmi": [0.05, -0.02]}',
    2,
    b",",
    "values",
)


def record_fields(descriptor: Any) -> tuple[str, ...]:
    """The record fields of a message descriptor, in field order; all must be
    `optional double`."""
    for field in descriptor.fields:
        if field.type != FieldDescriptor.TYPE_DOUBLE or not field.has_presence:
            raise TypeError(f"{descriptor.full_name}.{field.name} is not an optional double")
    return tuple(field.name for field in descriptor.fields)


def count_byte(data: bytes, byte: bytes) -> int:
    """How often `byte` occurs in `data`: numpy compares a block of bytes at a time,
    about 9 times faster than `bytes.count` on a 3 MB body, with at most one 1 MiB mask
    held at once."""
    return count_bytes(data, byte)


class JsonSchema:
    """Strict decoders for the two body shapes, made from one list of field names."""

    def __init__(self, fields: tuple[str, ...]) -> None:
        self.fields = fields
        record = msgspec.defstruct(
            "Record",
            [(name, float | None | msgspec.UnsetType, msgspec.UNSET) for name in fields],
            forbid_unknown_fields=True,
            gc=False,  # floats only: 100,000 of them are much cheaper to build untracked
        )
        columns = msgspec.defstruct(
            "Columns",
            [(name, list[float] | None | msgspec.UnsetType, msgspec.UNSET) for name in fields],
            forbid_unknown_fields=True,
        )
        # The columns left raw, to count each one's values before any is decoded.
        raw_columns = msgspec.defstruct(
            "RawColumns",
            [(name, msgspec.Raw, msgspec.Raw()) for name in fields],
            forbid_unknown_fields=True,
        )
        self._raw_columns = msgspec.json.Decoder(raw_columns)
        self._records = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
        self._columns = msgspec.json.Decoder(columns)
        self._record = msgspec.json.Decoder(record)
        self._model_records: dict[tuple[str, ...], msgspec.json.Decoder[list[Any]]] = {}

    @classmethod
    def from_contract(cls) -> JsonSchema:
        """The decoders for the contract's `diabetes.v1.Record`."""
        return cls(record_fields(pb.Record.DESCRIPTOR))

    def decode_records(
        self, body: bytes, max_records: int, features: Sequence[str] = ()
    ) -> list[Any]:
        """The records of a `POST /batch` body: Structs with (at least) a float, None or
        UNSET attribute per field named in `features`.

        Given the model's `features`, a decoder of only those fields, each a required
        float, is tried first: it accepts a strict subset of what the full schema accepts,
        with the same values, and builds records of one slot per feature instead of one
        per contract field (twice as fast on BMI-only records). On any error the full
        schema decodes the body again, so it alone decides what is refused and how the
        message reads."""
        self._check_body(body, RECORDS, max_records, max_records)
        model_decoder = self._model_decoder(tuple(features)) if features else None
        if model_decoder is not None:
            try:
                records: list[Any] = model_decoder.decode(body)
                return records
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                pass
        records = self._decode(self._records, body, RECORDS)
        return records

    def decode_record(self, body: bytes) -> Any:
        """The record of a `POST /stream` body: a Struct whose fields are float, None or UNSET."""
        if not body.strip():
            raise InvalidInputError(
                f"the body of {RECORD.route} must be {RECORD.example}; got an empty body"
            )
        return self._decode(self._record, body, RECORD)

    def decode_columns(self, body: bytes, max_records: int) -> Any:
        """The columns of a `POST /batch/columns` body: a Struct of float lists, None or UNSET."""
        most = max_records * len(self.fields)
        self._check_body(body, COLUMNS, max_records, most)
        self._check_columns(body, max_records)
        return self._decode(self._columns, body, COLUMNS)

    def _check_columns(self, body: bytes, max_records: int) -> None:
        """Refuse a column of more than `max_records` values before any is decoded (the
        body's own count allows one per record and field: 1,000,000 floats in one column
        would cost 30 MiB). A body that does not decode raw is left to the typed decode,
        which words the error; a body of fewer commas than that cannot hold such a column."""
        if len(body) <= COLUMNS.min_item_bytes * max_records or (
            count_byte(body, b",") < max_records
        ):
            return
        try:
            columns = self._raw_columns.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return
        for name in self.fields:
            column = getattr(columns, name)
            if len(column) > COLUMNS.min_item_bytes * max_records and (
                count_byte(column, b",") >= max_records
            ):
                raise InvalidInputError(
                    f"columns.{name} holds more than {max_records} values: over the limit of "
                    f"{max_records} records per call; split it into several calls"
                )

    def _model_decoder(self, features: tuple[str, ...]) -> msgspec.json.Decoder[list[Any]] | None:
        """The decoder of records holding exactly `features`; None if the contract lacks one
        of them (it would accept a name the contract refuses)."""
        decoder = self._model_records.get(features)
        if decoder is None and set(features) <= set(self.fields):
            record = msgspec.defstruct(
                "ModelRecord",
                [(name, float) for name in features],
                forbid_unknown_fields=True,
                gc=False,
            )
            decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
            self._model_records[features] = decoder
        return decoder

    def _check_body(self, body: bytes, shape: BodyShape, max_records: int, most: int) -> None:
        """Refuse an empty body and a body with more than `most` items."""
        if not body.strip():
            raise InvalidInputError(
                f"the body of {shape.route} must be {shape.example}; got an empty body"
            )
        if len(body) > shape.min_item_bytes * most and count_byte(body, shape.item_byte) > most:
            # Counted before decoding, so a body of millions of `{}` never becomes objects.
            raise InvalidInputError(
                f"the body holds more than {most} {shape.items}: over the limit of "
                f"{max_records} records per call; split it into several calls"
            )

    def _decode(self, decoder: msgspec.json.Decoder[Any], body: bytes, shape: BodyShape) -> Any:
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise InvalidInputError(self._located(str(exc), body, shape)) from None
        except msgspec.DecodeError as exc:
            raise InvalidInputError(f"the body of {shape.route} is not valid JSON: {exc}") from None
        except RecursionError:  # a safety net: these types fail before nesting deeply
            raise InvalidInputError(
                f"the body of {shape.route} nests arrays or objects too deeply"
            ) from None
        except UnicodeDecodeError as exc:  # in a string; the offset is within that string
            raise InvalidInputError(
                f"the body of {shape.route} is not valid UTF-8: {exc.reason}"
            ) from None

    def _located(self, error: str, body: bytes, shape: BodyShape) -> str:
        """msgspec's "Expected `float | null`, got `str` - at `$[12].bmi`" as
        `records[12].bmi: expected a number, got "abc"`."""
        located = _LOCATED.match(error)
        what, path = (located["what"], located["path"] or "") if located else (error, "")
        where = shape.root + path
        unknown = _UNKNOWN.match(what)
        if unknown:
            name = msgspec.json.encode(quoted(unknown["field"])).decode()
            return f"{where}: unknown field {name}; the fields are {', '.join(self.fields)}"
        expected = _EXPECTED.match(what)
        if what == "Number out of range":
            return f"{where}: expected a finite number, got one out of range ({_MAX_DOUBLE})"
        if expected is None:
            return f"{where}: {what[:1].lower()}{shortened_backticks(what[1:])}"
        if not path:
            got = _JSON_KINDS.get(expected["got"], expected["got"])
            hint = "; for one record use POST /stream" if shape is RECORDS else ""
            return f"the body of {shape.route} must be {shape.example}; got {got}{hint}"
        wanted = _JSON_KINDS.get(expected["expected"], f"`{expected['expected']}`")
        kind = expected["got"]
        got = self._value_at(body, path, kind) or _JSON_KINDS.get(kind, kind)
        return f"{where}: expected {wanted}, got {got}"

    def _value_at(self, body: bytes, path: str, kind: str) -> str | None:
        """The JSON text of the scalar at a msgspec path such as `[12].bmi` (errors only),
        read from at most a short window of the body's bytes, never by decoding it again;
        None for an array or object (named by its kind: it may be huge or nested
        thousands deep) and when the body is malformed before the value."""
        steps = [int(index) if index else name for index, name in _PATH_STEP.findall(path)]
        return value_window(body, steps, kind)
