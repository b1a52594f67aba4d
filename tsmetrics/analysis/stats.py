"""The statistics of an A/B comparison: exact moments, Welch's test, SRM, corrections.

Means and variances are computed exactly (as fractions) from count, sum and sum
of squares, so a large mean with a small spread loses no digits; only the final
numbers become floats. The distributions are pure Python (tsmetrics.analysis.distributions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property

from tsmetrics.analysis.distributions import chi2_sf, t_isf, t_sf

ALPHA = 0.05
SRM_THRESHOLD = 0.001  # what GrowthBook and Eppo flag sample ratio mismatch at
CORRECTIONS = ("none", "holm", "bh")
# Why a statistic is missing when its exact value lies beyond double precision:
# samples stored before the accepted value range existed (or written through SQL)
# can reach 1.8e308, whose squares, sums and variances no float holds.
UNREPRESENTABLE = "the numbers are beyond double precision"


def to_float(value: Fraction | Decimal | float | int) -> float | None:
    """The nearest float, or None when it lies beyond double precision (or is not a number)."""
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def sqrt(value: Fraction) -> float | None:
    """The square root of an exact value >= 0, even when the value itself is beyond a float."""
    as_float = to_float(value)
    if as_float is not None:
        return math.sqrt(as_float)
    # sqrt(x) = sqrt(x / 4**k) * 2**k, with k making x / 4**k a float.
    k = max(0, (value.numerator.bit_length() - value.denominator.bit_length()) // 2 - 500)
    try:
        return math.ldexp(math.sqrt(float(value / (1 << (2 * k)))), k)
    except OverflowError:
        return None


@dataclass(frozen=True)
class Moments:
    """Count, sum and sum of squares of some samples: all a mean and variance need."""

    n: int
    total: Fraction
    total_sq: Fraction

    @classmethod
    def from_sums(cls, n: int, total: Decimal | float | int, total_sq: Decimal | float | int):
        """From the rollups' numeric sums; Fraction keeps every digit of them."""
        return cls(int(n), Fraction(total), Fraction(total_sq))

    @cached_property
    def mean(self) -> Fraction:
        """The exact mean (n >= 1)."""
        return self.total / self.n

    @cached_property
    def variance(self) -> Fraction:
        """The exact sample variance (n >= 2): (n·Σx² - (Σx)²) / (n(n - 1)), never negative."""
        return (self.n * self.total_sq - self.total * self.total) / (self.n * (self.n - 1))


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float


def mean_interval(m: Moments, alpha: float = ALPHA) -> Interval | None:
    """The t interval of one mean (n >= 2); None when it lies beyond double precision."""
    root, mean = sqrt(m.variance / m.n), to_float(m.mean)
    if root is None or mean is None:
        return None
    half = t_isf(alpha / 2, m.n - 1) * root
    low, high = mean - half, mean + half
    return Interval(low, high) if math.isfinite(low) and math.isfinite(high) else None


@dataclass(frozen=True)
class Welch:
    """Welch's t-test of treatment against control, with absolute and relative lift."""

    lift: float
    lift_interval: Interval
    relative_lift: float | None
    relative_interval: Interval | None
    t: float
    df: float
    p_value: float


def _satterthwaite(parts: Sequence[tuple[Fraction, int]]) -> float:
    # Degrees of freedom of a sum of variance terms (term, its sample count).
    return float(sum(v for v, _ in parts) ** 2 / sum(v * v / (n - 1) for v, n in parts if v))


def welch(control: Moments, treatment: Moments, alpha: float = ALPHA) -> Welch:
    """Welch's unequal-variance t-test; needs n >= 2 in each and some variance in one."""
    if control.n < 2 or treatment.n < 2:
        raise ValueError("Welch's test needs at least 2 samples per variant")
    sc, st = control.variance / control.n, treatment.variance / treatment.n
    if sc + st == 0:
        raise ValueError("Welch's test needs some variance")
    diff = treatment.mean - control.mean
    se = math.sqrt(sc + st)
    df = _satterthwaite(((sc, control.n), (st, treatment.n)))
    t = float(diff) / se
    half = t_isf(alpha / 2, df) * se
    relative = relative_interval = None
    if control.mean != 0:
        # Delta method for mean_t / mean_c - 1, with its own Satterthwaite df.
        ratio = treatment.mean / control.mean
        rel_c = sc * ratio * ratio
        relative = float(ratio - 1)
        if st + rel_c > 0:
            rel_se = math.sqrt((st + rel_c) / (control.mean * control.mean))
            rel_df = _satterthwaite(((rel_c, control.n), (st, treatment.n)))
            rel_half = t_isf(alpha / 2, rel_df) * rel_se
            relative_interval = Interval(relative - rel_half, relative + rel_half)
    return Welch(
        lift=float(diff),
        lift_interval=Interval(float(diff) - half, float(diff) + half),
        relative_lift=relative,
        relative_interval=relative_interval,
        t=t,
        df=df,
        p_value=min(1.0, 2 * t_sf(abs(t), df)),
    )


@dataclass(frozen=True)
class ChiSquared:
    """Pearson's chi-squared goodness-of-fit test."""

    statistic: float
    df: int
    p_value: float
    expected: list[float]


def chi_squared(observed: Sequence[int], weights: Sequence[float]) -> ChiSquared:
    """Observed counts against the split `weights` (any positive scale); needs a count > 0."""
    total = sum(observed)
    if total <= 0 or len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("a chi-squared test needs matching counts and weights, some counts")
    scale = sum(Fraction(w) for w in weights)
    expected = [total * Fraction(w) / scale for w in weights]
    statistic = float(sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True)))
    df = len(observed) - 1
    return ChiSquared(statistic, df, chi2_sf(statistic, df), [float(e) for e in expected])


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the given order."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the given order."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 1.0
    for rank, index in reversed(list(enumerate(sorted(range(m), key=lambda i: p_values[i])))):
        running = min(running, m * p_values[index] / (rank + 1))
        adjusted[index] = running
    return adjusted


def adjust(p_values: Sequence[float], method: str) -> list[float]:
    """Adjusted p-values by `method` (one of CORRECTIONS)."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    if method == "none":
        return list(p_values)
    raise ValueError(f"unknown correction {method!r}")


def verdict(lift: float, p_value: float, higher_is_better: bool, alpha: float = ALPHA) -> str:
    """better or worse when significant at alpha (by the metric's direction), else inconclusive."""
    if not p_value < alpha or lift == 0:
        return "inconclusive"
    return "better" if (lift > 0) == higher_is_better else "worse"
