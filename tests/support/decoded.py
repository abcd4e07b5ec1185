"""The typed face's requests decoded and checked as the core checks them (`Predict`'s record,
`PredictBatch`'s columns), without a server: for the validation messages, in process."""

from __future__ import annotations

from diabetes.v1 import prediction_pb2 as pb
from model.artifact import LinearModel
from model.linear import FloatArray
from server.faces.batch_request import batch_of
from server.faces.prediction_service import record_fields
from server.validation import checked_columns, checked_record


def record_values(record: pb.Record, model: LinearModel) -> list[float]:
    return checked_record(record_fields(record, model), model.input_limit)


def batch_columns(
    request: pb.PredictBatchRequest, model: LinearModel, max_records: int
) -> list[FloatArray]:
    return checked_columns(batch_of(request, model), model.input_limit, max_records)
