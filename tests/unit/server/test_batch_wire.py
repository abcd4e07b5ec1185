"""PredictBatch's request read from the wire (`server.faces.batch_request`) and its replies
written as wire bytes (`server.faces.batch_reply`).

For any bytes (canonical records, records split around other fields, records and columns,
unknown fields, hand-written encodings protobuf accepts but standard serializers do not
write, truncated or garbled bytes) the wire decoder either declines or gives exactly what
protobuf's parse gives: the same model asked for, the same columns bit for bit, the same
refusal word for word. Then a real server answers the fast and the exact layouts alike."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import given, settings
from hypothesis import strategies as st

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import LinearModel, load_artifact
from server.app import RunningServer
from server.config import ServerConfig
from server.errors import InvalidInputError
from server.faces.batch_reply import batch_replies
from server.faces.batch_request import BatchRequest, exact_batch_request, wire_batch_request
from server.inference import BatchAnswer
from server.model_store import ModelStore
from server.wire import packed_doubles
from tests.support.artifacts import write_test_artifact

FEATURES = tuple(field.name for field in pb.Record.DESCRIPTOR.fields)
NUMBERS = {field.name: field.number for field in pb.Record.DESCRIPTOR.fields}
# The feature lists of the models each decoded request is read for.
MODELS = [("bmi",), ("bmi", "bp"), ("s6", "age"), FEATURES]


class Features:
    """The part of a model the decoders read."""

    def __init__(self, features: tuple[str, ...]) -> None:
        self.features = features


def outcome(request: BatchRequest, features: tuple[str, ...]) -> object:
    """What the face makes of the request for a model reading `features`: the batch's
    size, form, intervals and columns (as bytes), or the refusal's message."""
    try:
        batch = request.batch(Features(features))  # type: ignore[arg-type]
        columns = [(column.dtype.str, column.tobytes(), where) for column, where in batch.columns()]
    except InvalidInputError as error:
        return str(error)
    return batch.count, batch.field, batch.intervals, columns


def assert_declined_or_exact(data: bytes) -> bool:
    """Whether the wire decoder took `data`; when it did, it agrees with the exact path."""
    fast = wire_batch_request(data)
    if fast is None:
        return False
    try:
        exact = exact_batch_request(data)
    except DecodeError:
        pytest.fail(f"the wire decoder took bytes protobuf refuses: {data[:64]!r}")
    assert fast.ref == exact.ref
    for features in MODELS:
        assert outcome(fast, features) == outcome(exact, features)
    return True


# Hand-written encodings.


def varint(value: int, extra: int = 0) -> bytes:
    """`value` as a varint, padded with `extra` redundant bytes (protobuf reads those too)."""
    groups = []
    while True:
        groups.append(value & 0x7F)
        value >>= 7
        if not value:
            break
    groups += [0] * extra
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def field(number: int, wire_type: int, payload: bytes, long_tag: int = 0) -> bytes:
    tag = varint(number << 3 | wire_type, long_tag)
    if wire_type == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload


def record_bytes(fields: list[tuple[int, float]], long_tag: int, long_length: int) -> bytes:
    content = b"".join(field(n, 1, struct.pack("<d", v), long_tag) for n, v in fields)
    return varint(1 << 3 | 2) + varint(len(content), long_length) + content


values = st.floats(width=64)
template = st.lists(st.sampled_from(FEATURES), unique=True, min_size=0, max_size=len(FEATURES))
odd_record = st.builds(
    record_bytes,
    st.lists(st.tuples(st.sampled_from(list(NUMBERS.values())), values), max_size=12),
    st.sampled_from([0, 0, 1]),
    st.sampled_from([0, 0, 1]),
)
other_field = st.one_of(
    st.builds(lambda s: pb.PredictBatchRequest(model=s).SerializeToString(), st.text(max_size=20)),
    st.builds(lambda s: pb.PredictBatchRequest(version=s).SerializeToString(), st.text(max_size=9)),
    st.builds(
        lambda b: pb.PredictBatchRequest(include_intervals=b).SerializeToString(), st.booleans()
    ),
    st.builds(  # an unknown field, and a known one of the wrong wire type
        lambda n, v: field(n, 0, varint(v)),
        st.sampled_from([1, 2, 6, 15, 100]),
        st.integers(0, 300),
    ),
    st.builds(
        lambda name, column: pb.PredictBatchRequest(
            columns=pb.FeatureColumns(**{name: column})
        ).SerializeToString(),
        st.sampled_from(FEATURES),
        st.lists(values, max_size=4),
    ),
    odd_record,
)


@st.composite  # type: ignore[untyped-decorator]
def batch_bodies(draw: st.DrawFn) -> bytes:
    """Mostly canonical records first (a shared template), then other pieces, then maybe
    a truncation or a flipped byte."""
    names = draw(template)
    count = draw(st.integers(0, 40))
    rows = [{name: draw(values) for name in names} for _ in range(count)]
    head = pb.PredictBatchRequest(records=[pb.Record(**row) for row in rows]).SerializeToString()
    pieces = draw(st.lists(other_field, max_size=4))
    at = draw(st.integers(0, len(pieces)))
    data = b"".join([*pieces[:at], head, *pieces[at:]])
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))
    if damage != "none" and data:
        where = draw(st.integers(0, len(data) - 1))
        if damage == "truncate":
            data = data[:where]
        else:
            data = data[:where] + bytes([draw(st.integers(0, 255))]) + data[where + 1 :]
    return data


@given(data=batch_bodies())  # type: ignore[untyped-decorator]
@settings(max_examples=600, deadline=None)  # type: ignore[untyped-decorator]
def test_the_wire_decoder_declines_or_agrees_with_protobuf(data: bytes) -> None:
    assert_declined_or_exact(data)


@given(  # type: ignore[untyped-decorator]
    columns=st.dictionaries(st.sampled_from(FEATURES), st.lists(values, max_size=6)),
    others=st.lists(other_field, max_size=3),
    first=st.booleans(),
)
@settings(max_examples=300, deadline=None)  # type: ignore[untyped-decorator]
def test_columns_from_the_wire_agree_with_protobuf(
    columns: dict[str, list[float]], others: list[bytes], first: bool
) -> None:
    body = pb.PredictBatchRequest(columns=pb.FeatureColumns(**columns)).SerializeToString()
    pieces = [body, *others] if first else [*others, body]
    assert_declined_or_exact(b"".join(pieces))


@pytest.mark.parametrize(
    "request_message",
    [
        pb.PredictBatchRequest(records=[pb.Record(bmi=0.01 * i) for i in range(300)]),
        pb.PredictBatchRequest(
            records=[pb.Record(**dict.fromkeys(FEATURES, 0.5 - i)) for i in range(300)],
            model="m",
            version="canary",
            include_intervals=True,
        ),
        pb.PredictBatchRequest(records=[pb.Record(bp=float("nan"), s6=1e300)] * 3),
        pb.PredictBatchRequest(
            columns=pb.FeatureColumns(bmi=[0.1] * 300, s6=[0.2] * 300), include_intervals=True
        ),
        pb.PredictBatchRequest(columns=pb.FeatureColumns(bmi=[0.1, 0.2], bp=[0.3])),
        pb.PredictBatchRequest(columns=pb.FeatureColumns(), model="m"),
    ],
    ids=["bmi", "all-ten-named", "nan-and-huge", "columns", "ragged-columns", "empty-columns"],
)
def test_what_standard_serializers_write_takes_the_wire_path(
    request_message: pb.PredictBatchRequest,
) -> None:
    assert assert_declined_or_exact(request_message.SerializeToString())


@pytest.mark.parametrize(
    "data",
    [
        # A record repeating a field beside one lacking it: the counts are equal.
        record_bytes([(3, 0.1), (3, 0.2)], 0, 0) + record_bytes([(3, 0.3), (4, 0.4)], 0, 0),
        record_bytes([(3, 0.1)], 0, 0) + record_bytes([(4, 0.1)], 0, 0),  # same size, other field
        record_bytes([(3, 0.1)], 0, 1) * 3,  # two-byte lengths
        record_bytes([(3, 0.1)], 1, 0) * 3,  # two-byte tags
        record_bytes([(3, 0.1)], 0, 0) * 3
        + pb.PredictBatchRequest(  # records and columns
            columns=pb.FeatureColumns(bmi=[1.0])
        ).SerializeToString(),
        record_bytes([(3, 0.1)], 0, 0) * 3 + b"\x22\x05ab",  # truncated after the run
        # Columns sent unpacked, and twice.
        field(2, 2, field(3, 1, struct.pack("<d", 0.5))),
        field(2, 2, packed_doubles(3, np.ones(2))) * 2,
    ],
    ids=[
        "repeated-field",
        "other-field",
        "long-length",
        "long-tag",
        "records-and-columns",
        "truncated",
        "unpacked",
        "columns-twice",
    ],
)
def test_layouts_not_proven_take_the_exact_path(data: bytes) -> None:
    assert wire_batch_request(data) is None


# Replies.


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> LinearModel:
    path = tmp_path_factory.mktemp("reply") / "model.json"
    return load_artifact(write_test_artifact(path, features=("bmi", "bp")))


def old_replies(answer: BatchAnswer, chunk: int) -> Iterator[pb.PredictBatchResponse]:
    """The replies as they were built before: packed fields parsed back, the rest set."""
    model, predictions = answer.model, answer.predictions
    out_of_range = answer.out_of_range_indices()
    for start in range(0, len(predictions), chunk):
        end = min(start + chunk, len(predictions))
        wire = packed_doubles(2, predictions[start:end])
        if answer.lower is not None and answer.upper is not None:
            wire += packed_doubles(4, answer.lower[start:end])
            wire += packed_doubles(5, answer.upper[start:end])
        reply = pb.PredictBatchResponse.FromString(wire)
        reply.offset = start
        reply.model_name = model.name
        reply.model_version = model.version
        reply.out_of_range_indices.extend(
            out_of_range[
                np.searchsorted(out_of_range, start) : np.searchsorted(out_of_range, end)
            ].tolist()
        )
        yield reply


@pytest.mark.parametrize("intervals", [False, True])
@pytest.mark.parametrize(("records", "chunk"), [(1, 10), (300, 7), (40_000, 20_000)])
def test_reply_bytes_are_the_message_the_old_code_built(
    model: LinearModel, intervals: bool, records: int, chunk: int
) -> None:
    rng = np.random.default_rng(records)
    # Some records out of the training range, at indices needing 1 to 3 varint bytes.
    columns = [rng.uniform(-0.2, 0.2, records), rng.uniform(-0.1, 0.1, records)]
    predictions = model.predict_columns(columns)
    half = model.interval_half_width(columns) if intervals else None
    answer = BatchAnswer(
        model,
        columns,
        predictions,
        None if half is None else predictions - half,
        None if half is None else predictions + half,
    )
    written = list(batch_replies(answer, chunk))
    expected = list(old_replies(answer, chunk))
    assert len(written) == len(expected) == -(-records // chunk)
    for data, old in zip(written, expected, strict=True):
        parsed = pb.PredictBatchResponse.FromString(data)
        for name in (f.name for f in pb.PredictBatchResponse.DESCRIPTOR.fields):
            assert getattr(parsed, name) == getattr(old, name), name
        assert data == old.SerializeToString(deterministic=True)
    assert written[0] == expected[0].SerializeToString()
    assert records == 1 or len(answer.out_of_range_indices()) > 0


# On a real server.


def test_fast_and_exact_layouts_get_the_same_replies(tmp_path: Path) -> None:
    artifact = write_test_artifact(tmp_path / "model.json", features=("bmi", "bp"))
    config = ServerConfig(port=0, model_path=artifact, batch_chunk_records=100, access_log=False)
    running = RunningServer(config, ModelStore(artifact))
    running.start()
    rng = np.random.default_rng(3)
    rows = rng.uniform(-0.05, 0.05, size=(250, 2)).tolist()
    canonical = pb.PredictBatchRequest(
        records=[pb.Record(bmi=bmi, bp=bp) for bmi, bp in rows], include_intervals=True
    ).SerializeToString()
    # The same records with their fields the other way round, and the flag first.
    reordered = b"\x18\x01" + b"".join(record_bytes([(4, bp), (3, bmi)], 0, 0) for bmi, bp in rows)
    columns = pb.PredictBatchRequest(
        columns=pb.FeatureColumns(bmi=[r[0] for r in rows], bp=[r[1] for r in rows]),
        include_intervals=True,
    ).SerializeToString()
    assert wire_batch_request(canonical) is not None
    assert wire_batch_request(reordered) is None
    assert wire_batch_request(columns) is not None
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            call = channel.unary_stream("/diabetes.v1.PredictionService/PredictBatch")
            replies = [list(call(data, timeout=10)) for data in (canonical, reordered, columns)]
            assert replies[0] == replies[1] == replies[2]
            assert len(replies[0]) == 3
            model = load_artifact(artifact)
            predictions = np.concatenate(
                [pb.PredictBatchResponse.FromString(r).predictions for r in replies[0]]
            )
            assert np.array_equal(predictions, model.predict(np.array(rows)))
            # A refusal on the wire path is worded as on the exact path.
            missing = pb.PredictBatchRequest(records=[pb.Record(bmi=0.1)] * 4)
            with pytest.raises(grpc.RpcError) as raised:
                list(call(missing.SerializeToString(), timeout=10))
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert raised.value.details() == (
                "records[0].bp is missing (and 3 more records); this model needs bmi, bp"
            )
    finally:
        running.stop(grace=1)
