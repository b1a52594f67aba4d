"""Each variant's sketch over a window, merged from the rollups: that of the raw samples."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.helpers import at
from tsmetrics.sketches import Sketch
from tsmetrics.store import catalogue, catalogue_updates
from tsmetrics.store.samples import SampleColumns, insert_samples
from tsmetrics.store.totals import variant_totals
from tsmetrics.store.window_sketches import variant_sketches

START = int(at("2025-11-09 00:00:00").timestamp())
DAY = 86_400


@pytest.fixture
def latency(db):
    """A test with two variants and a distribution metric."""
    test = catalogue.create_abtest(db, "exp", variants=["a", "b"], status="running")
    return test, catalogue.create_metric(db, "latency", unit="ms", distribution=True)


def _insert(db, rng, test, metric, count, first, span):
    times = first + rng.uniform(0, span, count)
    values = rng.lognormal(4, 1, count)
    values[: count // 50] = 0.0
    variants = rng.integers(0, 2, count).astype(np.int16)
    insert_samples(db, SampleColumns.from_seconds(times, values, test.id, metric.id, variants))
    return times, values, variants


def _read(db, test, metric, low, high):
    return variant_sketches(
        db, abtest_id=test.id, metric_ids=[metric.id], variants=2, start=low, end=high
    )


def test_windows_that_cut_buckets_merge_to_the_raw_samples_sketch(db, latency):
    test, metric = latency
    rng = np.random.default_rng(3)
    batches = [_insert(db, rng, test, metric, 4000, START, 3 * DAY) for _ in range(2)]
    batches.append(_insert(db, rng, test, metric, 300, START + 3600, 600))  # late, one bucket
    times, values, variants = (np.concatenate(c) for c in zip(*batches, strict=True))
    for low, high in ((START, START + 3 * DAY), (START + 1380, START + 2 * DAY + 7260)):
        rows = _read(db, test, metric, low, high)
        totals = variant_totals(
            db, abtest_id=test.id, metric_ids=[metric.id], variants=2, start=low, end=high
        )
        assert [(r.metric_id, r.variant) for r in rows] == [(metric.id, 0), (metric.id, 1)]
        for row, total in zip(rows, totals, strict=True):
            inside = (times >= low) & (times < high) & (variants == row.variant)
            assert row.sketch == Sketch.from_values(values[inside])
            assert row.n == row.covered == total.n == inside.sum()


def test_buckets_from_before_the_distribution_are_not_covered(db, latency):
    test, metric = latency
    rng = np.random.default_rng(4)
    catalogue_updates.update_metric(db, metric.id, {"distribution": False})
    _insert(db, rng, test, metric, 500, START, 3600)
    catalogue_updates.update_metric(db, metric.id, {"distribution": True})
    _insert(db, rng, test, metric, 500, START + 7200, 3600)
    before = _read(db, test, metric, START, START + 3600)
    assert all(r.n > 0 and r.covered == 0 for r in before)
    mixed = _read(db, test, metric, START, START + 3 * 3600)
    assert all(0 < r.covered < r.n for r in mixed)
    after = _read(db, test, metric, START + 7200, START + 3 * 3600)
    assert all(r.covered == r.n > 0 for r in after)
    assert _read(db, test, metric, START - DAY, START) == []
