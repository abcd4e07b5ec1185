"""Shadow and canary comparisons: after a call's own model has answered, the same validated
input is evaluated by the model it is compared with, and the difference is added to
`server.comparisons.ComparisonTotals`.

- The stable version answered and the model has a `shadow` label: the shadow version
  predicts too (role `shadow`; the candidate is the shadow, the reference stable).
- The canary answered: stable predicts too (role `canary`; the candidate is the canary).

The caller's answer is already computed and is never touched: the extra work is one more
prediction over the call's own batch (validated and bounded before this runs), and
whatever goes wrong here is counted (`diabetes_shadow_errors_total`) and logged at most once
a minute, never raised.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_left
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from model.artifact import LinearModel, SinglePrediction
from model.linear import FloatArray
from server.comparisons import (
    CANARY_ROLE,
    DIFF_BUCKETS,
    SHADOW_ROLE,
    Batch,
    ComparisonTotals,
    Example,
    summarize,
)
from server.model_store import ModelStore

log = logging.getLogger("server.shadow")
LOG_INTERVAL_SECONDS = 60.0
_Answer = TypeVar("_Answer", SinglePrediction, FloatArray)


class Shadows:
    """Compares each answered call with its shadow or stable version (see the module)."""

    def __init__(self, store: ModelStore, totals: ComparisonTotals | None = None) -> None:
        self._store = store
        self.totals = totals if totals is not None else ComparisonTotals()
        self._logged_at = -LOG_INTERVAL_SECONDS

    def compare(
        self,
        answered: LinearModel,
        columns: Sequence[FloatArray],
        predictions: FloatArray | None,
    ) -> None:
        """After `answered` predicted `predictions` from `columns` (its features' order;
        None when the call asked for no predictions: computed here, only if compared)."""
        try:
            pair = self._partner(answered)
            if pair is not None:
                if predictions is None:
                    predictions = answered.predict_columns(columns)
                self._compare(answered, pair[0], pair[1], list(columns), predictions)
        except Exception:  # the caller's answer must not depend on the shadow
            self._failed(answered.name)

    def compare_record(
        self, answered: LinearModel, values: Sequence[float], result: SinglePrediction
    ) -> None:
        """As `compare`, for one record (the single-record calls): `result` is
        `answered.explain_one(values)`."""
        try:
            pair = self._partner(answered)
            if pair is not None:
                self._compare_one(answered, pair[0], pair[1], values, result)
        except Exception:
            self._failed(answered.name)

    def _compare_one(
        self,
        answered: LinearModel,
        role: str,
        other: LinearModel,
        values: Sequence[float],
        result: SinglePrediction,
    ) -> None:
        """`_compare` for one record in plain floats (numpy's per-call overhead would be
        most of a single-record call's cost)."""
        candidate, reference, candidate_result, reference_result = _candidate_first(
            role, answered, other, result, other.explain_one(values)
        )
        candidate_prediction = candidate_result.prediction
        reference_prediction = reference_result.prediction
        if not math.isfinite(candidate_prediction):
            self._failed(answered.name)
            return
        half_width = (reference_result.upper - reference_result.lower) / 2
        diff = candidate_prediction - reference_prediction
        buckets = [0] * (len(DIFF_BUCKETS) + 1)
        buckets[bisect_left(DIFF_BUCKETS, diff)] = 1
        batch = Batch(
            1,
            int(abs(diff) > half_width),
            abs(diff),
            abs(diff),
            buckets,
            diff,
            [
                abs((float(c) - float(r)) * value - (float(c) * cs.mean - float(r) * rs.mean))
                for value, c, r, cs, rs in zip(
                    values,
                    candidate.coefficients,
                    reference.coefficients,
                    candidate.feature_stats,
                    reference.feature_stats,
                    strict=True,
                )
            ],
            [Example(abs(diff), tuple(values), candidate_prediction, reference_prediction)],
        )
        self.totals.add(
            (answered.name, role, candidate.version, reference.version), answered.features, batch
        )

    def _partner(self, answered: LinearModel) -> tuple[str, LinearModel] | None:
        """The role and the other model of this call's comparison, if there is one (a
        ValueError when the two take different features: nothing to compare)."""
        pair = self._labelled_partner(answered)
        if pair is not None and pair[1].features != answered.features:
            other = pair[1]
            raise ValueError(
                f"{other.name} {other.version} takes features {other.features}, "
                f"{answered.version} {answered.features}: no comparison"
            )
        return pair

    def _labelled_partner(self, answered: LinearModel) -> tuple[str, LinearModel] | None:
        entry = self._store.repository.models.get(answered.name)
        if entry is None:
            return None
        labels = entry.labels
        if answered.version == labels.stable:
            if labels.shadow is None or labels.shadow == labels.stable:
                return None
            shadow = entry.versions.get(labels.shadow)
            return None if shadow is None else (SHADOW_ROLE, shadow)
        if answered.version == labels.canary:
            stable = entry.versions.get(labels.stable)
            return None if stable is None else (CANARY_ROLE, stable)
        return None

    def _compare(
        self,
        answered: LinearModel,
        role: str,
        other: LinearModel,
        columns: list[FloatArray],
        predictions: FloatArray,
    ) -> None:
        candidate, reference, candidate_predictions, reference_predictions = _candidate_first(
            role, answered, other, predictions, other.predict_columns(columns)
        )
        finite = np.isfinite(candidate_predictions)
        if not finite.all():  # within stable's input limit but not the candidate's
            self._failed(answered.name)
            columns = [column[finite] for column in columns]
            candidate_predictions = candidate_predictions[finite]
            reference_predictions = reference_predictions[finite]
            if not len(candidate_predictions):
                return
        batch = summarize(
            columns,
            candidate_predictions,
            reference_predictions,
            reference.interval_half_width(columns),
            moved_contributions(candidate, reference, columns),
        )
        pair = (answered.name, role, candidate.version, reference.version)
        self.totals.add(pair, answered.features, batch)

    def _failed(self, model: str) -> None:
        self.totals.error(model)
        now = time.monotonic()
        if now - self._logged_at >= LOG_INTERVAL_SECONDS:
            self._logged_at = now
            log.warning(
                "shadow comparison failed; the call was answered (logged once a minute)",
                exc_info=True,
                extra={"model": model},
            )


def _candidate_first(
    role: str, answered: LinearModel, other: LinearModel, answer: _Answer, other_answer: _Answer
) -> tuple[LinearModel, LinearModel, _Answer, _Answer]:
    """(candidate, reference, candidate's answer, reference's answer): a shadow is the
    candidate beside the stable version that answered; a canary that answered is the
    candidate beside stable."""
    if role == SHADOW_ROLE:
        return other, answered, other_answer, answer
    return answered, other, answer, other_answer


def moved_contributions(
    candidate: LinearModel, reference: LinearModel, columns: Sequence[FloatArray]
) -> list[float]:
    """Per feature, the sum over records of |candidate's contribution - reference's| (a
    contribution is coefficient * (value - training mean), each model's own)."""
    moved = []
    for column, c, r, c_stats, r_stats in zip(
        columns,
        candidate.coefficients,
        reference.coefficients,
        candidate.feature_stats,
        reference.feature_stats,
        strict=True,
    ):
        offset = float(c) * c_stats.mean - float(r) * r_stats.mean
        moved.append(float(np.abs((float(c) - float(r)) * column - offset).sum()))
    return moved
