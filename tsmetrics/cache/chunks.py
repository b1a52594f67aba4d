"""Chunks of one series: how the query cache cuts a range, keys, stores and reassembles it.

A request's range is cut into chunks aligned to the Unix epoch (a UTC day of
1m or 5m buckets, 8 days of 30m, ...). A chunk wholly in the past is cached
whole, so requests with other ranges that overlap it (a sliding dashboard
window) reuse it; of the chunk reaching now, the days before today are cached
whole too, and today's part only for the exact bounds asked, briefly. Each key
holds the version stamp of its days, read before any bucket, so a write
committed before the read is always seen (see tsmetrics/cache/__init__.py).
Everything here is arithmetic on values: QueryCache does the reading and storing.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from operator import itemgetter

import numpy as np

from tsmetrics.store.buckets import BucketPage, Datapoint, SeriesQuery
from tsmetrics.store.cache_versions import DAY, Stamps
from tsmetrics.telemetry.metrics import CACHE_BUCKETS

# Days per chunk: about 250 to 1,500 buckets each, and every coarser chunk is a
# whole number of finer ones, of whole days (the stamps are per day).
CHUNK_DAYS = {"1m": 1, "5m": 1, "30m": 8, "1h": 16, "6h": 64, "1d": 256}
# Past this many chunks a request reads the database directly.
MAX_CHUNKS = 400
_WIRE = np.dtype([("t", "<i8"), ("a", "<f8"), ("l", "<f8"), ("h", "<f8")])
# Starts a chunk whose buckets carry percentiles. A plain chunk starts with a
# bucket time, a multiple of 60 whose first (little-endian) byte is even: never "q".
_QUANTILES_MARK = "q:"
_time = itemgetter("t")


@dataclass(frozen=True)
class Chunk:
    """One aligned chunk of a request: the part of it cached and read (`lo` to `hi`)."""

    start: int
    end: int
    lo: int
    hi: int
    live: bool


def plan(query: SeriesQuery, now: float) -> list[Chunk] | None:
    """The chunks covering the query's range, or None when it is better read directly.

    None for too many chunks, or for a page that ends well before its range
    does (it would read chunks only to throw them away). The chunk reaching
    now is split at the start of today (a bucket boundary at every
    granularity): its earlier days are cached whole like any past chunk, and
    only today's part is cached briefly, for the exact bounds asked.
    """
    start, end = query.start, query.end
    span = CHUNK_DAYS[query.granularity] * DAY
    first = start // span * span
    too_long = query.bucket_count > query.skip + query.limit + span // query.seconds
    if too_long or (end - first) // span >= MAX_CHUNKS:
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


def key(query: SeriesQuery, chunk: Chunk, stamps: Stamps) -> str:
    """The cache key of one chunk of the query's series at its current version."""
    series = f"{query.abtest.id}:{query.metric.id}:{query.variant_index}:{query.granularity}"
    name = f"b:{series}:{chunk.start}:{stamps.epoch}:{stamps.of(chunk.lo, chunk.hi)}"
    whole = (chunk.lo, chunk.hi) == (chunk.start, chunk.end)
    name = name if whole else f"{name}:{chunk.lo}:{chunk.hi}"
    return f"{name}:q={','.join(query.quantiles)}" if query.quantiles else name


def missing_runs(found: list[list[Datapoint] | None]) -> list[tuple[int, int]]:
    """[first, last) index ranges of consecutive misses: each is read in one statement."""
    runs, index = [], 0
    while index < len(found):
        if found[index] is None:
            end = index
            while end < len(found) and found[end] is None:
                end += 1
            runs.append((index, end))
            index = end
        else:
            index += 1
    return runs


def run_query(query: SeriesQuery, chunks: list[Chunk]) -> SeriesQuery:
    """The query reading every bucket of these consecutive chunks, whole."""
    lo, hi = chunks[0].lo, chunks[-1].hi
    return replace(query, start=lo, end=hi, skip=0, limit=math.ceil((hi - lo) / query.seconds))


def split(points: list[Datapoint], chunks: list[Chunk]) -> list[list[Datapoint]]:
    """The buckets of one run, cut at its chunks' bounds."""
    return [within(points, chunk.lo, chunk.hi) for chunk in chunks]


def within(points: list[Datapoint], lo: int, hi: int) -> list[Datapoint]:
    """The buckets starting in [lo, hi) of a chronological list."""
    left = bisect.bisect_left(points, lo, key=_time)
    right = bisect.bisect_left(points, hi, key=_time)
    return points if (left, right) == (0, len(points)) else points[left:right]


def page_of(parts: list[tuple[list[Datapoint], bool]], query: SeriesQuery) -> BucketPage:
    """The page the SQL would give: buckets in [start, end), then OFFSET skip LIMIT limit."""
    selected: list[Datapoint] = []
    for part, was_cached in parts:
        inside = within(part, query.start, query.end)
        selected.extend(inside)
        CACHE_BUCKETS.labels("cache" if was_cached else "database").inc(len(inside))
    last = query.skip + query.limit
    return BucketPage(selected[query.skip : last], len(selected) <= last)


def encode(points: list[Datapoint]) -> bytes:
    """Buckets as 32 bytes each, for Redis; with percentiles, their names first and 8 bytes each."""
    names = None
    if points and "q" in points[0]:
        names = next((list(p["q"]) for p in points if p["q"] is not None), [])
    wire = np.empty(len(points), dtype=_wire(names))
    for name in ("t", "a", "l", "h"):
        wire[name] = [point[name] for point in points]
    if names is None:
        return wire.tobytes()
    # NaN stands for a bucket without percentiles (q null).
    nan = dict.fromkeys(names, float("nan"))
    for name in names:
        wire[f"q_{name}"] = [(point["q"] or nan)[name] for point in points]
    head = f"{_QUANTILES_MARK}{','.join(names)}\n".encode()
    return head + wire.tobytes()


def decode(data: bytes) -> list[Datapoint]:
    """The buckets encode() wrote (the same doubles, so the same JSON)."""
    if not data.startswith(_QUANTILES_MARK.encode()):
        wire = np.frombuffer(data, dtype=_WIRE)
        columns = (wire[name].tolist() for name in ("t", "a", "l", "h"))
        return [{"t": t, "a": a, "l": lo, "h": hi} for t, a, lo, hi in zip(*columns, strict=True)]
    head, body = data.split(b"\n", 1)
    names = [name for name in head[len(_QUANTILES_MARK) :].decode().split(",") if name]
    wire = np.frombuffer(body, dtype=_wire(names))
    columns = [wire[name].tolist() for name in ("t", "a", "l", "h")]
    held = [wire[f"q_{name}"].tolist() for name in names]
    points: list[Datapoint] = []
    for index, (t, a, lo, hi) in enumerate(zip(*columns, strict=True)):
        shown = [column[index] for column in held]
        q = None if not shown or math.isnan(shown[0]) else dict(zip(names, shown, strict=True))
        points.append({"t": t, "a": a, "l": lo, "h": hi, "q": q})
    return points


def _wire(names: list[str] | None) -> np.dtype:
    if names is None:
        return _WIRE
    return np.dtype(_WIRE.descr + [(f"q_{name}", "<f8") for name in names])
