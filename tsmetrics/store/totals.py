"""Per-variant totals for A/B analysis, read from the exact rollups.

A window is tiled by the coarsest buckets that fit inside it, with finer ones
at its ragged edges (1-minute buckets at the finest), so the cost follows the
number of buckets touched, not the raw samples: 30 days cost about 60 rows per
series instead of 43,200 minutes. The unit `time` reads the variants' paired
bucket means instead (`paired_minute_means`): one row per bucket and variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import psycopg
from psycopg.rows import args_row

from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store.buckets import DOUBLE_MAX

_COARSEST_FIRST = sorted(GRANULARITIES.values(), reverse=True)
MINUTE = min(GRANULARITIES.values())


@dataclass(frozen=True)
class Piece:
    """Whole buckets of one size: those starting in [start, end), epoch seconds."""

    seconds: int
    start: int
    end: int


def tile(start: int, end: int, sizes: list[int] = _COARSEST_FIRST) -> list[Piece]:
    """Bucket ranges covering [start, end) exactly; both ends must be whole smallest buckets."""
    if start >= end:
        return []
    if start % sizes[-1] or end % sizes[-1]:
        raise ValueError(f"a window to tile starts and ends on whole {sizes[-1]} s buckets")
    for index, seconds in enumerate(sizes):
        inner_start = -(-start // seconds) * seconds
        inner_end = end // seconds * seconds
        if inner_start < inner_end:
            finer = sizes[index + 1 :]
            return [
                *tile(start, inner_start, finer),
                Piece(seconds, inner_start, inner_end),
                *tile(inner_end, end, finer),
            ]
    return []


def dropped_before(conn: psycopg.Connection) -> dict[int, int]:
    """Per bucket size, the epoch second before which retention dropped its rollups."""
    rows = conn.execute("SELECT kind, dropped_before FROM data_horizons WHERE kind <> 'raw'")
    return {GRANULARITIES[kind]: int(at.timestamp()) for kind, at in rows}


def finest_kept(at: int, dropped: dict[int, int], at_least: int = MINUTE) -> int | None:
    """The smallest bucket size (>= at_least) whose bucket holding `at` was kept; None: none."""
    for seconds in reversed(_COARSEST_FIRST):
        if seconds >= at_least and at - at % seconds >= dropped.get(seconds, at - at % seconds):
            return seconds
    return None


def kept_window(start: int, end: int, dropped: dict[int, int]) -> tuple[int, int]:
    """[start, end) in whole minutes, widened to whole buckets of the finest size kept at each
    end, and starting no earlier than the oldest bucket any size kept: the window whose
    totals the kept rollups give exactly."""
    if not dropped:
        return start, end
    oldest = min(dropped.get(seconds, -(2**62)) for seconds in _COARSEST_FIRST)
    start = max(start, oldest)
    end = max(start, end)
    low = finest_kept(start, dropped) or MINUTE
    high = finest_kept(max(start, end - 1), dropped) or MINUTE
    return start - start % low, max(start - start % low, -(-end // high) * high)


def kept_tiles(start: int, end: int, dropped: dict[int, int]) -> list[Piece]:
    """`tile` of a kept window, using at each point only the bucket sizes kept there.

    Horizons fall on UTC midnights, which every size divides: the window splits
    at them into runs, each tiled with the sizes it still has.
    """
    cuts = sorted({h for h in dropped.values() if start < h < end})
    pieces = []
    for low, high in zip([start, *cuts], [*cuts, end], strict=True):
        sizes = [s for s in _COARSEST_FIRST if dropped.get(s, low) <= low]
        pieces += tile(low, high, sizes) if sizes and low < high else []
    return pieces


def window_tiles(conn: psycopg.Connection, start: int, end: int) -> list[Piece]:
    """The rollup ranges whose union is `kept_window(start, end)`, each of a size kept there."""
    dropped = dropped_before(conn)
    return kept_tiles(*kept_window(start, end, dropped), dropped)


@dataclass(frozen=True)
class VariantTotals:
    """Count, numeric sum and sum of squares, min and max of one variant's samples."""

    metric_id: int
    variant: int
    n: int
    total: Decimal
    total_sq: Decimal
    lo: float
    hi: float


# The rollup rows of a window's tiles (`window_params`): one index range scan of
# the rollups' primary key per (piece, metric, variant), every column before
# `bucket` in the key fixed by equality.
TILED_ROLLUPS = """
FROM unnest(%(seconds)s::integer[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
         AS p(seconds, first_bucket, past_bucket)
CROSS JOIN unnest(%(metric_ids)s::smallint[]) AS m(id)
CROSS JOIN generate_series(0, %(variants)s - 1) AS v(position)
JOIN rollups r
  ON r.abtest_id = %(abtest_id)s AND r.metric_id = m.id AND r.bucket_seconds = p.seconds
 AND r.variant = v.position AND r.bucket >= p.first_bucket AND r.bucket < p.past_bucket
"""

_SELECT_TOTALS = (
    "SELECT r.metric_id, r.variant, sum(r.n)::bigint, sum(r.total), sum(r.total_sq),"
    " min(r.lo), max(r.hi)"
    + TILED_ROLLUPS
    + "GROUP BY r.metric_id, r.variant ORDER BY r.metric_id, r.variant"
)


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def window_params(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_ids: list[int],
    variants: int,
    start: int,
    end: int,
) -> dict:
    """TILED_ROLLUPS' parameters for these metrics and variant positions over the window."""
    pieces = window_tiles(conn, start, end)
    return {
        "seconds": [p.seconds for p in pieces],
        "starts": [_at(p.start) for p in pieces],
        "ends": [_at(p.end) for p in pieces],
        "metric_ids": metric_ids,
        "variants": variants,
        "abtest_id": abtest_id,
    }


def variant_totals(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_ids: list[int],
    variants: int,
    start: int,
    end: int,
) -> list[VariantTotals]:
    """Totals per (metric, variant position) over [start, end) in whole minutes (epoch seconds).

    Variants without samples in the window have no row. Where retention dropped
    the finer rollups, the window is `kept_window` of it (callers that show the
    window widen it first) and each part is read from the sizes still kept.
    """
    params = window_params(
        conn, abtest_id=abtest_id, metric_ids=metric_ids, variants=variants, start=start, end=end
    )
    with conn.cursor(row_factory=args_row(VariantTotals)) as cur:
        return cur.execute(_SELECT_TOTALS, params).fetchall()


@dataclass(frozen=True)
class BucketTotals:
    """One bucket of one variant: start (epoch seconds), count, numeric sums."""

    metric_id: int
    variant: int
    bucket: int
    n: int
    total: Decimal
    total_sq: Decimal


_SELECT_BUCKETS = """
SELECT r.metric_id, r.variant, extract(epoch FROM r.bucket)::bigint, r.n, r.total, r.total_sq
FROM unnest(%(metric_ids)s::smallint[]) AS m(id)
CROSS JOIN generate_series(0, %(variants)s - 1) AS v(position)
JOIN rollups r
  ON r.abtest_id = %(abtest_id)s AND r.metric_id = m.id AND r.bucket_seconds = %(seconds)s
 AND r.variant = v.position AND r.bucket >= %(start)s AND r.bucket < %(end)s
ORDER BY r.bucket, r.metric_id, r.variant
"""


def bucket_totals(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_ids: list[int],
    variants: int,
    seconds: int,
    start: int,
    end: int,
) -> list[BucketTotals]:
    """Per-variant buckets of `seconds` starting in [start, end), oldest first."""
    params = {
        "metric_ids": metric_ids,
        "variants": variants,
        "abtest_id": abtest_id,
        "seconds": seconds,
        "start": _at(start),
        "end": _at(end),
    }
    with conn.cursor(row_factory=args_row(BucketTotals)) as cur:
        return cur.execute(_SELECT_BUCKETS, params).fetchall()


@dataclass(frozen=True)
class PairedMinuteMeans:
    """Control's and one treatment's mean per bucket, at the buckets where both have samples."""

    metric_id: int
    variant: int
    minutes: np.ndarray  # bucket starts, epoch seconds (int64), oldest first
    control: np.ndarray  # float64 means, total/n
    treatment: np.ndarray


# Two index-only range scans of the rollups' primary key per (metric, treatment),
# merge-joined on the bucket: every column before `bucket` is fixed by equality.
# A sum past the double range (samples near ±1.8e308 stored before the accepted
# value range existed) is divided in numeric and its mean clamped to the largest
# double (the true mean lies between the bucket's min and max), never an error.
# The arrays come unordered (an ORDER BY in array_agg would sort three times);
# numpy orders them.
_SELECT_PAIRED = """
SELECT m.id, v.position, p.minutes, p.control, p.treatment
FROM unnest(%(metric_ids)s::smallint[]) AS m(id)
CROSS JOIN generate_series(1, %(variants)s - 1) AS v(position)
CROSS JOIN LATERAL (
    SELECT array_agg(date_part('epoch', c.bucket)) AS minutes,
           array_agg(CASE WHEN abs(c.total) < 1e308 THEN c.total::float8 / c.n
                          ELSE least(greatest(c.total / c.n, %(lowest)s), %(highest)s)::float8
                     END) AS control,
           array_agg(CASE WHEN abs(t.total) < 1e308 THEN t.total::float8 / t.n
                          ELSE least(greatest(t.total / t.n, %(lowest)s), %(highest)s)::float8
                     END) AS treatment
    FROM rollups c
    JOIN rollups t
      ON t.abtest_id = %(abtest_id)s AND t.metric_id = m.id AND t.bucket_seconds = %(seconds)s
     AND t.variant = v.position AND t.bucket = c.bucket
     AND t.bucket >= %(start)s AND t.bucket < %(end)s
    WHERE c.abtest_id = %(abtest_id)s AND c.metric_id = m.id AND c.bucket_seconds = %(seconds)s
      AND c.variant = 0 AND c.bucket >= %(start)s AND c.bucket < %(end)s
      AND c.n > 0 AND t.n > 0
) AS p
ORDER BY m.id, v.position
"""


def _paired_row(metric_id: int, variant: int, minutes, control, treatment) -> PairedMinuteMeans:
    minutes = np.asarray(minutes or [], dtype=np.float64).astype(np.int64)
    order = np.argsort(minutes, kind="stable")
    return PairedMinuteMeans(
        metric_id,
        variant,
        minutes[order],
        np.asarray(control or [], dtype=np.float64)[order],
        np.asarray(treatment or [], dtype=np.float64)[order],
    )


def paired_minute_means(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_ids: list[int],
    variants: int,
    start: int,
    end: int,
    seconds: int = MINUTE,
) -> list[PairedMinuteMeans]:
    """Per (metric, treatment): bucket means of `seconds` starting in [start, end) (epoch s).

    One row per metric and treatment position (1 .. variants - 1), empty arrays
    where no bucket has samples of both. Means are total/n in double precision.
    """
    if seconds not in GRANULARITIES.values():
        raise ValueError(f"no rollups of {seconds} s")
    params = {
        "metric_ids": metric_ids,
        "variants": variants,
        "abtest_id": abtest_id,
        "seconds": seconds,
        "start": _at(start),
        "end": _at(end),
        "lowest": -DOUBLE_MAX,
        "highest": DOUBLE_MAX,
    }
    # Binary: three arrays of thousands of numbers parse several times faster.
    with conn.cursor(row_factory=args_row(_paired_row), binary=True) as cur:
        return cur.execute(_SELECT_PAIRED, params).fetchall()
