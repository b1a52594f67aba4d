"""The /metrics buckets through the query cache, in aligned chunks of one series.

A request's range is cut into chunks aligned to the Unix epoch (a UTC day of
1m or 5m buckets, 8 days of 30m, ...). A chunk wholly in the past is cached
whole, so requests with other ranges that overlap it (a sliding dashboard
window) reuse it; of the chunk reaching now, the days before today are cached
whole too, and today's part only for the exact bounds asked, briefly. Each key
holds the version stamp of its days, read before any bucket, so a write
committed before the read is always seen (cache.py).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import psycopg

from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store import buckets
from tsmetrics.store.buckets import ALL_VARIANTS, BucketPage, Datapoint
from tsmetrics.store.cache_versions import DAY, Stamps, read_stamps
from tsmetrics.telemetry.metrics import CACHE_BUCKETS

# Days per chunk: about 250 to 1,500 buckets each, and every coarser chunk is a
# whole number of finer ones, of whole days (the stamps are per day).
CHUNK_DAYS = {"1m": 1, "5m": 1, "30m": 8, "1h": 16, "6h": 64, "1d": 256}
# Past this many chunks a request reads the database directly.
MAX_CHUNKS = 400
_WIRE = np.dtype([("t", "<i8"), ("a", "<f8"), ("l", "<f8"), ("h", "<f8")])


@dataclass(frozen=True)
class Chunk:
    """One aligned chunk of a request: the part of it cached and read (`lo` to `hi`)."""

    start: int
    end: int
    lo: int
    hi: int
    live: bool


def plan(start: int, end: int, granularity: str, now: float) -> list[Chunk] | None:
    """The chunks covering [start, end) (epoch seconds), or None when there are too many.

    The chunk reaching now is split at the start of today (a bucket boundary at
    every granularity): its earlier days are cached whole like any past chunk,
    and only today's part is cached briefly, for the exact bounds asked.
    """
    span = CHUNK_DAYS[granularity] * DAY
    first = start // span * span
    if (end - first) // span >= MAX_CHUNKS:
        return None
    today = int(now) // DAY * DAY
    chunks = []
    for chunk_start in range(first, end, span):
        chunk_end = chunk_start + span
        if chunk_end <= now:
            chunks.append(Chunk(chunk_start, chunk_end, chunk_start, chunk_end, live=False))
            continue
        if chunk_start < today and start < today:
            chunks.append(Chunk(chunk_start, chunk_end, chunk_start, today, live=False))
        live_start = max(chunk_start, today, start)
        if live_start < min(chunk_end, end):
            chunks.append(Chunk(chunk_start, chunk_end, live_start, min(chunk_end, end), live=True))
    return chunks


def encode(points: list[Datapoint]) -> bytes:
    """Buckets as 32 bytes each, for Redis."""
    wire = np.empty(len(points), dtype=_WIRE)
    if points:
        wire["t"], wire["a"], wire["l"], wire["h"] = zip(
            *((p.t, p.a, p.l, p.h) for p in points), strict=True
        )
    return wire.tobytes()


def decode(data: bytes) -> list[Datapoint]:
    """The buckets encode() wrote (the same doubles, so the same JSON)."""
    wire = np.frombuffer(data, dtype=_WIRE)
    return list(
        map(
            Datapoint,
            wire["t"].tolist(),
            wire["a"].tolist(),
            wire["l"].tolist(),
            wire["h"].tolist(),
        )
    )


def _within(points: list[Datapoint], lo: int, hi: int) -> list[Datapoint]:
    left = bisect.bisect_left(points, lo, key=_time)
    right = bisect.bisect_left(points, hi, key=_time)
    return points if (left, right) == (0, len(points)) else points[left:right]


def _time(point: Datapoint) -> int:
    return point.t


@dataclass(frozen=True)
class Series:
    """Which series a request reads: the rollup key without the bucket."""

    abtest_id: int
    metric_id: int
    granularity: str
    variant: int

    def key(self, chunk: Chunk, stamps: Stamps) -> str:
        """The cache key of one chunk at its current version."""
        key = (
            f"b:{self.abtest_id}:{self.metric_id}:{self.variant}:{self.granularity}:"
            f"{chunk.start}:{stamps.epoch}:{stamps.of(chunk.lo, chunk.hi)}"
        )
        whole = (chunk.lo, chunk.hi) == (chunk.start, chunk.end)
        return key if whole else f"{key}:{chunk.lo}:{chunk.hi}"

    def read(self, conn: psycopg.Connection, lo: int, hi: int) -> list[Datapoint]:
        """Every bucket starting in [lo, hi), from the rollups."""
        seconds = GRANULARITIES[self.granularity]
        page = buckets.metric_buckets(
            conn,
            abtest_id=self.abtest_id,
            metric_id=self.metric_id,
            granularity=self.granularity,
            start=datetime.fromtimestamp(lo, UTC),
            end=datetime.fromtimestamp(hi, UTC),
            variant=None if self.variant == ALL_VARIANTS else self.variant,
            limit=math.ceil((hi - lo) / seconds) + 1,
        )
        return page.datapoints


Lookup = Callable[[list[str], list[bool]], list[list[Datapoint] | None]]
Store = Callable[[list[tuple[str, list[Datapoint], bool]]], None]


def assemble(
    conn: psycopg.Connection,
    series: Series,
    chunks: list[Chunk],
    stamps: Stamps,
    cached: tuple[Lookup, Store],
) -> list[tuple[list[Datapoint], bool]]:
    """The chunks' buckets in order, each part with whether it was cached; misses read in runs."""
    lookup, store = cached
    keys = [series.key(chunk, stamps) for chunk in chunks]
    found = lookup(keys, [chunk.live for chunk in chunks])
    parts: list[tuple[list[Datapoint], bool]] = []
    index = 0
    while index < len(chunks):
        if found[index] is not None:
            parts.append((found[index], True))
            index += 1
            continue
        run = index
        while run < len(chunks) and found[run] is None:
            run += 1
        points = series.read(conn, chunks[index].lo, chunks[run - 1].hi)
        fresh = [(c, _within(points, c.lo, c.hi)) for c in chunks[index:run]]
        store([(keys[index + i], part, c.live) for i, (c, part) in enumerate(fresh)])
        parts.extend((part, False) for _, part in fresh)
        index = run
    return parts


def page_of(
    parts: list[tuple[list[Datapoint], bool]], start: int, end: int, skip: int, limit: int
) -> BucketPage:
    """The page the SQL would give: buckets in [start, end), then OFFSET skip LIMIT limit."""
    selected: list[Datapoint] = []
    for part, was_cached in parts:
        inside = _within(part, start, end)
        selected.extend(inside)
        CACHE_BUCKETS.labels("cache" if was_cached else "database").inc(len(inside))
    return BucketPage(selected[skip : skip + limit], len(selected) <= skip + limit)


def read_page(
    conn: psycopg.Connection,
    series: Series,
    start: int,
    end: int,
    page: tuple[int, int],
    cached: tuple[Lookup, Store],
    now: float | None = None,
) -> BucketPage | None:
    """One page through the cache, or None when the request is better read directly."""
    skip, limit = page
    if end <= start:
        return BucketPage([], True)
    seconds = GRANULARITIES[series.granularity]
    per_chunk = CHUNK_DAYS[series.granularity] * DAY // seconds
    # A page that ends well before the range does would read chunks it throws away.
    if math.ceil((end - start) / seconds) > skip + limit + per_chunk:
        return None
    chunks = plan(start, end, series.granularity, time.time() if now is None else now)
    if chunks is None:
        return None
    stamps = read_stamps(
        conn,
        abtest_id=series.abtest_id,
        metric_ids=[series.metric_id],
        start=chunks[0].start,
        end=chunks[-1].end,
    )
    return page_of(assemble(conn, series, chunks, stamps, cached), start, end, skip, limit)
