"""Quantiles of a variant with a confidence interval, and treatment against control.

Everything here reads a variant's samples through two things, its `count` and
`value_at_rank(k)` (the k-th smallest, 0-based), so it runs alike on the
rollups' merged sketches (tsmetrics.sketches) and on exact sorted arrays (the
tests' reference). The point estimate of quantile q of n samples is the value at
rank floor(q·(n - 1)), numpy's `quantile(values, q, method="lower")`.

- **Interval of one quantile** (distribution-free, from binomial order
  statistics): the number B of samples below the true quantile is Binomial(n, q),
  so the order statistics at ranks nq ± z·sqrt(nq(1 - q)) (with a continuity
  correction: 0-based ranks floor(nq - z·s - 1/2) and ceil(nq + z·s - 1/2)) hold
  the quantile with probability 1 - alpha. When those ranks fall outside the
  samples there is no interval (too few samples for that quantile; `min_count`
  says how many it takes).
- **Standard error**: se = (x(c + z·s) - x(c - z·s))/(2z), c = q(n - 1), s as
  above, at unrounded (interpolated) ranks (Siddiqui 1960).
- **Reading through a sketch**: samples that offer `noise_at_rank(k)` (a merged
  sketch, read within its bins: tsmetrics.analysis.quantile_compare.Merged) say
  how far, as a standard deviation, the exact value may be from their reading;
  that read noise of each point estimate is added in quadrature below (exact
  samples have none; docs/analysis.md says why not the sketches' worst case).
- **Difference** d = q_t - q_c with s_d = sqrt(se_t² + se_c² + noise_t² +
  noise_c²), half-width k·s_d: k = z for `fixed`, c(N) of the confidence
  sequence (tsmetrics.analysis.sequential, N = samples of both variants) for
  `sequential`.
- **Relative difference** d/q_c by the delta method, s² = (se_t² + noise_t² +
  r²·(se_c² + noise_c²))/q_c² with r = q_t/q_c.
- **p-value**: the smallest alpha whose interval excludes 0, so p < alpha exactly
  when the interval excludes 0: from the normal statistic z' = d/s_d,
  2·(1 - Phi(|z'|)) for `fixed`, the always-valid min(1, 1/E) for `sequential`.

Assumptions: independent samples, and a positive, continuous density at the
quantile, so that the sample quantile is asymptotically normal and, by Bahadur's
representation, a mean plus a small remainder: the confidence sequence's
time-uniform central limit theory applies to it as to a mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist
from typing import Protocol

import numpy as np

from tsmetrics.analysis import sequential, stats

INFERENCES = sequential.INFERENCES  # both: the interval and SE hold at one look or at many


class Ranked(Protocol):
    """What the inference reads of a variant's samples: a merged sketch, or sorted values.

    An object may also offer `values_at_ranks(ks)` (the same values, several at once)
    and `noise_at_rank(k)` (the standard deviation of the exact value around the one
    it reads; 0 without it).
    """

    @property
    def count(self) -> int: ...

    def value_at_rank(self, k: int) -> float: ...


@cache
def normal_quantile(alpha: float) -> float:
    """z with P(|Z| > z) = alpha."""
    return NormalDist().inv_cdf(1 - alpha / 2)


@dataclass(frozen=True)
class Ranks:
    """0-based ranks of one quantile: the interval's, the point's, and the SE's (fractional)."""

    low: np.ndarray
    point: np.ndarray
    high: np.ndarray
    spread_low: np.ndarray
    spread_high: np.ndarray


def ranks(n, q: float, alpha: float = stats.ALPHA) -> Ranks:
    """The ranks quantile q of n samples reads; n a scalar or an array."""
    n = np.asarray(n, dtype=np.float64)
    spread = normal_quantile(alpha) * np.sqrt(n * q * (1 - q))
    centre = q * (n - 1)
    last = np.maximum(n - 1, 0)
    return Ranks(
        low=np.floor(n * q - spread - 0.5).astype(np.int64),
        point=np.floor(centre).astype(np.int64),
        high=np.ceil(n * q + spread - 0.5).astype(np.int64),
        spread_low=np.clip(centre - spread, 0, last),
        spread_high=np.clip(centre + spread, 0, last),
    )


def fits(n, q: float, alpha: float = stats.ALPHA):
    """True where the interval's ranks lie within the n samples."""
    r = ranks(n, q, alpha)
    return (r.low >= 0) & (r.high <= np.asarray(n) - 1)


@cache
def min_count(q: float, alpha: float = stats.ALPHA) -> int:
    """The fewest samples for which quantile q has an interval."""
    z = normal_quantile(alpha)
    # Both conditions (n·min(q, 1-q) - z·sqrt(n q (1-q)) >= 1/2) grow with n near the root.
    tail = min(q, 1 - q)
    spread = z * math.sqrt(q * (1 - q))
    root = (spread + math.sqrt(spread * spread + 2 * tail)) / (2 * tail)
    n = max(1, math.ceil(root * root))
    while n > 1 and bool(fits(n - 1, q, alpha)):
        n -= 1
    while not bool(fits(n, q, alpha)):
        n += 1
    return n


@dataclass(frozen=True)
class Estimates:
    """Quantile estimates with intervals, standard errors and read noise (arrays)."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    noise: np.ndarray  # the standard deviation of the exact quantile around `value`


def estimates(values: tuple, noise=0.0, alpha: float = stats.ALPHA) -> Estimates:
    """From the values at (low, point, high, spread_low, spread_high), the last two
    interpolated, and the read noise of the point: the interval and the SE."""
    low, point, high, spread_low, spread_high = (np.asarray(a, dtype=np.float64) for a in values)
    return Estimates(
        value=point,
        low=low,
        high=high,
        se=(spread_high - spread_low) / (2 * normal_quantile(alpha)),
        noise=np.broadcast_to(np.asarray(noise, dtype=np.float64), point.shape),
    )


def _read(samples: Ranked, ranks_: list[int]) -> dict[int, float]:
    # One call for all ranks where the samples offer it (a merged sketch's cumulative
    # counts are then summed once), else one value_at_rank per rank.
    many = getattr(samples, "values_at_ranks", None)
    values = many(ranks_) if many is not None else [samples.value_at_rank(k) for k in ranks_]
    return dict(zip(ranks_, (float(v) for v in values), strict=True))


def _at(read: dict[int, float], rank: float) -> float:
    # The value at a fractional rank, interpolated between the two ranks around it.
    k = math.floor(rank)
    return read[k] + (rank - k) * (read[k + 1] - read[k]) if rank > k else read[k]


def _needed(r: Ranks) -> list[int]:
    out = [int(r.low), int(r.point), int(r.high)]
    for rank in (float(r.spread_low), float(r.spread_high)):
        out += [math.floor(rank)] + ([math.floor(rank) + 1] if rank > math.floor(rank) else [])
    return sorted(set(out))


@dataclass(frozen=True)
class Quantile:
    """One variant's quantile q: its value, interval, standard error and read noise."""

    q: float
    count: int
    value: float
    interval: stats.Interval
    se: float
    noise: float


def estimate(samples: Ranked, q: float, alpha: float = stats.ALPHA) -> Quantile | None:
    """Quantile q of the samples with its interval; None when there are too few for one."""
    n = samples.count
    r = ranks(n, q, alpha)
    if n < 1 or r.low < 0 or r.high > n - 1:
        return None
    read = _read(samples, _needed(r))
    noise = getattr(samples, "noise_at_rank", None)
    e = estimates(
        (
            read[int(r.low)],
            read[int(r.point)],
            read[int(r.high)],
            _at(read, float(r.spread_low)),
            _at(read, float(r.spread_high)),
        ),
        noise(int(r.point)) if noise is not None else 0.0,
        alpha,
    )
    interval = stats.Interval(float(e.low), float(e.high))
    return Quantile(q, n, float(e.value), interval, float(e.se), float(e.noise))


def point(samples: Ranked, q: float) -> float | None:
    """Quantile q without interval (numpy's method="lower"); None without samples."""
    n = samples.count
    return samples.value_at_rank(int(ranks(n, q).point)) if n else None


@dataclass(frozen=True)
class Looks:
    """Treatment minus control at many looks (arrays; NaN where undefined)."""

    difference: np.ndarray
    half_width: np.ndarray
    relative: np.ndarray
    relative_half_width: np.ndarray
    statistic: np.ndarray  # d/s_d
    p_value: np.ndarray


def _normal_two_sided(z: np.ndarray) -> np.ndarray:
    erfc = np.frompyfunc(math.erfc, 1, 1)
    return np.minimum(1.0, np.asarray(erfc(np.abs(z) / math.sqrt(2)), dtype=np.float64))


def difference_looks(
    control: Estimates,
    treatment: Estimates,
    units,
    inference: str,
    tuning: sequential.Tuning,
) -> Looks:
    """Difference and relative difference of quantiles, intervals and p-values, look by look."""
    units = np.asarray(units, dtype=np.float64)
    if inference == "sequential":
        k = sequential.multiplier(units, tuning)
    elif inference == "fixed":
        k = np.full(units.shape, normal_quantile(tuning.alpha))
    else:
        raise ValueError(f"unknown inference {inference!r}")
    d = treatment.value - control.value
    spread_t = treatment.se**2 + treatment.noise**2
    spread_c = control.se**2 + control.noise**2
    se = np.sqrt(spread_t + spread_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = d / se
        ratio = treatment.value / control.value
        relative = ratio - 1
        relative_se = np.sqrt(spread_t + ratio**2 * spread_c) / np.abs(control.value)
    if inference == "sequential":
        p = sequential.always_valid_p(np.nan_to_num(statistic, nan=0.0), units, tuning)
    else:
        p = _normal_two_sided(np.nan_to_num(statistic, nan=0.0))
    return Looks(
        difference=d,
        half_width=k * se,
        relative=relative,
        relative_half_width=k * relative_se,
        statistic=statistic,
        p_value=np.where(np.isfinite(statistic), p, np.nan),
    )


def _as_estimates(x: Quantile) -> Estimates:
    return Estimates(
        *(np.float64(v) for v in (x.value, x.interval.low, x.interval.high, x.se)),
        np.float64(x.noise),
    )


def compare(
    control: Quantile, treatment: Quantile, inference: str, tuning: sequential.Tuning
) -> sequential.Inference | None:
    """Treatment's quantile against control's; None when no finite statistic exists (se = 0)."""
    units = control.count + treatment.count
    look = difference_looks(
        _as_estimates(control), _as_estimates(treatment), units, inference, tuning
    )
    numbers = [look.difference, look.half_width, look.statistic, look.p_value]
    if not all(math.isfinite(float(x)) for x in numbers):
        return None
    d, half = float(look.difference), float(look.half_width)
    relative = relative_interval = None
    if control.value != 0 and math.isfinite(float(look.relative_half_width)):
        relative = float(look.relative)
        relative_interval = sequential.interval(relative, float(look.relative_half_width))
    return sequential.Inference(
        inference=inference,
        unit="sample",
        lift=d,
        lift_interval=sequential.interval(d, half),
        relative_lift=relative,
        relative_interval=relative_interval,
        p_value=float(look.p_value),
        statistic=float(look.statistic),
        df=None,
        units=units,
        tuning=tuning if inference == "sequential" else None,
        alpha=tuning.alpha,
    )
