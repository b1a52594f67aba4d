"""Exact per-minute sums of short decimal values, computed in the writer instead of in SQL.

The rollups keep `sum(value::numeric)` and `sum(value::numeric ^ 2)`. PostgreSQL
turns a float8 into numeric through its 15-significant-digit text, so a value
that is the double nearest to a decimal `n / 10**d` with |n| < 10**15 becomes
exactly that decimal, with display scale d (the fewest such decimals). Metric
values mostly have a few decimals (123.456 ms, 45.2 %), and for them the sums are
integers at a common scale: exact in int64, vectorised, with the same value and
the same display scale as SQL would give. Rows whose values do not qualify are
left to the SQL aggregation; a (test, metric, minute) takes one path whole, so
its all-variants row combines exactly what its variants hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsmetrics.store.binary_copy import PG_EPOCH_US, binary_copy

MAX_DECIMALS = 9
_POW10 = 10.0 ** np.arange(MAX_DECIMALS + 1)
_INT_POW10 = 10 ** np.arange(MAX_DECIMALS + 1, dtype=np.int64)
# Scaled values stay below 2**31, so squares fit in int64 and each of the two
# halves of a square sums without overflow over up to 2**32 samples.
_SCALED_MAX = float(2**31 - 1)
_HALF_BITS = 31
_MINUTE_US = 60_000_000
# Below one row in this many with a short decimal, SQL sums them all.
_WORTH_SORTING = 8
# How each aggregate combines: rows into a variant's minute, variants into all.
_COMBINE = {
    "n": np.add,
    "lo": np.minimum,
    "hi": np.maximum,
    "sum_scaled": np.add,
    "sum_sq_high": np.add,
    "sum_sq_low": np.add,
    "dscale": np.maximum,
    "first_time": np.minimum,
    "last_time": np.maximum,
}
# Group keys are packed into one int64 while their ranges allow, else lexsorted.
_PACKED_KEY_LIMIT = 2**62

# One row of the `incoming_exact` staging table, in binary COPY layout.
EXACT_COLUMNS = (
    ("abtest_id", ">i4"),
    ("metric_id", ">i2"),
    ("variant", ">i2"),
    ("minute", ">i8"),
    ("n", ">i8"),
    ("lo", ">f8"),
    ("hi", ">f8"),
    ("sum_scaled", ">i8"),
    ("sum_sq_high", ">i8"),
    ("sum_sq_low", ">i8"),
    ("scale", ">i2"),
    ("dscale", ">i2"),
    ("first_time", ">i8"),
    ("last_time", ">i8"),
)


@dataclass(frozen=True)
class MinuteSums:
    """Rows for `incoming_exact` (per variant and all variants), and the samples left to SQL."""

    copy_payload: bytes | None  # binary COPY of the per-minute rows; None when there are none
    groups: int
    leftover: np.ndarray  # bool per sample: aggregate this one in SQL


def short_decimals(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per value, the fewest decimals d <= MAX_DECIMALS (or -1) and the integer n = value * 10**d.

    d is set only where the value is the double nearest to n / 10**d with
    |n| < 10**15: then PostgreSQL's numeric for it is exactly n / 10**d.
    """
    decimals = np.full(len(value), -1, dtype=np.int16)
    scaled = np.zeros(len(value), dtype=np.int64)
    # -0.0 compares equal to 0.0 but min() and max() may keep either one; SQL decides those.
    # From 1e15 up no value qualifies (|n| >= |value|), and scaling one near the
    # float range would overflow: such values go to SQL without a try.
    todo = np.flatnonzero(~(np.signbit(value) & (value == 0)) & (np.abs(value) < 1e15))
    # One pass at the finest scale first: below 1e6, a value with a short
    # decimal also has one with MAX_DECIMALS decimals, so values with 17
    # significant digits (all of them, often) drop out at once.
    finest = _POW10[MAX_DECIMALS]
    candidates = value[todo]
    n = np.rint(candidates * finest)
    todo = todo[(n / finest == candidates) | (np.abs(candidates) >= 1e6)]
    for d in range(MAX_DECIMALS + 1):
        candidates = value[todo]
        n = np.rint(candidates * _POW10[d])
        # Division by an exact power of ten is correctly rounded: equality means
        # `value` is the double nearest to n / 10**d.
        fits = (n / _POW10[d] == candidates) & (np.abs(n) < 1e15)
        decimals[todo[fits]] = d
        scaled[todo[fits]] = n[fits].astype(np.int64)
        todo = todo[~fits]
        if len(todo) == 0:
            break
    return decimals, scaled


def minute_sums(
    time_us: np.ndarray,
    value: np.ndarray,
    abtest_id: np.ndarray,
    metric_id: np.ndarray,
    variant: np.ndarray,
) -> MinuteSums:
    """Exact per-minute aggregates of the samples whose values allow them."""
    decimals, scaled = short_decimals(value)
    if np.count_nonzero(decimals >= 0) * _WORTH_SORTING < len(value):
        # Grouping sorts every row: not worth it for a few short decimals among
        # long ones (an odd value of 17-digit data that happens to be short).
        return MinuteSums(None, 0, np.ones(len(value), dtype=bool))
    minute = time_us // _MINUTE_US
    order, whole_key, variant_key = _group_order((abtest_id, metric_id, minute, variant))
    value, decimals, scaled = value[order], decimals[order], scaled[order]

    # Groups of (test, metric, minute): the unit that takes one path whole.
    whole_starts = _starts(whole_key)
    scale = np.maximum.reduceat(decimals, whole_starts)
    largest = np.maximum.reduceat(np.abs(value), whole_starts) * _POW10[np.maximum(scale, 0)]
    # The float product is within 1e-6 of the integer, so this bounds it exactly.
    qualifies = (np.minimum.reduceat(decimals, whole_starts) >= 0) & (largest <= _SCALED_MAX)
    sizes = np.diff(np.append(whole_starts, len(order)))
    row_ok = np.repeat(qualifies, sizes)
    leftover = np.empty(len(order), dtype=bool)
    leftover[order] = ~row_ok
    if not qualifies.any():
        return MinuteSums(None, 0, leftover)

    keep = order[row_ok]  # original positions of the rows summed here, in group order
    row_scale = np.repeat(scale, sizes)[row_ok]
    scaled = scaled[row_ok] * _INT_POW10[row_scale - decimals[row_ok]]
    square = scaled * scaled  # < 2**62: exact
    times = time_us[keep] - PG_EPOCH_US
    rows = {
        "n": np.ones(len(keep), dtype=np.int64),
        "lo": value[row_ok],
        "hi": value[row_ok],
        "sum_scaled": scaled,
        "sum_sq_high": square >> _HALF_BITS,
        "sum_sq_low": square & ((1 << _HALF_BITS) - 1),
        "dscale": decimals[row_ok],
        "first_time": times,
        "last_time": times,
    }
    keys = {
        "abtest_id": abtest_id[keep],
        "metric_id": metric_id[keep],
        "variant": variant[keep],
        "minute": minute[keep] * _MINUTE_US - PG_EPOCH_US,
        "scale": row_scale,  # one per (test, metric, minute)
    }
    parts = _aggregate(rows, keys, variant_key[row_ok], whole_key[row_ok])
    return MinuteSums(binary_copy(parts, EXACT_COLUMNS), len(parts["n"]), leftover)


def _group_order(columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sort order by the columns, and per sorted row a key without and with the last column."""
    spans = [int(c.max()) - int(c.min()) + 1 for c in columns]
    if np.prod(spans, dtype=object) < _PACKED_KEY_LIMIT:
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for column, span in zip(columns, spans, strict=True):
            key = key * span + (column.astype(np.int64) - int(column.min()))
        order = np.argsort(key, kind="stable")
        key = key[order]
        return order, key // spans[-1], key
    # Too many distinct values for one integer key (times decades apart): sort by all.
    order = np.lexsort(columns[::-1])
    whole = _run_ids([c[order] for c in columns[:-1]])
    return order, whole, _run_ids([c[order] for c in columns])


def _run_ids(sorted_columns: list[np.ndarray]) -> np.ndarray:
    changed = np.zeros(len(sorted_columns[0]), dtype=bool)
    for column in sorted_columns:
        changed[1:] |= column[1:] != column[:-1]
    return np.cumsum(changed)


def _starts(sorted_key: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))


def _aggregate(rows: dict, keys: dict, variant_key, whole_key) -> dict[str, np.ndarray]:
    """Per-variant rows, then all-variants rows (variant -1) combined from them (input sorted)."""
    starts = _starts(variant_key)
    per_variant = _reduce(rows, starts) | {name: key[starts] for name, key in keys.items()}
    outer = _starts(whole_key[starts])
    all_variants = _reduce(per_variant, outer) | {
        name: key[outer] for name, key in per_variant.items() if name in keys
    }
    all_variants["variant"] = np.full(len(outer), -1, dtype=np.int16)
    return {name: np.concatenate((per_variant[name], all_variants[name])) for name in per_variant}


def _reduce(columns: dict, starts: np.ndarray) -> dict[str, np.ndarray]:
    return {name: combine.reduceat(columns[name], starts) for name, combine in _COMBINE.items()}
