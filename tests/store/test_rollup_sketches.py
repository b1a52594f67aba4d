"""The rollups' sketches against real PostgreSQL: each is exactly the sketch of its raw samples."""

from __future__ import annotations

import threading
from collections import defaultdict

import numpy as np
import psycopg
import pytest

from tests.support.helpers import at
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.sketches import Sketch
from tsmetrics.store import catalogue, catalogue_updates
from tsmetrics.store.samples import SampleColumns, insert_samples

START = int(at("2025-11-09 00:00:00").timestamp())
DAY = 86_400
SKETCHES = """
SELECT bucket_seconds, variant, extract(epoch FROM bucket)::bigint, n, sketch
FROM rollups WHERE abtest_id = %s AND metric_id = %s
"""


@pytest.fixture
def latency(db):
    """A test with three variants, a distribution metric and one without."""
    test = catalogue.create_abtest(db, "exp", variants=["a", "b", "c"], status="running")
    on = catalogue.create_metric(db, "latency", unit="ms", distribution=True)
    off = catalogue.create_metric(db, "clicks", kind="sum")
    return test, on, off


def _batch(rng, count, test, metric, span=DAY, values=None):
    times = START + rng.uniform(0, span, count)
    values = rng.lognormal(4, 1, count) if values is None else values
    return SampleColumns.from_seconds(
        times, values, test.id, metric.id, rng.integers(0, 3, count).astype(np.int16)
    )


def _expected(batches: list[SampleColumns]) -> dict[tuple[int, int, int], Sketch]:
    """Per (bucket_seconds, variant, bucket start) the sketch of the raw values, -1 for all."""
    values = defaultdict(list)
    for batch in batches:
        columns = (batch.time_us // 1_000_000, batch.value, batch.variant)
        for t, v, variant in zip(*(c.tolist() for c in columns), strict=True):
            for size in GRANULARITIES.values():
                for key in (variant, -1):
                    values[(size, key, t - t % size)].append(v)
    return {key: Sketch.from_values(found) for key, found in values.items()}


def _stored(db, test, metric) -> dict[tuple[int, int, int], tuple[int, bytes | None]]:
    rows = db.execute(SKETCHES, [test.id, metric.id]).fetchall()
    return {(s, v, t): (n, sketch) for s, v, t, n, sketch in rows}


def test_every_bucket_holds_the_sketch_of_its_samples_late_data_included(db, latency):
    """Several batches, one late and out of order, one of zeros and negatives: exact sketches."""
    test, on, off = latency
    rng = np.random.default_rng(7)
    batches = [_batch(rng, 3_000, test, on) for _ in range(3)]
    odd = np.concatenate((np.zeros(50), -rng.lognormal(0, 3, 50), [1e-9, 1e12, -1e-9, 5e-7]))
    batches.append(_batch(rng, len(odd), test, on, values=odd))
    batches.append(_batch(rng, 500, test, on, span=600))  # late: into buckets already written
    for batch in batches:
        insert_samples(db, batch)
    insert_samples(db, _batch(rng, 200, test, off))
    expected = _expected(batches)
    stored = _stored(db, test, on)
    assert stored.keys() == expected.keys()
    for key, (n, payload) in stored.items():
        assert Sketch.decode(payload) == expected[key], key
        assert expected[key].count == n
    assert all(sketch is None for _, sketch in _stored(db, test, off).values())


def test_a_batch_of_several_metrics_in_one_transaction(db, latency):
    """The caller's transaction may hold several batches: each lands exactly once."""
    test, on, off = latency
    rng = np.random.default_rng(8)
    batches = [_batch(rng, 400, test, on), _batch(rng, 400, test, on)]
    with db.transaction():
        insert_samples(db, SampleColumns.concat([batches[0], _batch(rng, 100, test, off)]))
        insert_samples(db, batches[1])
    stored = _stored(db, test, on)
    expected = _expected(batches)
    assert {k: Sketch.decode(p) for k, (_, p) in stored.items()} == expected


def test_concurrent_writers_of_the_same_buckets_stay_exact(db, latency, database_url):
    """Two connections writing the same buckets at once: every sketch still exact.

    A writer that finds the stored sketch changed since it read it appends its
    part instead of writing its merge; reads take the parts together.
    """
    test, on, _ = latency
    rng = np.random.default_rng(9)
    batches = [[_batch(rng, 60, test, on, span=900) for _ in range(12)] for _ in range(2)]
    failures = []

    def write(mine):
        try:
            with psycopg.connect(database_url, autocommit=True) as conn:
                for batch in mine:
                    insert_samples(conn, batch)
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(mine,)) for mine in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    expected = _expected(batches[0] + batches[1])
    for key, (n, payload) in _stored(db, test, on).items():
        assert Sketch.decode(payload) == expected[key], key
        assert n == expected[key].count


def test_switching_distribution_on_leaves_older_buckets_short(db, latency):
    """Samples stored before the switch are in n, not in the sketch: readers can tell."""
    test, on, _ = latency
    catalogue_updates.update_metric(db, on.id, {"distribution": False})
    rng = np.random.default_rng(10)
    before = _batch(rng, 300, test, on, span=3_600)
    insert_samples(db, before)
    assert all(sketch is None for _, sketch in _stored(db, test, on).values())
    catalogue_updates.update_metric(db, on.id, {"distribution": True})
    after = _batch(rng, 300, test, on, span=7_200)
    insert_samples(db, after)
    expected_after = _expected([after])
    for key, (n, payload) in _stored(db, test, on).items():
        if payload is None:
            continue
        sketch = Sketch.decode(payload)
        assert sketch == expected_after[key]
        assert sketch.count <= n
    full = _expected([before, after])
    day = _stored(db, test, on)[(DAY, -1, START)]
    assert Sketch.decode(day[1]).count == 300 < day[0] == full[(DAY, -1, START)].count
