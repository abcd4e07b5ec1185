"""Per-method request bounds, applied to the raw request bytes before the parse.

Every method is one of two kinds:

- no bulk (health, reflection, metadata, readiness, GetModelInfo, Predict, `POST /stream`):
  a request over `--max-small-request-bytes` is refused unparsed;
- bulk (PredictBatch, `/batch`, `/batch/columns`, OIP infer): bounded by grpc's
  `--max-receive-message-bytes`, and where the message carries repeated records on the wire
  (PredictBatch's `records`, ModelInfer's tensors) they are counted before the parse
  (`server.bounds.wire_count`) and refused over the limit.

Then a call reserves its memory bound, its method's multiple × body + CALL_OVERHEAD_BYTES,
from the server's budget (`server.bounds.admission`).
The multiples are what one call is measured to cost at most (tests/abuse/test_wire_bounds.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from diabetes.inference import open_inference_grpc_pb2 as oip_pb
from diabetes.v1 import inference_rest_pb2, json_pb2
from diabetes.v1 import prediction_pb2 as pb
from server.bounds import admission
from server.bounds.tensor_wire import tensor_problem
from server.bounds.wire_count import WireError, count_fields
from server.errors import InvalidInputError, RefusedRequest, ServiceError

MIB = 1024 * 1024
# What any call costs beside its body: the parsed message's fixed part, the reply, numpy
# temporaries of a small batch.
CALL_OVERHEAD_BYTES = 2 * MIB
# The most tensors (inputs, outputs, raw contents, parameters) one ModelInfer call takes.
MAX_INFER_TENSORS = 64
# A repeated message element takes at least 2 bytes on the wire (tag, zero length).
_MIN_ELEMENT_BYTES = 2
# A ModelInfer request smaller than this cannot hold a tensor worth walking for (9 packed
# dimensions, 65 parameters...): its parse is small whatever it holds.
_TENSOR_WALK_FROM = 4096

_PREDICTION = pb.DESCRIPTOR.services_by_name["PredictionService"]
_JSON = json_pb2.DESCRIPTOR.services_by_name["JsonPredictionService"]
_OIP = oip_pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
_OIP_REST = inference_rest_pb2.DESCRIPTOR.services_by_name["InferenceRestService"]


@dataclass(frozen=True)
class Counted:
    """Repeated fields counted on the wire: their numbers (from the descriptor), the limit
    of elements, and how a refusal names them."""

    fields: frozenset[int]
    what: str


def _field_numbers(message: type[Message], names: Collection[str]) -> frozenset[int]:
    return frozenset(message.DESCRIPTOR.fields_by_name[name].number for name in names)


# Bulk methods by full name, with the memory multiple of their body and what is counted.
_RECORDS = Counted(_field_numbers(pb.PredictBatchRequest, ("records",)), "records")
_TENSORS = Counted(
    _field_numbers(
        oip_pb.ModelInferRequest, ("inputs", "outputs", "raw_input_contents", "parameters")
    ),
    "tensors",
)
BULK: dict[str, tuple[int, Counted | None]] = {
    _PREDICTION.methods_by_name["PredictBatch"].full_name: (3, _RECORDS),
    # The JSON lane's and V2 REST's decoders bound what they build to the body's size.
    _JSON.methods_by_name["PredictJsonRecords"].full_name: (4, None),
    _JSON.methods_by_name["PredictJsonColumns"].full_name: (4, None),
    _OIP_REST.methods_by_name["Infer"].full_name: (4, None),
    # Packed varints (a tensor's shape, integer contents) parse to 8 bytes per byte.
    _OIP.methods_by_name["ModelInfer"].full_name: (8, _TENSORS),
}
# Methods that predict: the call gate counts them (`server.bounds.call_gate`).
TRAFFIC = frozenset(
    {
        *BULK,
        _PREDICTION.methods_by_name["Predict"].full_name,
        _JSON.methods_by_name["PredictJsonRecord"].full_name,
    }
)
# What grpc takes to receive a request, before any check can run (measured: 3× its bytes).
RECEIPT_MULTIPLE = 3


def wire_path(method: MethodDescriptor) -> str:
    """`/Service/Method`, as a call names its method on the wire."""
    return f"/{method.containing_service.full_name}/{method.name}"


_METHODS = [m for s in (_PREDICTION, _JSON, _OIP, _OIP_REST) for m in s.methods]
BULK_PATHS = frozenset(wire_path(m) for m in _METHODS if m.full_name in BULK)
TRAFFIC_PATHS = frozenset(wire_path(m) for m in _METHODS if m.full_name in TRAFFIC)


# What the largest bulk call may cost at once, receipt and decoding: the JSON lane's and V2
# REST's multiple (a refused body's receipt costs up to this much too: 3.6x measured).
LARGEST_BULK_MULTIPLE = 4


def bulk_calls_for(budget_bytes: int, max_receive_bytes: int, most: int) -> int:
    """How many bulk calls may be in receipt at once: as many of the largest requests as
    the budget holds at the largest bulk multiple (at least 1, at most `most`): counting by
    the gRPC receipt alone (3x) let a refused body's receipt beside an admitted one take a
    384 MiB pod to its limit."""
    largest = LARGEST_BULK_MULTIPLE * max_receive_bytes + CALL_OVERHEAD_BYTES
    return max(1, min(most, budget_bytes // largest))


SMALL_MEMORY_MULTIPLE = 4
# Small calls that always find room in the budget beside the bulk calls (Admission's
# small_reserve_bytes): with two maximal JSON bodies admitted, a 256 MiB budget was full
# and every Predict beside them was refused.
RESERVED_SMALL_CALLS = 8


def small_calls_reserve(max_small_request_bytes: int) -> int:
    """The part of the budget bulk calls leave to small ones."""
    return RESERVED_SMALL_CALLS * (
        SMALL_MEMORY_MULTIPLE * max_small_request_bytes + CALL_OVERHEAD_BYTES
    )


@dataclass(frozen=True)
class Limits:
    """The settings the bounds read (`ServerConfig`'s)."""

    max_small_request_bytes: int
    max_batch_records: int


class RequestGuard:
    """One method's checks on its raw request: size, wire count, admission."""

    def __init__(
        self, method: MethodDescriptor, limits: Limits, capacity: admission.Admission | None
    ) -> None:
        # As grpc names it on the wire (without the leading slash): Service/Method.
        self.method = wire_path(method)[1:]
        bulk = BULK.get(method.full_name)
        self.max_bytes = None if bulk is not None else limits.max_small_request_bytes
        self.multiple, self.counted = bulk if bulk is not None else (SMALL_MEMORY_MULTIPLE, None)
        self.max_batch_records = limits.max_batch_records
        self.count_limit = (
            limits.max_batch_records if self.counted is _RECORDS else MAX_INFER_TENSORS
        )
        self.message_name = method.input_type.full_name
        # A stream of requests is not admitted per message: its messages are small.
        self.capacity = None if method.client_streaming else capacity

    def reserve_bytes(self, size: int) -> int:
        return self.multiple * size + CALL_OVERHEAD_BYTES

    def check(self, data: bytes) -> RefusedRequest | admission.Ticket | None:
        """The refusal, or the call's admission ticket (None: the method is not admitted
        per call)."""
        try:
            self._check_shape(data)
            if self.capacity is None:
                return None
            return self.capacity.admit(
                self.method, self.reserve_bytes(len(data)), bulk=self.max_bytes is None
            )
        except ServiceError as exc:
            return RefusedRequest(exc)

    def _check_shape(self, data: bytes) -> None:
        size = len(data)
        if self.max_bytes is not None and size > self.max_bytes:
            raise InvalidInputError(
                f"{self.method} takes requests of at most {self.max_bytes} bytes; "
                f"this one has {size} bytes"
            )
        counted, limit = self.counted, self.count_limit
        if counted is None:
            return
        if counted is _TENSORS and size > _TENSOR_WALK_FROM:
            self._check_tensors(data)
        if size < (limit + 1) * _MIN_ELEMENT_BYTES:
            return
        try:
            found = count_fields(data, counted.fields, limit)
        except WireError as exc:
            raise InvalidInputError(
                f"the request is not a valid {self.message_name} message: {exc}"
            ) from None
        if found.count > limit:
            raise InvalidInputError(_over_limit(counted.what, limit))
        if found.others > limit:
            raise InvalidInputError(
                f"the request has more than {limit} fields besides its {counted.what}; "
                f"a {self.message_name} sets each of them once"
            )

    def _check_tensors(self, data: bytes) -> None:
        # Unpacked values or byte strings: up to a full batch of every feature.
        most_values = self.max_batch_records * len(pb.Record.DESCRIPTOR.fields)
        try:
            problem = tensor_problem(data, most_values)
        except WireError as exc:
            raise InvalidInputError(
                f"the request is not a valid {self.message_name} message: {exc}"
            ) from None
        if problem is not None:
            raise InvalidInputError(f"{problem}; this server takes no larger tensors")


def _over_limit(what: str, limit: int) -> str:
    if what == "records":  # `server.validation.check_size`'s wording
        return (
            f"batch of more than {limit} records is over the limit of {limit} records per "
            "call; split it into several calls"
        )
    return f"more than {limit} {what} is over the limit of {limit} {what} per call"
