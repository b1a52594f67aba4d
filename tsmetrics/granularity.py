"""Bucket sizes and the arithmetic of bucket-aligned time ranges."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

# Each size divides the next, so every bucket is a whole union of 1-minute
# buckets and rollups merge exactly. Buckets align to the Unix epoch (UTC).
GRANULARITIES: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "30m": 1800,
    "1h": 3600,
    "6h": 21600,
    "1d": 86400,
}
AUTO = "auto"
CHOICES = (*GRANULARITIES, AUTO)
# The one range of moments the API and the dashboard accept. It starts at the
# epoch every bucket aligns to and stops a year short of Python's datetime.max,
# so that any bucket, cache chunk (256 days at most) or window derived from an
# accepted moment is still a representable datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
DATE_RANGE_TEXT = "from 1970-01-01T00:00:00Z to 9999-01-01T00:00:00Z"


def date_problem(moment: datetime) -> str | None:
    """Why `moment` (timezone-aware) lies outside the supported range, or None when it does not."""
    # Aware datetimes compare by their UTC instant without converting, which
    # would overflow for 0001-01-01T00:00:00+14:00.
    if EARLIEST <= moment <= LATEST:
        return None
    return f"Must be {DATE_RANGE_TEXT} (the supported range)."


def clamp(moment: datetime) -> datetime:
    """`moment` moved into the supported range: for defaults derived from a valid moment."""
    return min(max(moment, EARLIEST), LATEST)


def floor_to(moment: datetime, seconds: int) -> datetime:
    """The start of the bucket of `seconds` that contains `moment`."""
    epoch = math.floor(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def bucket_count(start: datetime, end: datetime, seconds: int) -> int:
    """How many buckets of `seconds` overlap [start, end)."""
    first = floor_to(start, seconds).timestamp()
    return max(0, math.ceil((end.timestamp() - first) / seconds))


def kept(name: str, start: datetime, dropped_before: Mapping[str, datetime] | None) -> bool:
    """True when the buckets of `name` from `start` on were not dropped by retention."""
    horizon = (dropped_before or {}).get(name)
    return horizon is None or floor_to(start, GRANULARITIES[name]) >= horizon


def resolve(
    name: str,
    start: datetime,
    end: datetime,
    max_buckets: int = 1000,
    dropped_before: Mapping[str, datetime] | None = None,
) -> str:
    """The granularity to query: `name` itself, or for `auto` the finest within max_buckets.

    `auto` never picks a granularity whose buckets from `start` on were dropped
    (`dropped_before`: per granularity, the start of the oldest bucket kept).
    """
    if name != AUTO:
        return name
    available = [c for c in GRANULARITIES if kept(c, start, dropped_before)]
    for candidate in available:
        if bucket_count(start, end, GRANULARITIES[candidate]) <= max_buckets:
            return candidate
    return available[-1] if available else "1d"
