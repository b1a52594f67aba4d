"""The rollups' distribution sketches: built from a batch, merged exactly into what is stored.

For metrics whose catalogue entry has `distribution`, every rollup row (each
granularity, each variant and all of them) keeps the sketch of its raw samples
(tsmetrics.sketches) in `rollups.sketch`, written by the same upsert as n, sum,
min and max. PostgreSQL cannot merge two sketches itself, so the writer does:

1. it builds the batch's part of each bucket's sketch (numpy, no SQL);
2. it reads the sketches already stored for those buckets (one statement) and
   merges each with its part;
3. it stages, per bucket, the part, the sketch it saw and the merge; the
   rollup upsert inserts the part into a new bucket, and into an existing one
   writes the merge if the stored sketch is still the one it saw, else (another
   writer got there in between) appends the part to it: a concatenation of
   encodings reads as their merge, and the next write merges it for good.

Either way the stored sketch is exactly that of the samples the bucket holds,
whatever the order, lateness or concurrency of batches (a redelivered batch
never gets here: store.batches skips it). A bucket written while its metric
had no distribution has no sketch, or one holding fewer samples than `n`;
readers tell by comparing the two (see store.buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg

from tsmetrics import sketches

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_sketches (
    abtest_id integer, metric_id smallint, bucket_seconds integer, variant smallint,
    bucket timestamptz, part bytea, seen bytea, merged bytea,
    PRIMARY KEY (abtest_id, metric_id, bucket_seconds, variant, bucket)
) ON COMMIT DELETE ROWS
"""

# For the rollup upsert's ON CONFLICT: the sketch an existing bucket gets.
# NULL (no staged row) when the metric keeps no distribution.
MERGE_ON_CONFLICT = """(
    SELECT CASE WHEN s.seen IS NOT DISTINCT FROM r.sketch THEN coalesce(s.merged, s.part)
                ELSE r.sketch || s.part END
    FROM incoming_sketches s
    WHERE s.abtest_id = r.abtest_id AND s.metric_id = r.metric_id
      AND s.bucket_seconds = r.bucket_seconds AND s.variant = r.variant AND s.bucket = r.bucket
)"""

_DISTRIBUTION_IDS = "SELECT id FROM metrics WHERE distribution AND id = ANY(%(ids)s::int2[])"

_STORED = """
SELECT k.i, r.sketch
FROM unnest(%(abtest)s::int4[], %(metric)s::int2[], %(seconds)s::int4[], %(variant)s::int2[],
            %(bucket)s::int8[])
     WITH ORDINALITY AS k(abtest_id, metric_id, seconds, variant, epoch, i)
JOIN rollups r ON r.abtest_id = k.abtest_id AND r.metric_id = k.metric_id
  AND r.bucket_seconds = k.seconds AND r.variant = k.variant AND r.bucket = to_timestamp(k.epoch)
WHERE r.sketch IS NOT NULL
"""

_COPY = (
    "COPY incoming_sketches (abtest_id, metric_id, bucket_seconds, variant, bucket, part, seen,"
    " merged) FROM STDIN (FORMAT BINARY)"
)
_TYPES = ["int4", "int2", "int4", "int2", "timestamptz", "bytea", "bytea", "bytea"]


@dataclass(frozen=True)
class BucketSketches:
    """One batch's part of each rollup bucket's sketch: parallel key arrays and payloads."""

    abtest_id: np.ndarray
    metric_id: np.ndarray
    bucket_seconds: np.ndarray
    variant: np.ndarray
    bucket: np.ndarray  # epoch seconds
    parts: list[bytes]


def stage_sketches(
    cur: psycopg.Cursor, time_us, value, abtest_id, metric_id, variant, granularities
) -> int:
    """Stage the batch's sketches of distribution metrics for the rollup upsert; return rows."""
    metric_id = np.asarray(metric_id)
    present = np.unique(metric_id).tolist()
    ids = [row[0] for row in cur.execute(_DISTRIBUTION_IDS, {"ids": present}).fetchall()]
    if not ids:
        return 0
    keep = np.isin(metric_id, ids)
    columns = (time_us, value, abtest_id, metric_id, variant)
    built = bucket_sketches(*(np.asarray(c)[keep] for c in columns), granularities)
    seen: list[bytes | None] = [None] * len(built.parts)
    merged: list[bytes | None] = [None] * len(built.parts)
    params = {
        "abtest": built.abtest_id.tolist(),
        "metric": built.metric_id.tolist(),
        "seconds": built.bucket_seconds.tolist(),
        "variant": built.variant.tolist(),
        "bucket": built.bucket.tolist(),
    }
    stored = cur.execute(_STORED, params).fetchall()
    if stored:
        rows = [i - 1 for i, _ in stored]
        for row, payload in zip(rows, _merge([built.parts[i] for i in rows], stored), strict=True):
            merged[row] = payload
        for (_, old), row in zip(stored, rows, strict=True):
            seen[row] = bytes(old)
    buckets = [datetime.fromtimestamp(t, UTC) for t in params["bucket"]]
    with cur.copy(_COPY) as copy:
        copy.set_types(_TYPES)
        for row in zip(
            params["abtest"],
            params["metric"],
            params["seconds"],
            params["variant"],
            buckets,
            built.parts,
            seen,
            merged,
            strict=True,
        ):
            copy.write_row(row)
    return len(built.parts)


def _merge(parts: list[bytes], stored: list[tuple[int, bytes]]) -> list[bytes]:
    """Each stored sketch merged with its part, all at once."""
    count = len(parts)
    new = sketches.decode_many(parts)
    old = sketches.decode_many([bytes(payload) for _, payload in stored])
    groups, bins, counts = sketches.sum_bins(
        np.concatenate((new.rows, old.rows)),
        np.concatenate((new.bins, old.bins)),
        np.concatenate((new.counts, old.counts)),
    )
    return sketches.encode_many(groups, bins, counts, count)


def bucket_sketches(time_us, value, abtest_id, metric_id, variant, granularities) -> BucketSketches:
    """Per rollup bucket (each granularity, each variant, -1 for all) its samples' sketch."""
    minute = np.asarray(time_us, dtype=np.int64) // 60_000_000
    # Each sample counts for its variant and for all variants.
    tests = np.concatenate((abtest_id, abtest_id)).astype(np.int64)
    metrics = np.concatenate((metric_id, metric_id)).astype(np.int64)
    variants = np.concatenate((variant, np.full(len(variant), -1))).astype(np.int64)
    minutes = np.concatenate((minute, minute))
    series, _ = _dense(tests, metrics, variants)
    # First per (series, minute): every coarser bucket is a union of minutes.
    by_minute, minute_first = _dense(series, minutes)
    groups, bins, counts = sketches.group_bins(by_minute, np.concatenate((value, value)))
    group_series, group_minute = series[minute_first], minutes[minute_first]
    keys: dict[str, list[np.ndarray]] = {name: [] for name in _KEY_NAMES}
    parts: list[bytes] = []
    for seconds in granularities:
        step = seconds // 60
        bucket = group_minute - group_minute % step
        bucket_group, bucket_first = _dense(group_series, bucket)
        g, b, c = sketches.sum_bins(bucket_group[groups], bins, counts)
        parts += sketches.encode_many(g, b, c, len(bucket_first))
        first = minute_first[bucket_first]
        keys["abtest_id"].append(tests[first])
        keys["metric_id"].append(metrics[first])
        keys["bucket_seconds"].append(np.full(len(first), seconds))
        keys["variant"].append(variants[first])
        keys["bucket"].append(bucket[bucket_first] * 60)
    return BucketSketches(**{name: np.concatenate(keys[name]) for name in _KEY_NAMES}, parts=parts)


_KEY_NAMES = ("abtest_id", "metric_id", "bucket_seconds", "variant", "bucket")


def _dense(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dense group id per row (in sorted order of the columns) and each group's first row."""
    order = np.lexsort(columns[::-1])
    changed = np.zeros(len(order), dtype=bool)
    if len(order):
        changed[0] = True
        for column in columns:
            sorted_column = column[order]
            changed[1:] |= sorted_column[1:] != sorted_column[:-1]
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(changed) - 1
    return ids, order[changed]
