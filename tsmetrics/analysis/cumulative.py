"""Exact cumulative sums of rollup buckets, look by look, and the estimates each look needs.

Rollup sums are numeric (decimals): scaled by one power of ten they are
integers, so every variant's running count, sum and sum of squares at every
look is exact. Each estimate of a look (lift, its variance, the relative lift
and its variance) is then one ratio of integers, which Python divides
correctly rounded: the very floats that exact fractions give
(tsmetrics.analysis.sequential.sequential), at a small part of their cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import accumulate

import numpy as np

from tsmetrics.analysis import stats


@dataclass(frozen=True)
class Running:
    """One variant's running sums after each look, as integers over `scale`."""

    n: list[int]
    total: list[int]  # sum * scale
    total_sq: list[int]  # sum of squares * scale

    def moments(self, look: int, scale: int) -> stats.Moments:
        """The exact moments at one look."""
        return stats.Moments(
            self.n[look], Fraction(self.total[look], scale), Fraction(self.total_sq[look], scale)
        )

    def spread(self, look: int, scale: int) -> int:
        """n·Σx² - (Σx)², times scale²: zero exactly when all samples are equal."""
        return self.n[look] * self.total_sq[look] * scale - self.total[look] ** 2


def running_sums(rows, metric_id: int, variants: int) -> tuple[list[int], list[Running], int]:
    """(bucket starts with samples, oldest first; each variant's Running; the scale)."""
    rows = [row for row in rows if row.metric_id == metric_id]
    ratios = [
        (Decimal(row.total).as_integer_ratio(), Decimal(row.total_sq).as_integer_ratio())
        for row in rows
    ]
    # Every denominator divides a power of ten: their lcm makes all sums integers.
    scale = math.lcm(1, *(r[1] for pair in ratios for r in pair))
    buckets = sorted({row.bucket for row in rows})
    at = {bucket: index for index, bucket in enumerate(buckets)}
    added = [[[0, 0, 0] for _ in buckets] for _ in range(variants)]
    for row, (total, total_sq) in zip(rows, ratios, strict=True):
        cell = added[row.variant][at[row.bucket]]
        cell[0] += row.n
        cell[1] += total[0] * (scale // total[1])
        cell[2] += total_sq[0] * (scale // total_sq[1])
    running = [
        Running(*(list(accumulate(cell[k] for cell in cells)) for k in range(3))) for cells in added
    ]
    return buckets, running, scale


@dataclass(frozen=True)
class Estimates:
    """Lift, its variance, relative lift and its variance at some looks (NaN: undefined)."""

    lift: np.ndarray
    variance: np.ndarray
    relative_lift: np.ndarray
    relative_variance: np.ndarray
    units: np.ndarray


def _ratio(numerator: int, denominator: int) -> float:
    # NaN where undefined, and where the exact ratio lies beyond double precision
    # (samples near the float range): such a look is refused, never an error.
    if not denominator:
        return math.nan
    try:
        return numerator / denominator
    except OverflowError:
        return math.nan


def estimates(control: Running, treatment: Running, looks: list[int], scale: int) -> Estimates:
    """The estimates at `looks` (n >= 2 in both variants at each), as sequential.lifts has them."""
    out = np.full((5, len(looks)), np.nan)
    for column, k in enumerate(looks):
        n_c, s_c, n_t, s_t = control.n[k], control.total[k], treatment.n[k], treatment.total[k]
        # var(mean) = p / r for each variant, p = n·Q·D - S², r = D²·n²·(n - 1).
        p_c, p_t = control.spread(k, scale), treatment.spread(k, scale)
        r_c, r_t = scale * scale * n_c * n_c * (n_c - 1), scale * scale * n_t * n_t * (n_t - 1)
        lift = s_t * n_c - s_c * n_t  # over D·n_c·n_t
        out[0, column] = _ratio(lift, scale * n_c * n_t)
        out[1, column] = _ratio(p_c * r_t + p_t * r_c, r_c * r_t)
        out[4, column] = n_c + n_t
        if s_c:
            out[2, column] = _ratio(lift, n_t * s_c)
            top = (p_t * r_c * s_c * s_c * n_t * n_t + p_c * r_t * s_t * s_t * n_c * n_c) * n_c
            out[3, column] = _ratio(top * scale * scale * n_c, r_t * r_c * s_c**4 * n_t * n_t)
    return Estimates(*out)
