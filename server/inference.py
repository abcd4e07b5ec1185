"""The inference core every face calls: a model reference and the request's decoded values
in, one answer out. Each face (`server.faces`) is decode -> core -> encode; the core does
the rest, in one place, so no face can forget a step:

    resolve the model -> report it (`answered_by`) -> decode (the face's, given the model)
    -> validate (record count, the model's input limit) -> report the records
    (`count_records`) and the drift inputs -> predict -> compare with the shadow (or stable,
    for a canary; `server.shadow`) -> intervals, out-of-range flags.

Batches stay numpy from the decoder to the encoder: no per-record Python objects here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from model.artifact import LinearModel, SinglePrediction
from model.linear import FloatArray
from server.bounds.json_bounds import quoted
from server.errors import ModelNotFoundError
from server.model_store import ModelStore, check_request_names
from server.rpc import InputStats, answered_by, count_records
from server.shadow import Shadows
from server.validation import Batch, Field, checked_columns, checked_record

IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Limits:
    """The service's request limits (every face's, and shown by GetModelInfo)."""

    max_batch_records: int
    batch_chunk_records: int
    max_receive_message_bytes: int


class ModelRef(NamedTuple):
    """The model a call names: a name (empty: the default model) and a version or label
    (empty: the stable version, or the canary's share). `named` is the Open Inference
    Protocol's way: the name is required (empty is no model), and NOT_FOUND lists every
    model and version served."""

    name: str
    version: str = ""
    named: bool = False


class RecordAnswer(NamedTuple):
    """One record's answer: the model that gave it and its prediction, interval and
    explanation."""

    model: LinearModel
    result: SinglePrediction


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """A batch's answer, one value per record in each array; `lower` and `upper` only
    when asked for."""

    model: LinearModel
    columns: list[FloatArray]
    predictions: FloatArray
    lower: FloatArray | None
    upper: FloatArray | None

    def out_of_range_indices(self) -> IndexArray:
        """The records with a value outside its feature's training range, ascending."""
        return np.flatnonzero(self.model.out_of_range(self.columns).any(axis=0))


class Inference:
    """The core: resolves through `store`, checks against `limits`, reports drift inputs
    to `inputs` and the call's model and records to the current call (`server.rpc`), and
    hands each answer to `shadows` for comparison (a store's own when not given)."""

    def __init__(
        self,
        store: ModelStore,
        limits: Limits,
        inputs: InputStats,
        shadows: Shadows | None = None,
    ) -> None:
        self.store = store
        self.limits = limits
        self._inputs = inputs
        self._shadows = shadows if shadows is not None else Shadows(store)

    def resolve(self, ref: ModelRef) -> LinearModel:
        """The model version that answers `ref`: INVALID_ARGUMENT for a name that is not a
        valid one, NOT_FOUND naming what is served for one not served. Reports nothing: for
        calls that describe a model rather than predict."""
        if ref.named:
            return _named(self.store, ref.name, ref.version)
        return self.store.resolve(ref.name, ref.version)

    def record(
        self, ref: ModelRef, decode: Callable[[LinearModel], Iterable[Field]]
    ) -> RecordAnswer:
        """Predict one record; `decode(model)` gives its value for each of the model's
        features, in the model's order."""
        model = self.resolve(ref)
        answered_by(model)
        values = checked_record(decode(model), model.input_limit)
        result = model.explain_one(values)
        count_records(1)
        self._inputs.record_seen(model, values)
        self._shadows.compare_record(model, values, result)
        return RecordAnswer(model, result)

    def batch(self, ref: ModelRef, decode: Callable[[LinearModel], Batch]) -> BatchAnswer:
        """Predict a batch; `decode(model)` gives its columns and whether it asks for the
        intervals. Checked in full (within the model's input limit, so every output is
        finite) before any answer exists."""
        model = self.resolve(ref)
        answered_by(model)
        batch = decode(model)
        columns = checked_columns(batch, model.input_limit, self.limits.max_batch_records)
        count_records(len(columns[0]))
        self._inputs.inputs_seen(model, columns)
        predictions = model.predict_columns(columns)
        self._shadows.compare(model, columns, predictions)
        lower = upper = None
        if batch.intervals:
            half_width = model.interval_half_width(columns)
            lower, upper = predictions - half_width, predictions + half_width
        return BatchAnswer(model, columns, predictions, lower, upper)


def _named(store: ModelStore, name: str, version: str) -> LinearModel:
    """The model version a call names (an empty version means the stable one, or the
    canary's share); INVALID_ARGUMENT for a name or version that is not a valid one,
    NOT_FOUND naming every model and version served otherwise. The protocol always names
    the model: an empty name is not the default model here."""
    check_request_names(name, version)
    repository = store.repository
    found = repository.models.get(name)
    if found is not None:
        with contextlib.suppress(ModelNotFoundError):
            return store.resolve(name, version)
    asked = f'model "{quoted(name)}"' + (f' version "{quoted(version)}"' if version else "")
    served = ", ".join(
        f'model "{model}" version "{each}"'
        for model, entry in sorted(repository.models.items())
        for each in sorted(entry.versions)
    )
    raise ModelNotFoundError(f"{asked} is not served here; this server serves {served}")
