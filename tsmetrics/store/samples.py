"""The one write path for samples: raw rows and their exact rollups, in one transaction."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import psycopg

from tsmetrics.granularity import GRANULARITIES

# PostgreSQL's binary timestamps count microseconds from 2000-01-01 UTC.
_PG_EPOCH_US = 946_684_800 * 1_000_000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
# One binary COPY tuple: field count, then (length, value) per column, big-endian.
_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("time_len", ">i4"),
        ("time", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
        ("abtest_len", ">i4"),
        ("abtest_id", ">i4"),
        ("metric_len", ">i4"),
        ("metric_id", ">i2"),
        ("variant_len", ">i4"),
        ("variant", ">i2"),
    ]
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

    @classmethod
    def from_rows(cls, rows: list[tuple[float, float, int, int, int]]) -> SampleColumns:
        """Build from (epoch seconds, value, abtest_id, metric_id, variant) tuples."""
        if not rows:
            empty = np.empty(0)
            return cls(empty, empty, empty, empty, empty)
        times, values, abtests, metrics, variants = zip(*rows, strict=True)
        return cls(
            time_us=np.round(np.asarray(times, dtype=np.float64) * 1e6).astype(np.int64),
            value=np.asarray(values, dtype=np.float64),
            abtest_id=np.asarray(abtests, dtype=np.int32),
            metric_id=np.asarray(metrics, dtype=np.int16),
            variant=np.asarray(variants, dtype=np.int16),
        )


def binary_copy_payload(batch: SampleColumns) -> bytes:
    """The whole batch as one binary COPY stream, built without a Python loop."""
    rows = np.empty(len(batch), dtype=_ROW)
    rows["fields"] = 5
    rows["time_len"], rows["value_len"], rows["abtest_len"] = 8, 8, 4
    rows["metric_len"], rows["variant_len"] = 2, 2
    rows["time"] = batch.time_us - _PG_EPOCH_US
    rows["value"] = batch.value
    rows["abtest_id"] = batch.abtest_id
    rows["metric_id"] = batch.metric_id
    rows["variant"] = batch.variant
    return _COPY_HEADER + rows.tobytes() + _COPY_TRAILER


_COPY = "COPY {table} (time, value, abtest_id, metric_id, variant) FROM STDIN (FORMAT BINARY)"

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_samples (LIKE samples) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS incoming_minutes (
    abtest_id integer, metric_id smallint, variant smallint, minute timestamptz,
    n bigint, lo float8, hi float8, total numeric, total_sq numeric,
    first_time timestamptz, last_time timestamptz
) ON COMMIT DELETE ROWS
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
_UPSERT_ROLLUPS = """
INSERT INTO rollups AS r
    (abtest_id, metric_id, bucket_seconds, bucket, variant, n, lo, hi, total, total_sq)
SELECT m.abtest_id, m.metric_id, g.seconds,
       date_bin(make_interval(secs => g.seconds), m.minute, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
       m.variant, sum(m.n), min(m.lo), max(m.hi), sum(m.total), sum(m.total_sq)
FROM incoming_minutes m CROSS JOIN unnest(%(seconds)s::integer[]) AS g(seconds)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 5, 4
ON CONFLICT (abtest_id, metric_id, bucket_seconds, variant, bucket) DO UPDATE SET
    n = r.n + excluded.n,
    lo = least(r.lo, excluded.lo),
    hi = greatest(r.hi, excluded.hi),
    total = r.total + excluded.total,
    total_sq = r.total_sq + excluded.total_sq
"""

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
    """
    if len(batch) == 0:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_STAGING)
        payload = binary_copy_payload(batch)
        # The same rows twice: COPY writes samples in multi-row batches, which
        # costs less than INSERT INTO samples SELECT from the staging table.
        for table in ("samples", "incoming_samples"):
            with cur.copy(_COPY.format(table=table)) as copy:
                copy.write(payload)
        cur.execute(_AGGREGATE_MINUTES)
        cur.execute(_UPSERT_ROLLUPS, {"seconds": list(GRANULARITIES.values())})
        cur.execute(_UPSERT_SERIES)
        # Empty the staging tables now: ON COMMIT only runs when the outermost
        # transaction ends, and a caller may insert several batches in one.
        cur.execute("TRUNCATE incoming_samples, incoming_minutes")
    return len(batch)
