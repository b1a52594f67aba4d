"""The bins of a sketch: the mapping of values to bins, their values, and sums of bins.

See tsmetrics.sketches for what the mapping guarantees.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

ALPHA = 0.005
# What within_bins promises: 1%, the product's bound (representatives promise ALPHA).
WITHIN_BIN_ERROR = 0.01
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_LOG_GAMMA = math.log(GAMMA)
_LOG_HALF_WIDTH = math.log(2 / (GAMMA + 1))
# Bins span GAMMA - 1 = 1.005% of their lower edge: a reading at most 0.99% above
# that edge is within 1% of every value in the bin (see within_bins).
_MAX_FRACTION = math.log(1.0099) / _LOG_GAMMA
# |k| < 2**17 for every finite double (k is about -74,400 for 5e-324, 71,000 for 1.8e308).
BIN_SHIFT = (1 << 17) + 1
_ORDINAL_SPAN = 1 << 20  # > 2 * max |ordinal|: room to pack (group, ordinal) in one int64
_MAX = np.finfo(np.float64).max
# The percentiles the product shows, by name: q is the double nearest the decimal.
QUANTILES: dict[str, float] = {
    name: float(Decimal(name[1:]) / 100) for name in [f"p{i}" for i in range(1, 100)] + ["p99.9"]
}


def ordinals(values) -> np.ndarray:
    """The bin ordinal of each value (int64): ordered like the values, 0 for zero."""
    v = np.asarray(values, dtype=np.float64)
    magnitude = np.abs(v)
    if not np.isfinite(magnitude).all():
        raise ValueError("sketches hold finite values only")
    safe = np.where(magnitude > 0, magnitude, 1.0)
    positive = np.ceil(np.log(safe) / _LOG_GAMMA).astype(np.int64) + BIN_SHIFT
    return np.where(v > 0, positive, np.where(v < 0, -positive, 0))


def representatives(ordinal) -> np.ndarray:
    """The value each bin answers (float64): within ALPHA of every value in the bin."""
    o = np.asarray(ordinal, dtype=np.int64)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        magnitude = np.minimum(np.exp(k * _LOG_GAMMA + _LOG_HALF_WIDTH), _MAX)
    return np.where(o == 0, 0.0, np.sign(o) * magnitude)


def within_bins(ordinal, position) -> np.ndarray:
    """The value `position` (0 to 1, in value order) of the way through each bin, log-linear.

    What the comparison reads (tsmetrics.analysis.quantile_compare): the i-th of
    a bin's m values is read at position i/(m + 1), where it lies on average if
    the values are spread evenly across the bin (in log scale, as the bins are),
    so the more a bin holds, the closer the reading. A bin spans 1.005% of its
    lower edge, so the reading is kept within the lowest 1/1.0099 of it: within
    1% of every value the bin may hold, whatever the position.
    """
    o = np.asarray(ordinal, dtype=np.int64)
    fraction = np.where(o > 0, position, 1.0 - np.asarray(position, dtype=np.float64))
    fraction = np.clip(fraction, 0.0, _MAX_FRACTION)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        magnitude = np.minimum(np.exp((k - 1 + fraction) * _LOG_GAMMA), _MAX)
    return np.where(o == 0, 0.0, np.sign(o) * magnitude)


def bin_widths(ordinal) -> np.ndarray:
    """The width of each bin in value (0 for the bin of zero)."""
    o = np.asarray(ordinal, dtype=np.int64)
    k = np.abs(o) - BIN_SHIFT
    with np.errstate(over="ignore"):
        width = np.minimum(np.exp((k - 1) * _LOG_GAMMA) * (GAMMA - 1), _MAX)
    return np.where(o == 0, 0.0, width)


def rank_of(count, q) -> np.ndarray:
    """The 0-based rank numpy's method="lower" takes for quantile q of `count` values."""
    return np.floor((np.asarray(count, dtype=np.int64) - 1) * q).astype(np.int64)


def group_bins(groups, values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group, ordinal, count) of the values per group id (non-negative int), sorted."""
    groups = np.asarray(groups, dtype=np.int64)
    packed = groups * _ORDINAL_SPAN + (ordinals(values) + _ORDINAL_SPAN // 2)
    unique, counts = np.unique(packed, return_counts=True)
    return unique // _ORDINAL_SPAN, unique % _ORDINAL_SPAN - _ORDINAL_SPAN // 2, counts


def sum_bins(groups, bins, counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same (group, ordinal, count) entries, sorted, repeats of a pair added up."""
    packed = np.asarray(groups, dtype=np.int64) * _ORDINAL_SPAN + (bins + _ORDINAL_SPAN // 2)
    order = np.argsort(packed, kind="stable")
    packed = packed[order]
    starts = np.flatnonzero(np.concatenate(([True], packed[1:] != packed[:-1])))
    summed = np.add.reduceat(np.asarray(counts, dtype=np.int64)[order], starts)
    unique = packed[starts]
    return unique // _ORDINAL_SPAN, unique % _ORDINAL_SPAN - _ORDINAL_SPAN // 2, summed
