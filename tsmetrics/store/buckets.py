"""Reading aggregated buckets from the rollups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import args_row

from tsmetrics.granularity import GRANULARITIES


# No __slots__: orjson writes dataclasses that have a __dict__ four times faster
# (0.8 ms instead of 3.7 ms for 8,640 buckets).
@dataclass(frozen=True)
class Datapoint:
    """One bucket as the /metrics contract shows it.

    `t` is the bucket start in epoch seconds; `a`, `l`, `h` the mean, min and max
    of the raw samples in the bucket, rounded to 3 decimals.
    """

    t: int
    a: float
    l: float  # noqa: E741 - the public contract's field name
    h: float


@dataclass(frozen=True)
class BucketPage:
    """One page of buckets and whether more lie past it."""

    datapoints: list[Datapoint]
    is_complete: bool


ALL_VARIANTS = -1  # the rollup rows that combine every variant

# The mean is computed from the numeric sums of the raw samples (never from
# per-bucket means) and rounded in numeric; min and max are doubles already and
# are rounded as doubles, which avoids a costly cast per bucket.
_SELECT_BUCKETS = """
SELECT extract(epoch FROM bucket)::bigint,
       round(total / n, 3)::float8,
       round(lo * 1000) / 1000,
       round(hi * 1000) / 1000
FROM rollups
WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s
  AND bucket_seconds = %(seconds)s AND variant = %(variant)s
  AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY bucket
OFFSET %(skip)s LIMIT %(limit)s
"""


def metric_buckets(
    conn: psycopg.Connection,
    *,
    abtest_id: int,
    metric_id: int,
    granularity: str,
    start: datetime,
    end: datetime,
    variant: int | None = None,
    skip: int = 0,
    limit: int = 10_000,
) -> BucketPage:
    """Buckets of one series overlapping [start, end), chronological, one page of them.

    `start` is expected floored to the granularity; without `variant` the
    buckets combine every variant.
    """
    params = {
        "abtest_id": abtest_id,
        "metric_id": metric_id,
        "seconds": GRANULARITIES[granularity],
        "start": start,
        "end": end,
        "variant": ALL_VARIANTS if variant is None else variant,
        "skip": skip,
        "limit": limit + 1,  # one more tells whether the page is the last
    }
    # Binary results: the same values, without formatting and parsing every
    # number as text (about 2 ms of 11 for 8,640 buckets).
    with conn.cursor(binary=True, row_factory=args_row(Datapoint)) as cur:
        rows = cur.execute(_SELECT_BUCKETS, params).fetchall()
    return BucketPage(datapoints=rows[:limit], is_complete=len(rows) <= limit)
