"""The model's input limit: inside it every output is finite (both serving paths), and it is
as wide as the arithmetic allows, within a small factor."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.artifact import LinearModel, load_artifact
from model.features import FEATURE_NAMES
from model.limits import MAX_DEVIATION, input_limit
from tests.support.artifacts import write_test_artifact

FEATURE_SETS = {"bmi": ("bmi",), "bmi-bp": ("bmi", "bp"), "all": FEATURE_NAMES}


@pytest.fixture(scope="module", params=list(FEATURE_SETS))
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LinearModel:
    features = FEATURE_SETS[request.param]
    path = tmp_path_factory.mktemp("limits") / f"{request.param}.json"
    return load_artifact(write_test_artifact(Path(path), features=features))


def _outputs(model: LinearModel, values: list[float]) -> list[float]:
    """Every number either serving path returns for one record."""
    one = model.explain_one(values)
    columns = [np.array([v]) for v in values]
    batch = model.predict_columns(columns)
    half_width = model.interval_half_width(columns)
    return [
        one.prediction,
        one.lower,
        one.upper,
        *one.contributions.values(),
        *batch,
        *(batch - half_width),
        *(batch + half_width),
    ]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_output_is_finite_within_the_limit(model, data):
    limit = model.input_limit
    values = data.draw(
        st.lists(
            st.one_of(
                st.sampled_from([limit, -limit, 0.0]),
                st.floats(min_value=-limit, max_value=limit),
            ),
            min_size=len(model.features),
            max_size=len(model.features),
        )
    )
    outputs = _outputs(model, values)
    assert all(math.isfinite(x) for x in outputs), (values, outputs)


def test_every_feature_at_the_limit_with_the_worst_signs(model: LinearModel) -> None:
    """The prediction is largest with each value's sign that of its coefficient."""
    limit = model.input_limit
    for sign in (1.0, -1.0):
        values = [sign * math.copysign(limit, c) for c in model.coefficients.tolist()]
        assert all(math.isfinite(x) for x in _outputs(model, values))


def test_the_limit_is_tight_within_a_small_factor(model: LinearModel) -> None:
    """Just beyond a few times the limit, one feature alone makes the interval overflow: the
    limit refuses only values that are at most that much smaller than needed."""
    factor = 8 * len(model.features)
    overflowing = 0
    for index in range(len(model.features)):
        values = [0.0] * len(model.features)
        values[index] = model.input_limit * factor
        overflowing += not all(math.isfinite(x) for x in _outputs(model, values))
    assert overflowing == len(model.features)


def test_the_bundled_model_takes_any_sane_value_and_refuses_1e308() -> None:
    model = load_artifact()
    assert 1e150 < model.input_limit < 1e308
    assert all(math.isfinite(x) for x in _outputs(model, [1e150]))


@pytest.mark.parametrize(
    ("case", "arguments", "expected"),
    [
        ("nothing can overflow", ([0.0], 0.0, [0.0], [[0.0]], 0.0, 1.0), MAX_DEVIATION),
        ("the intercept alone overflows", ([1.0], sys.float_info.max, [0.0], [[1.0]], 1.0, 1.0), 0),
        ("coefficient sum overflows", ([1e308] * 3, 0.0, [0.0] * 3, [[1.0]], 1.0, 1.0), 0),
        ("matrix sum overflows", ([1.0], 0.0, [0.0], [[1e308, 1e308]], 1.0, 1.0), 0),
        ("interval scale near overflow", ([1.0], 0.0, [0.0], [[1.0]], 1e308, 1.0), 0),
        ("large means", ([1.0], 0.0, [1e200], [[1.0]], 1.0, 1.0), 0),
    ],
)
def test_degenerate_numbers_give_a_number_never_nan(
    case: str, arguments: tuple[Any, ...], expected: float
) -> None:
    limit = input_limit(*arguments)
    assert not math.isnan(limit)
    assert limit == expected
