"""The input values for which a linear model's outputs stay finite.

A caller may send any double. Far enough from the training data, coefficient × value
overflows the prediction or a contribution to infinity, the interval's leverage (quadratic in
the values) overflows sooner, and inf - inf becomes NaN. `input_limits` derives from the
model's own numbers one bound L: with every value in [-L, L], every output is finite, so the
server refuses a bad input with one comparison per value.

The bound: with every value within D of its training mean,
``|prediction| <= |intercept| + sum |c_i| |mean_i| + D sum |c_i|`` (each contribution and
partial sum too) and ``leverage = d' A d <= D² sum |A_ij|`` (each partial product too).
D is the largest deviation that keeps both, and the interval's half-width, below a ceiling
well inside float's range; L is D less the largest |mean|, so [-L, L] lies within every
feature's [mean - D, mean + D].
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

# Every output stays below this: the rest of float's range absorbs rounding and the sums
# prediction ± half-width.
OUTPUT_CEILING = sys.float_info.max / 16
# No deviation beyond this (about 1e153) whatever the model: the drift metrics add accepted
# values up across calls, and those sums must stay finite too.
MAX_DEVIATION = math.sqrt(OUTPUT_CEILING)


def input_limit(
    coefficients: Sequence[float],
    intercept: float,
    means: Sequence[float],
    xtx_inv: Sequence[Sequence[float]],
    interval_scale: float,
    interval_offset: float,
) -> float:
    """L: the largest magnitude of an input value for which every output is finite.

    `interval_scale` and `interval_offset` are the half-width's ``t * s`` and
    ``1 + 1/n``: half-width = scale * sqrt(offset + leverage).
    """
    # Plain sums, not math.fsum: a sum may overflow to inf here, which the ratios handle.
    coefficient_sum = sum(abs(c) for c in coefficients)
    fixed = abs(intercept) + sum(abs(c) * abs(m) for c, m in zip(coefficients, means, strict=True))
    by_prediction = _ratio(OUTPUT_CEILING - fixed, coefficient_sum)

    matrix_sum = sum(abs(value) for row in xtx_inv for value in row)
    half_width_room = _ratio(OUTPUT_CEILING, interval_scale)
    leverage_ceiling = min(OUTPUT_CEILING, half_width_room * half_width_room - interval_offset)
    by_interval = math.sqrt(max(0.0, _ratio(leverage_ceiling, matrix_sum)))

    deviation = min(by_prediction, by_interval, MAX_DEVIATION)
    return max(0.0, deviation - max((abs(m) for m in means), default=0.0))


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator: unbounded when the denominator is zero (nothing can
    overflow), zero when it is infinite (anything but zero overflows)."""
    if denominator <= 0.0:
        return math.inf
    if math.isinf(denominator):
        return 0.0
    return numerator / denominator
