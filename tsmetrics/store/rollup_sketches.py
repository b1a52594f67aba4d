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

import numpy as np
import psycopg

from tsmetrics import sketches

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS incoming_sketches (
    abtest_id integer, metric_id smallint, bucket_seconds integer, variant smallint,
    bucket timestamptz, part bytea, seen bytea, merged bytea,
    PRIMARY KEY (abtest_id, metric_id, bucket_seconds, variant, bucket)
) ON COMMIT DELETE ROWS;
SELECT id FROM metrics WHERE distribution
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

_STORED = """
SELECT k.i, r.sketch
FROM unnest(%(abtest)s::int4[], %(metric)s::int2[], %(seconds)s::int4[], %(variant)s::int2[],
            %(bucket)s::int8[])
     WITH ORDINALITY AS k(abtest_id, metric_id, seconds, variant, epoch, i)
JOIN rollups r ON r.abtest_id = k.abtest_id AND r.metric_id = k.metric_id
  AND r.bucket_seconds = k.seconds AND r.variant = k.variant AND r.bucket = to_timestamp(k.epoch)
WHERE r.sketch IS NOT NULL
"""

# Sent in one pipeline with the rollup upsert: no round trip of its own. Each
# column of sketches comes as one bytea with where each one starts and how long
# it is (-1: NULL), and the numbers as array literals: psycopg adapts a list
# element by element in Python, which cost more than the statement.
STAGE = """
INSERT INTO incoming_sketches
SELECT abtest_id, metric_id, seconds, variant, to_timestamp(epoch),
       substring(%(part)s::bytea FROM part_at FOR part_len),
       CASE WHEN seen_len >= 0 THEN substring(%(seen)s::bytea FROM seen_at FOR seen_len) END,
       CASE WHEN merged_len >= 0
            THEN substring(%(merged)s::bytea FROM merged_at FOR merged_len) END
FROM unnest(%(abtest)s::int4[], %(metric)s::int2[], %(seconds)s::int4[], %(variant)s::int2[],
            %(bucket)s::int8[], %(part_at)s::int4[], %(part_len)s::int4[],
            %(seen_at)s::int4[], %(seen_len)s::int4[], %(merged_at)s::int4[],
            %(merged_len)s::int4[])
     AS k(abtest_id, metric_id, seconds, variant, epoch, part_at, part_len,
          seen_at, seen_len, merged_at, merged_len)
"""


@dataclass(frozen=True)
class BucketSketches:
    """One batch's part of each rollup bucket's sketch: keys, entries and payloads."""

    abtest_id: np.ndarray
    metric_id: np.ndarray
    bucket_seconds: np.ndarray
    variant: np.ndarray
    bucket: np.ndarray  # epoch seconds
    entries: tuple[np.ndarray, np.ndarray, np.ndarray]  # (bucket index, ordinal, count), sorted
    parts: list[bytes]


def distribution_ids(cur: psycopg.Cursor) -> list[int]:
    """After STAGING ran: the metrics that keep distributions (its last statement's rows)."""
    while cur.nextset():
        pass
    return [row[0] for row in cur.fetchall()]


def stage_sketches(
    cur: psycopg.Cursor,
    ids: list[int],
    time_us,
    value,
    abtest_id,
    metric_id,
    variant,
    granularities,
) -> dict | None:
    """The parameters of STAGE for the batch's sketches of the metrics `ids` (None: none)."""
    metric_id = np.asarray(metric_id)
    keep = np.isin(metric_id, ids)
    if not keep.any():
        return None
    columns = (time_us, value, abtest_id, metric_id, variant)
    built = bucket_sketches(*(np.asarray(c)[keep] for c in columns), granularities)
    count = len(built.parts)
    seen: list[bytes | None] = [None] * count
    merged: list[bytes | None] = [None] * count
    params = {
        "abtest": _literal(built.abtest_id),
        "metric": _literal(built.metric_id),
        "seconds": _literal(built.bucket_seconds),
        "variant": _literal(built.variant),
        "bucket": _literal(built.bucket),
    }
    stored = cur.execute(_STORED, params).fetchall()
    if stored:
        rows = [i - 1 for i, _ in stored]
        olds = [bytes(payload) for _, payload in stored]
        for row, old, payload in zip(rows, olds, _merge(built, rows, olds), strict=True):
            seen[row], merged[row] = old, payload
    return params | _blob("part", built.parts) | _blob("seen", seen) | _blob("merged", merged)


def _literal(values: np.ndarray) -> str:
    """An array literal of integers, for a parameter cast to an array type."""
    return "{" + ",".join(map(str, values.tolist())) + "}"


def _blob(name: str, payloads: list[bytes] | list[bytes | None]) -> dict:
    """Payloads as one bytea, and per payload its 1-based start and length (-1: NULL)."""
    lengths = np.fromiter((-1 if p is None else len(p) for p in payloads), dtype=np.int64)
    starts = np.cumsum(np.maximum(lengths, 0)) - np.maximum(lengths, 0) + 1
    joined = b"".join(p for p in payloads if p is not None)
    return {name: joined, f"{name}_at": _literal(starts), f"{name}_len": _literal(lengths)}


def _merge(built: BucketSketches, rows: list[int], stored: list[bytes]) -> list[bytes]:
    """The stored sketches of buckets `rows`, each merged with the batch's part, all at once."""
    old = sketches.decode_many(stored)
    # The batch's entries of those buckets, renumbered 0..len(rows)-1 like `old`.
    position = np.full(len(built.parts), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    groups, bins, counts = built.entries
    mine = position[groups] >= 0
    merged = sketches.sum_bins(
        np.concatenate((position[groups[mine]], old.rows)),
        np.concatenate((bins[mine], old.bins)),
        np.concatenate((counts[mine], old.counts)),
    )
    return sketches.encode_many(*merged, len(rows))


def bucket_sketches(time_us, value, abtest_id, metric_id, variant, granularities) -> BucketSketches:
    """Per rollup bucket (each granularity, each variant, -1 for all) its samples' sketch."""
    minute = np.asarray(time_us, dtype=np.int64) // 60_000_000
    # Each sample counts for its variant and for all variants.
    tests = np.concatenate((abtest_id, abtest_id)).astype(np.int64)
    metrics = np.concatenate((metric_id, metric_id)).astype(np.int64)
    variants = np.concatenate((variant, np.full(len(variant), -1))).astype(np.int64)
    minutes = np.concatenate((minute, minute))
    series, _ = _dense(tests, metrics, variants)
    # First per (series, minute): every bucket of every granularity is a union of minutes.
    by_minute, minute_first = _dense(series, minutes)
    groups, bins, counts = sketches.group_bins(by_minute, np.concatenate((value, value)))
    # Then each minute into its bucket at every granularity, all in one pass.
    sizes = np.asarray(granularities, dtype=np.int64)
    in_minutes = minutes[minute_first]
    bucket = in_minutes[None, :] - in_minutes[None, :] % (sizes[:, None] // 60)
    size_index = np.repeat(np.arange(len(sizes)), len(minute_first))
    repeated_series = np.tile(series[minute_first], len(sizes))
    bucket_of, bucket_first = _dense(size_index, repeated_series, bucket.ravel())
    spread = (np.arange(len(sizes))[:, None] * len(minute_first) + groups[None, :]).ravel()
    entries = sketches.sum_bins(
        bucket_of[spread], np.tile(bins, len(sizes)), np.tile(counts, len(sizes))
    )
    first = minute_first[bucket_first % len(minute_first)]
    return BucketSketches(
        abtest_id=tests[first],
        metric_id=metrics[first],
        bucket_seconds=sizes[size_index[bucket_first]],
        variant=variants[first],
        bucket=bucket.ravel()[bucket_first] * 60,
        entries=entries,
        parts=sketches.encode_many(*entries, len(bucket_first)),
    )


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
