"""paired_minute_means and the metric plans against real PostgreSQL.

The truth for the paired means is one query over the raw samples: each
variant's exact (numeric) mean per bucket, joined on the buckets where control
and the treatment both have samples.
"""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest

from tests.support.helpers import at, store
from tsmetrics.store import catalogue, plans, totals

START = at("2025-11-09 00:00:00")
RAW_PAIRS = """
WITH means AS (
    SELECT extract(epoch FROM date_bin(make_interval(secs => %(seconds)s), time,
                                       TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint AS b,
           variant, (sum(value::numeric) / count(*))::float8 AS mean
    FROM samples
    WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s
      AND time >= %(start)s AND time < %(end)s
    GROUP BY 1, 2
)
SELECT c.b, c.mean, t.mean FROM means c JOIN means t ON t.b = c.b AND t.variant = %(variant)s
WHERE c.variant = 0 ORDER BY c.b
"""


@pytest.fixture
def gauge(db):
    """Three variants of a gauge over 3 hours, with minutes where a variant has no sample."""
    test = catalogue.create_abtest(db, "exp", variants=["control", "a", "b"])
    metric = catalogue.create_metric(db, "cpu", analysis_unit="time")
    other = catalogue.create_metric(db, "idle")
    rng = random.Random(7)
    rows = []
    for second in range(0, 3 * 3600, 7):
        minute = second // 60
        for variant in range(3):
            if (minute + variant) % 11 == 0 or rng.random() < 0.3:
                continue  # a gap: this variant misses some minutes entirely
            value = round(40 + 5 * variant + rng.gauss(0, 3), 3)
            rows.append((START + timedelta(seconds=second), value, test.id, metric.id, variant))
    store(db, rows)
    return test, metric, other


@pytest.mark.parametrize("seconds", [60, 300, 1800])
@pytest.mark.parametrize(("first", "last"), [(0, 3 * 3600), (1800, 7200), (3600, 3600 + 1800)])
def test_paired_means_equal_sql_over_the_raw_samples(db, gauge, seconds, first, last):
    test, metric, _ = gauge
    start, end = int(START.timestamp()) + first, int(START.timestamp()) + last
    rows = totals.paired_minute_means(
        db,
        abtest_id=test.id,
        metric_ids=[metric.id],
        variants=3,
        start=start,
        end=end,
        seconds=seconds,
    )
    assert [(r.metric_id, r.variant) for r in rows] == [(metric.id, 1), (metric.id, 2)]
    for row in rows:
        want = db.execute(
            RAW_PAIRS,
            {
                "seconds": seconds,
                "abtest_id": test.id,
                "metric_id": metric.id,
                "variant": row.variant,
                "start": START + timedelta(seconds=first),
                "end": START + timedelta(seconds=last),
            },
        ).fetchall()
        assert len(want) > 0
        assert row.minutes.tolist() == [b for b, _, _ in want]
        assert np.all(np.diff(row.minutes) > 0)
        assert row.control == pytest.approx([c for _, c, _ in want], rel=1e-14)
        assert row.treatment == pytest.approx([t for _, _, t in want], rel=1e-14)
        # Minutes with a gap in either variant are left out.
        if seconds == 60:
            assert len(row.minutes) < (last - first) // 60


def test_no_shared_buckets_is_empty_not_missing(db, gauge):
    test, metric, other = gauge
    rows = totals.paired_minute_means(
        db,
        abtest_id=test.id,
        metric_ids=[other.id, metric.id],
        variants=2,
        start=int(START.timestamp()) - 3600,
        end=int(START.timestamp()),
    )
    assert [(r.metric_id, r.variant, len(r.minutes), len(r.control)) for r in rows] == [
        (metric.id, 1, 0, 0),
        (other.id, 1, 0, 0),
    ]
    assert rows[0].minutes.dtype == np.int64
    with pytest.raises(ValueError, match="no rollups of 120 s"):
        totals.paired_minute_means(
            db, abtest_id=test.id, metric_ids=[metric.id], variants=2, start=0, end=60, seconds=120
        )


def test_metric_plans_are_set_replaced_and_removed(db, gauge):
    test, metric, other = gauge
    assert plans.metric_plans(db, test.id) == []
    plans.set_metric_plans(db, test.id, {metric.id: (0.01, True), other.id: (None, True)})
    assert plans.metric_plans(db, test.id) == [
        plans.MetricPlan(metric.id, "cpu", 0.01, True),
        plans.MetricPlan(other.id, "idle", None, True),
    ]
    # The seed's way: only metrics without a plan get one.
    plans.set_metric_plans(db, test.id, {metric.id: (0.5, False)}, replace=False)
    assert plans.metric_plans(db, test.id)[0].mde_relative == 0.01
    plans.set_metric_plans(db, test.id, {metric.id: None, other.id: (None, False)})
    assert plans.metric_plans(db, test.id) == []
