"""The one write path for samples: raw rows and their exact rollups, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import psycopg

from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store.binary_copy import PG_EPOCH_US, binary_copy
from tsmetrics.store.minute_sums import minute_sums
from tsmetrics.store.partitions import ensure_partitions_for
from tsmetrics.store.rollup_sketches import (
    MERGE_ON_CONFLICT,
    STAGE,
    STAGING,
    distribution_ids,
    stage_sketches,
)

# The columns of `samples` in binary COPY layout.
_SAMPLE_COLUMNS = (
    ("time", ">i8"),
    ("value", ">f8"),
    ("abtest_id", ">i4"),
    ("metric_id", ">i2"),
    ("variant", ">i2"),
)


@dataclass(frozen=True)
class SampleColumns:
    """A batch of samples as parallel arrays (time in microseconds since the Unix epoch)."""

    time_us: np.ndarray
    value: np.ndarray
    abtest_id: np.ndarray
    metric_id: np.ndarray
    variant: np.ndarray

    def __len__(self) -> int:
        return len(self.time_us)

    def subset(self, rows: np.ndarray | slice) -> SampleColumns:
        """The samples selected by a boolean mask, an index array or a slice."""
        return SampleColumns(*(getattr(self, name)[rows] for name in _FIELDS))

    @classmethod
    def concat(cls, parts: Sequence[SampleColumns]) -> SampleColumns:
        """Several batches as one."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in _FIELDS))

    @classmethod
    def from_seconds(cls, seconds, value, abtest_id, metric_id, variant) -> SampleColumns:
        """Build from epoch seconds and the other columns (array-likes or, for ids, scalars)."""
        count = len(value)
        return cls(
            time_us=np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64),
            value=np.asarray(value, dtype=np.float64),
            abtest_id=_column(abtest_id, np.int32, count),
            metric_id=_column(metric_id, np.int16, count),
            variant=_column(variant, np.int16, count),
        )

    @classmethod
    def from_rows(cls, rows: list[tuple[float, float, int, int, int]]) -> SampleColumns:
        """Build from (epoch seconds, value, abtest_id, metric_id, variant) tuples."""
        if not rows:
            empty = np.empty(0)
            return cls(empty, empty, empty, empty, empty)
        return cls.from_seconds(*zip(*rows, strict=True))


_FIELDS = tuple(SampleColumns.__dataclass_fields__)


def _column(values, dtype, count: int) -> np.ndarray:
    column = np.asarray(values, dtype=dtype)
    return np.full(count, column, dtype=dtype) if column.ndim == 0 else column


def binary_copy_payload(batch: SampleColumns) -> bytes:
    """The whole batch as one binary COPY stream for `samples`."""
    return binary_copy(
        {
            "time": batch.time_us - PG_EPOCH_US,
            "value": batch.value,
            "abtest_id": batch.abtest_id,
            "metric_id": batch.metric_id,
            "variant": batch.variant,
        },
        _SAMPLE_COLUMNS,
    )


_COPY = "COPY {table} (time, value, abtest_id, metric_id, variant) FROM STDIN (FORMAT BINARY)"

_STAGING = (
    """
CREATE TEMP TABLE IF NOT EXISTS incoming_samples (LIKE samples) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS incoming_minutes (
    abtest_id integer, metric_id smallint, variant smallint, minute timestamptz,
    n bigint, lo float8, hi float8, total numeric, total_sq numeric,
    first_time timestamptz, last_time timestamptz
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS incoming_exact (
    abtest_id integer, metric_id smallint, variant smallint, minute timestamptz,
    n bigint, lo float8, hi float8, sum_scaled bigint, sum_sq_high bigint, sum_sq_low bigint,
    scale smallint, dscale smallint, first_time timestamptz, last_time timestamptz
) ON COMMIT DELETE ROWS;
"""
    + STAGING
)

_COPY_EXACT = "COPY incoming_exact FROM STDIN (FORMAT BINARY)"

# Sums computed by tsmetrics.store.minute_sums as integers at 10**-scale, squares
# in two 31-bit halves. The text 'Ne-S' makes the exact numeric; round() to the
# display scale SQL's own sum would have (exact: no digits lie beyond it).
_INSERT_EXACT_MINUTES = """
INSERT INTO incoming_minutes
SELECT abtest_id, metric_id, variant, minute, n, lo, hi,
       round((sum_scaled || 'e-' || scale)::numeric, dscale),
       round((sum_sq_high * 2147483648::numeric + sum_sq_low) * ('1e-' || 2 * scale)::numeric,
             2 * dscale),
       first_time, last_time
FROM incoming_exact
"""

_AGGREGATE_MINUTES = """
INSERT INTO incoming_minutes
WITH per_variant AS MATERIALIZED (
    SELECT abtest_id, metric_id, variant, minute,
           count(*) AS n, min(value) AS lo, max(value) AS hi,
           sum(exact) AS total, sum(exact * exact) AS total_sq,
           min(time) AS first_time, max(time) AS last_time
    FROM (
        -- OFFSET 0 keeps this subquery from being flattened, so the costly
        -- float8 -> numeric cast runs once per sample instead of once per use.
        SELECT *, date_bin('1 minute', time, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS minute,
               value::numeric AS exact
        FROM incoming_samples
        OFFSET 0
    ) AS s
    GROUP BY 1, 2, 3, 4
)
-- The all-variants rows (variant NULL, stored as -1) come from the few
-- per-variant rows rather than the samples: one hashing pass over the samples
-- instead of a sort for ROLLUP. Exact all the same: numeric sums add.
SELECT abtest_id, metric_id, coalesce(variant, -1), minute,
       sum(n), min(lo), max(hi), sum(total), sum(total_sq), min(first_time), max(last_time)
FROM per_variant
GROUP BY abtest_id, metric_id, minute, ROLLUP (variant)
"""

# Merging is exact: counts and numeric sums add, min and max compose. The ORDER
# BY makes concurrent writers lock shared buckets in one order (no deadlocks).
_UPSERT_ROLLUPS = "".join(
    (
        """
INSERT INTO rollups AS r
    (abtest_id, metric_id, bucket_seconds, bucket, variant, n, lo, hi, total, total_sq, sketch)
SELECT g.*, s.part FROM (
    SELECT m.abtest_id, m.metric_id, g.seconds AS bucket_seconds,
           date_bin(make_interval(secs => g.seconds), m.minute,
                    TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket,
           m.variant, sum(m.n), min(m.lo), max(m.hi), sum(m.total), sum(m.total_sq)
    FROM incoming_minutes m CROSS JOIN unnest(%(seconds)s::integer[]) AS g(seconds)
    GROUP BY 1, 2, 3, 4, 5
) AS g LEFT JOIN incoming_sketches s USING (abtest_id, metric_id, bucket_seconds, bucket, variant)
ORDER BY 1, 2, 3, 5, 4
ON CONFLICT (abtest_id, metric_id, bucket_seconds, variant, bucket) DO UPDATE SET
    n = r.n + excluded.n,
    lo = least(r.lo, excluded.lo),
    hi = greatest(r.hi, excluded.hi),
    total = r.total + excluded.total,
    total_sq = r.total_sq + excluded.total_sq,
    sketch = """,
        MERGE_ON_CONFLICT,
    )
)

_UPSERT_SERIES = """
INSERT INTO series AS s (abtest_id, metric_id, variant, first_time, last_time, sample_count)
SELECT abtest_id, metric_id, variant, min(first_time), max(last_time), sum(n)
FROM incoming_minutes
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (abtest_id, metric_id, variant) DO UPDATE SET
    first_time = least(s.first_time, excluded.first_time),
    last_time = greatest(s.last_time, excluded.last_time),
    sample_count = s.sample_count + excluded.sample_count
"""


def insert_samples(conn: psycopg.Connection, batch: SampleColumns) -> int:
    """Store a batch and fold it into every rollup, inside the caller's transaction.

    The caller has validated ids and values. Returns the number of samples stored.
    The per-minute sums come from tsmetrics.store.minute_sums where the values
    are short decimals, and from SQL over a staging copy otherwise; both exact.
    """
    if len(batch) == 0:
        return 0
    sums = minute_sums(batch.time_us, batch.value, batch.abtest_id, batch.metric_id, batch.variant)
    # Plain PostgreSQL: each day's partition exists before its rows arrive (the
    # DEFAULT partition would catch them anyway, for maintenance to move).
    ensure_partitions_for(conn, batch.time_us)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_STAGING)
        # Its last statement lists the metrics that keep distributions.
        ids = distribution_ids(cur)
        with cur.copy(_COPY.format(table="samples")) as copy:
            copy.write(binary_copy_payload(batch))
        if sums.copy_payload is not None:
            with cur.copy(_COPY_EXACT) as copy:
                copy.write(sums.copy_payload)
            cur.execute(_INSERT_EXACT_MINUTES)
        if sums.leftover.any():
            # COPY writes the rows to aggregate in SQL a second time, into the
            # staging table: cheaper than reading them back out of `samples`.
            with cur.copy(_COPY.format(table="incoming_samples")) as copy:
                copy.write(binary_copy_payload(batch.subset(sums.leftover)))
            cur.execute(_AGGREGATE_MINUTES)
        seconds = list(GRANULARITIES.values())
        # The distribution sketches of the same buckets, merged by the same upsert.
        columns = (batch.time_us, batch.value, batch.abtest_id, batch.metric_id, batch.variant)
        staged = stage_sketches(cur, ids, *columns, seconds)
        if staged is None:
            cur.execute(_UPSERT_ROLLUPS, {"seconds": seconds})
        else:
            # The staged sketches and the upsert that merges them: one round
            # trip where libpq can pipeline (14 and later), two otherwise.
            with conn.pipeline() if psycopg.Pipeline.is_supported() else nullcontext():
                cur.execute(STAGE, staged)
                cur.execute(_UPSERT_ROLLUPS, {"seconds": seconds})
        cur.execute(_UPSERT_SERIES)
        # Empty the staging tables now: ON COMMIT only runs when the outermost
        # transaction ends, and a caller may insert several batches in one.
        cur.execute(
            "TRUNCATE incoming_samples, incoming_minutes, incoming_exact, incoming_sketches"
        )
    return len(batch)
