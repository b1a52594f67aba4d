"""Test data and counters shared by the cache tests."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.support.helpers import at, store
from tsmetrics.telemetry.metrics import CACHE_LOOKUPS

START = at("2025-11-01 00:00:00")
END = at("2025-11-11 00:00:00")
BASE = "/metrics?abTestName=feature_a&metricName=response_time"
TEN_DAYS = "&start=2025-11-01T00:00:00Z&end=2025-11-11T00:00:00Z"


def fill(db, feature_a):
    """Ten days of irregular samples of both variants; returns (test, metric)."""
    test, metric = feature_a
    rng = random.Random(7)
    span = (END - START).total_seconds()
    rows = [
        (START + timedelta(seconds=rng.uniform(0, span)), rng.gauss(100, 30), test.id, metric.id, v)
        for v in (0, 1)
        for _ in range(3000)
    ]
    store(db, rows)
    return test, metric


def lookups(kind: str = "buckets") -> dict[str, float]:
    """Cache lookups so far in this process, by result."""
    return {
        result: CACHE_LOOKUPS.labels(kind, result)._value.get()
        for result in ("local", "redis", "miss")
    }


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Lookups between two readings."""
    return {result: after[result] - before[result] for result in before}
