"""Exact sums computed in the writer: equal to SQL's, to the last digit and display scale."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
import pytest

from tests.support.helpers import at
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store import catalogue, minute_sums
from tsmetrics.store.samples import SampleColumns, insert_samples

START = at("2025-11-09 00:00:00")

# The truth, from the raw samples; sums as text so the display scale counts too.
RAW_ROLLUPS = """
SELECT abtest_id, metric_id, v, bucket, count(*), min(value), max(value),
       sum(value::numeric)::text, sum(value::numeric * value::numeric)::text
FROM (SELECT *, date_bin(make_interval(secs => %(seconds)s), time,
                         TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket FROM samples) AS s,
     LATERAL (VALUES (variant), (-1)) AS x(v)
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
"""
STORED_ROLLUPS = """
SELECT abtest_id, metric_id, variant, bucket, n, lo, hi, total::text, total_sq::text
FROM rollups WHERE bucket_seconds = %(seconds)s ORDER BY 1, 2, 3, 4
"""
RAW_SERIES = """
SELECT abtest_id, metric_id, v, min(time), max(time), count(*)
FROM samples, LATERAL (VALUES (variant), (-1)) AS x(v) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
STORED_SERIES = """
SELECT abtest_id, metric_id, variant, first_time, last_time, sample_count
FROM series ORDER BY 1, 2, 3
"""


@pytest.mark.parametrize(
    ("value", "decimals", "scaled"),
    [
        (0.0, 0, 0),
        (-5.0, 0, -5),
        (0.1, 1, 1),
        (1.5, 1, 15),
        (123.456, 3, 123_456),
        (-0.25, 2, -25),
        (1e-9, 9, 1),
        (2147483.647, 3, 2_147_483_647),
        (999_999_999_999_999.0, 0, 999_999_999_999_999),
    ],
)
def test_short_decimals_finds_the_fewest_decimals(value, decimals, scaled):
    found, n = minute_sums.short_decimals(np.array([value]))
    assert (found[0], n[0]) == (decimals, scaled)


@pytest.mark.parametrize(
    "value", [0.1 + 0.2, 1 / 3, math.pi, 1e-10, 1e15, 2.0**60, -0.0, 123.45678901234567]
)
def test_values_without_a_short_decimal_are_left_to_sql(value):
    found, _ = minute_sums.short_decimals(np.array([value]))
    assert found[0] == -1


def _columns(rows):
    return SampleColumns.from_rows([(t.timestamp(), v, a, m, var) for t, v, a, m, var in rows])


def test_a_minute_with_one_long_value_goes_to_sql_whole():
    t = START + timedelta(seconds=10)
    rows = [
        (t, 1.5, 1, 1, 0),
        (t, 2.25, 1, 1, 1),  # same test, metric and minute, other variant
        (t, 0.1 + 0.2, 1, 1, 0),  # no short decimal
        (t + timedelta(minutes=1), 3.0, 1, 1, 0),
        (t, 4.0, 1, 2, 1),  # another metric
        (t, 2147483.648, 2, 1, 0),  # scaled to 2**31: too large for the int64 squares
    ]
    sums = minute_sums.minute_sums(*_fields(_columns(rows)))
    assert sums.leftover.tolist() == [True, True, True, False, False, True]
    assert sums.groups == 4  # two minutes of metric 1 and one of metric 2; variant rows + -1 rows


def test_a_rare_short_value_among_long_ones_is_not_worth_grouping():
    t = START + timedelta(seconds=10)
    rows = [(t, 100 + math.e + i * math.pi, 1, 1, i % 2) for i in range(20)] + [(t, 5.0, 1, 2, 0)]
    sums = minute_sums.minute_sums(*_fields(_columns(rows)))
    assert sums.leftover.all() and sums.groups == 0 and sums.copy_payload is None


def test_realistic_values_never_need_sql():
    # What the simulator sends: milliseconds, percent and megabytes to 3 decimals, counts.
    rng = np.random.default_rng(7)
    size = 50_000
    values = np.concatenate(
        [
            np.round(90 * rng.lognormal(0, 0.25, size), 3),
            np.round(rng.uniform(0, 100, size), 3),
            np.round(2048 + rng.normal(0, 30, size), 3),
            rng.poisson(3, size).astype(np.float64),
        ]
    )
    count = len(values)
    sums = minute_sums.minute_sums(
        ((1_762_646_400 + np.sort(rng.uniform(0, 600, count))) * 1e6).astype(np.int64),
        values,
        np.full(count, 1, dtype=np.int32),
        np.repeat(np.arange(1, 5, dtype=np.int16), size),
        rng.integers(0, 2, count).astype(np.int16),
    )
    assert not sums.leftover.any()


def _fields(batch: SampleColumns):
    return batch.time_us, batch.value, batch.abtest_id, batch.metric_id, batch.variant


def _short_value(rng: random.Random, metric_index: int) -> float:
    """A short decimal the way metrics come: a few decimals, or up to 2e9 at the common scale."""
    if metric_index == 0:
        return round(rng.uniform(-2e6, 2e6), 3)
    return rng.choice([float(rng.randrange(0, 1000)), round(rng.gauss(100, 30), rng.randrange(7))])


def _any_value(rng: random.Random) -> float:
    """Short decimals of every scale, boundaries, and values that have none."""
    kind = rng.randrange(5)
    if kind == 0:
        return round(rng.gauss(100, 30), rng.randrange(0, 10))
    if kind == 1:
        return float(rng.randrange(-(10**6), 10**6))
    if kind == 2:
        return rng.choice([0.0, -0.0, 0.1, 0.3, 1e-9, 2147483.647, 2147483.648, 214748364.7])
    if kind == 3:
        return round(rng.uniform(0, 1e-3), 9)
    return rng.gauss(100, 30)  # all 17 digits: SQL aggregates these


def _store_mixed_batches(db, tests, metrics, batches: int) -> list[int]:
    """Write batches of mixed values; return how many samples each left to SQL."""
    rng = random.Random(3)
    left = []
    for number in range(batches):
        # Even batches hold short decimals only; odd ones every kind over more
        # minutes, so some minutes take each path and buckets merge both.
        short_only = number % 2 == 0
        span = 600 if short_only else 6 * 3600
        rows = []
        for _ in range(2000):
            test, metric_index = rng.choice(tests), rng.randrange(len(metrics))
            moment = START + timedelta(seconds=rng.uniform(0, span))
            value = _short_value(rng, metric_index) if short_only else _any_value(rng)
            rows.append((moment, value, test.id, metrics[metric_index].id, rng.randrange(3)))
        batch = _columns(rows)
        left.append(int(minute_sums.minute_sums(*_fields(batch)).leftover.sum()))
        with db.transaction():
            insert_samples(db, batch)
    return left


@pytest.fixture
def mixed_catalogue(db):
    tests = [
        catalogue.ensure_abtest(db, name, variants=["a", "b", "c"], status="running")
        for name in ("exact_one", "exact_two")
    ]
    metrics = [catalogue.ensure_metric(db, name, unit="ms") for name in ("m_one", "m_two")]
    return tests, metrics


def _assert_rollups_equal_raw(db):
    for name, seconds in GRANULARITIES.items():
        truth = db.execute(RAW_ROLLUPS, {"seconds": seconds}).fetchall()
        stored = db.execute(STORED_ROLLUPS, {"seconds": seconds}).fetchall()
        assert stored == truth, f"rollups differ at {name}"
    assert db.execute(STORED_SERIES).fetchall() == db.execute(RAW_SERIES).fetchall()


def test_both_paths_together_equal_sql_over_the_raw_samples(db, mixed_catalogue):
    left = _store_mixed_batches(db, *mixed_catalogue, batches=6)
    # Both paths were taken: short-decimal batches summed in the writer, the rest mixed.
    assert left[0::2] == [0, 0, 0] and all(0 < count < 2000 for count in left[1::2])
    _assert_rollups_equal_raw(db)


def test_group_keys_too_wide_to_pack_sort_the_same(db, mixed_catalogue, monkeypatch):
    monkeypatch.setattr(minute_sums, "_PACKED_KEY_LIMIT", 0)
    _store_mixed_batches(db, *mixed_catalogue, batches=2)
    _assert_rollups_equal_raw(db)
