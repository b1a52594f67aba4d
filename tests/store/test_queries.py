"""The query service against real PostgreSQL: rollups equal exact aggregates of raw samples."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tests.support.helpers import at, store
from tsmetrics.granularity import GRANULARITIES, floor_to
from tsmetrics.store import buckets, catalogue, series

START = at("2025-11-09 00:00:00")
END = at("2025-11-11 00:00:00")

# The truth: one GROUP BY over the raw samples, computed the way the rollups
# promise (numeric sums, so the mean is exact).
RAW_BUCKETS = """
SELECT extract(epoch FROM date_bin(make_interval(secs => %(seconds)s), time,
                                   TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint AS t,
       count(*) AS n, sum(value::numeric) AS total, sum(value::numeric * value::numeric) AS sq,
       min(value) AS lo, max(value) AS hi,
       round(sum(value::numeric) / count(*), 3)::float8 AS a
FROM samples
WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s
  AND (%(variant)s::int IS NULL OR variant = %(variant)s)
  AND time >= %(start)s AND time < %(end)s
GROUP BY 1 ORDER BY 1
"""
ROLLUP_ROWS = """
SELECT extract(epoch FROM bucket)::bigint, n, total, total_sq, lo, hi FROM rollups
WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s AND bucket_seconds = %(seconds)s
  AND variant = %(rollup_variant)s AND bucket >= %(start)s AND bucket < %(end)s
ORDER BY bucket
"""


def _query(test, metric, granularity, variant=None, skip=0, limit=10_000):
    """The resolved query of one page of the series over [START, END)."""
    return buckets.SeriesQuery(
        abtest=test,
        metric=metric,
        variant=None if variant is None else test.variants[variant],
        variant_index=buckets.ALL_VARIANTS if variant is None else variant,
        granularity=granularity,
        start=int(START.timestamp()),
        end=int(END.timestamp()),
        skip=skip,
        limit=limit,
    )


def _random_samples(test, metric, count, seed):
    """Irregular times (so buckets hold unequal counts) and values of mixed scale."""
    rng = random.Random(seed)
    span = (END - START).total_seconds()
    return [
        (
            START + timedelta(seconds=rng.uniform(0, span)),
            rng.choice([rng.gauss(100, 30), rng.uniform(0, 1e-3), rng.uniform(1e5, 1e6)]),
            test.id,
            metric.id,
            rng.randrange(2),
        )
        for _ in range(count)
    ]


def _assert_rollups_exact(db, test, metric, variant):
    for name, seconds in GRANULARITIES.items():
        params = {
            "abtest_id": test.id,
            "metric_id": metric.id,
            "seconds": seconds,
            "variant": variant,
            "rollup_variant": -1 if variant is None else variant,
            "start": START,
            "end": END,
        }
        truth = db.execute(RAW_BUCKETS, params).fetchall()
        stored = db.execute(ROLLUP_ROWS, params).fetchall()
        assert stored == [row[:6] for row in truth], f"rollup rows differ at {name}"
        page = buckets.metric_buckets(db, _query(test, metric, name, variant))
        assert [(p["t"], p["a"]) for p in page.datapoints] == [(r[0], r[6]) for r in truth], name
        assert [(p["l"], p["h"]) for p in page.datapoints] == [
            (round(r[4] * 1000) / 1000, round(r[5] * 1000) / 1000) for r in truth
        ], name


@pytest.mark.parametrize("variant", [None, 0, 1])
def test_every_granularity_equals_a_direct_aggregate(db, feature_a, variant):
    test, metric = feature_a
    # Several batches, so buckets are merged across writes as in production.
    for seed in range(4):
        store(db, _random_samples(test, metric, 500, seed))
    _assert_rollups_exact(db, test, metric, variant)


def test_means_of_every_magnitude_are_rounded_exactly(db, feature_a):
    # The read converts a rounded mean to a double by an integer path when the
    # bucket's min and max lie within 4e12, through text otherwise: both must
    # give what numeric rounding gives, at the edges of the fast path too.
    test, metric = feature_a
    values = [0.0005, -0.0005, 1.0005, 2.0015, 1e-9, 123.4565, 5e-324, 3.999999999e12]
    values += [4e12, 4.000000001e12, -4e12, -7.5e12, 9.1e15, 1e200, -1e200, 1 / 3]
    rows = []
    for minute, value in enumerate(values):
        moment = START + timedelta(minutes=2 * minute)
        # Three equal samples: a mean like 0.0005 is a tie, which numeric rounds
        # away from zero and a double would not. Then three unequal ones: the
        # mean is a true division, rarely exact in binary.
        for step, scale in enumerate((1.0, 1.0, 1.0, 1.0, 1.0000001, 0.9999997)):
            at_time = moment + timedelta(minutes=step // 3, seconds=step)
            rows.append((at_time, value * scale, test.id, metric.id, 0))
    store(db, rows)
    _assert_rollups_exact(db, test, metric, None)
    _assert_rollups_exact(db, test, metric, 0)


def test_late_samples_correct_every_bucket_they_fall_in(db, feature_a):
    test, metric = feature_a
    store(db, _random_samples(test, metric, 800, seed=10))
    before = buckets.metric_buckets(db, _query(test, metric, "1d"))
    # Arrives "late": timestamps a day and a half before the newest samples.
    late = [(at("2025-11-09 06:30:00"), 1e6, test.id, metric.id, 1)]
    store(db, late)
    after = buckets.metric_buckets(db, _query(test, metric, "1d"))
    assert after.datapoints[0]["h"] == 1e6 and before.datapoints[0]["h"] < 1e6
    assert after.datapoints[1] == before.datapoints[1]
    _assert_rollups_exact(db, test, metric, None)
    _assert_rollups_exact(db, test, metric, 1)


def test_page_boundaries(db, feature_a):
    test, metric = feature_a
    store(db, [(START + timedelta(minutes=i), float(i), test.id, metric.id, 0) for i in range(10)])

    def page(skip, limit):
        return buckets.metric_buckets(db, _query(test, metric, "1m", skip=skip, limit=limit))

    assert page(0, 10).is_complete and len(page(0, 10).datapoints) == 10
    assert not page(0, 9).is_complete
    assert [p["a"] for p in page(8, 5).datapoints] == [8.0, 9.0]
    assert page(10, 5).datapoints == [] and page(10, 5).is_complete


def test_other_series_do_not_leak_in(db, feature_a):
    test, metric = feature_a
    other_test = catalogue.ensure_abtest(db, "feature_b", variants=["a", "b"])
    other_metric = catalogue.ensure_metric(db, "cpu_usage", unit="%")
    t = at("2025-11-09 12:00:00")
    store(
        db,
        [
            (t, 1.0, test.id, metric.id, 0),
            (t, 1000.0, other_test.id, metric.id, 0),
            (t, 2000.0, test.id, other_metric.id, 0),
        ],
    )
    page = buckets.metric_buckets(db, _query(test, metric, "1h"))
    assert [(p["a"], p["l"], p["h"]) for p in page.datapoints] == [(1.0, 1.0, 1.0)]


def test_series_extent_tracks_first_last_and_count(db, feature_a):
    test, metric = feature_a
    store(db, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 1)])
    store(db, [(at("2025-11-09 08:00:00"), 1.0, test.id, metric.id, 0)])
    store(db, [(at("2025-11-10 08:00:00"), 1.0, test.id, metric.id, 1)])
    extents = {s.variant: s for s in series.list_series(db, test.id)}
    assert extents[-1].sample_count == 3
    assert extents[-1].first_time == at("2025-11-09 08:00:00")
    assert extents[-1].last_time == at("2025-11-10 08:00:00")
    assert extents[1].sample_count == 2 and extents[0].sample_count == 1
    overview = series.abtest_overview(db, test.id)
    assert overview.metric_names == ["response_time"]
    assert overview.latest_sample_at == at("2025-11-10 08:00:00")


def test_non_finite_values_are_refused_by_the_database(db, feature_a):
    import psycopg

    test, metric = feature_a
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(psycopg.errors.CheckViolation):
            store(db, [(START, bad, test.id, metric.id, 0)])
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM rollups").fetchone()[0] == 0


def test_floor_to_aligns_to_utc_epoch():
    moment = at("2025-11-09 13:47:12")
    assert floor_to(moment, 300) == at("2025-11-09 13:45:00")
    assert floor_to(moment, 21600) == at("2025-11-09 12:00:00")
    assert floor_to(moment, 86400) == at("2025-11-09 00:00:00")
