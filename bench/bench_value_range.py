"""What the overflow guards cost the read path (issue 14, item 1).

`metric_buckets` now reads min and max through `CASE WHEN abs(x) < 1e300` and
clamps a mean outside the double range. This times the store function against
the query it replaced, on 30 days at 5m (8,640 buckets) of one series of normal
values, in one run, alternating blocks; both return the very same rows.

    .venv/bin/python bench/bench_value_range.py [--requests 400]
"""

from __future__ import annotations

import argparse
import secrets
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from common import (
    DEFAULT_ADMIN_URL,
    compare,
    cpu_model,
    create_database,
    drop_database,
    log,
    print_summary,
    save_results,
)

from tsmetrics.store import buckets, catalogue
from tsmetrics.store.samples import SampleColumns, insert_samples

# The query before the guards (commit 92ea8d0), word for word.
BEFORE = """
SELECT date_part('epoch', bucket)::int8,
       CASE WHEN lo > -4e12 AND hi < 4e12
            THEN (round(total / n, 3) * 1000)::int8::float8 / 1000
            ELSE round(total / n, 3)::float8 END,
       round(lo * 1000) / 1000,
       round(hi * 1000) / 1000
FROM rollups
WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s
  AND bucket_seconds = %(seconds)s AND variant = %(variant)s
  AND bucket >= to_timestamp(%(start)s) AND bucket < to_timestamp(%(end)s)
ORDER BY bucket
OFFSET %(skip)s LIMIT %(limit)s
"""


def _fill(conn: psycopg.Connection, end: datetime) -> buckets.SeriesQuery:
    test = catalogue.ensure_abtest(conn, "bench", variants=["control", "treatment"])
    metric = catalogue.ensure_metric(conn, "latency", unit="ms")
    rng = np.random.default_rng(14)
    start = end - timedelta(days=30)
    seconds = np.arange(int(start.timestamp()), int(end.timestamp()), 60, dtype=np.float64)
    rows = [
        (t, round(float(v), 3), test.id, metric.id, int(k))
        for t, v, k in zip(
            seconds,
            rng.normal(100, 15, len(seconds)),
            rng.integers(0, 2, len(seconds)),
            strict=True,
        )
    ]
    insert_samples(conn, SampleColumns.from_rows(rows))
    conn.commit()
    return buckets.SeriesQuery(
        abtest=test,
        metric=metric,
        variant=None,
        variant_index=buckets.ALL_VARIANTS,
        granularity="5m",
        start=int(start.timestamp()) // 300 * 300,
        end=int(end.timestamp()),
    )


def main() -> None:
    """Time the guarded query against the one it replaced; print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    name = f"tsmetrics_bench_range_{secrets.token_hex(3)}"
    url = create_database(DEFAULT_ADMIN_URL, name)
    try:
        with psycopg.connect(url) as conn:
            log("filling 30 days of one-minute samples")
            query = _fill(conn, datetime(2026, 12, 1, tzinfo=UTC))
            params = {
                "abtest_id": query.abtest.id,
                "metric_id": query.metric.id,
                "seconds": query.seconds,
                "variant": query.variant_index,
                "start": query.start,
                "end": query.end,
                "skip": 0,
                "limit": query.limit + 1,
            }

            def before() -> list:
                with conn.cursor(binary=True) as cur:
                    return cur.execute(BEFORE, params).fetchall()

            guarded = params | {"lowest": -buckets.DOUBLE_MAX, "highest": buckets.DOUBLE_MAX}

            def after() -> list:
                with conn.cursor(binary=True) as cur:
                    return cur.execute(buckets._SELECT_BUCKETS, guarded).fetchall()

            rows = before()
            assert after() == rows
            page = buckets.metric_buckets(conn, query)
            assert [tuple(p.values()) for p in page.datapoints] == [tuple(r) for r in rows]
            log(f"{len(rows)} buckets, identical from both; timing {args.requests} reads each")
            stats = compare({"before": before, "after": after}, total=args.requests)
    finally:
        drop_database(DEFAULT_ADMIN_URL, name)
    ratio = stats["after"].p50 / stats["before"].p50
    lines = [f"{name}: {s}" for name, s in stats.items()]
    lines += [f"after / before (p50): {ratio:.3f}", f"CPU: {cpu_model()}"]
    out = save_results("value_range", {k: vars(v) for k, v in stats.items()} | {"ratio": ratio})
    print_summary(lines, out)


if __name__ == "__main__":
    main()
