"""Small helpers: test apps, and test data built through the real write path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
from flask import Flask

from tsmetrics import create_app
from tsmetrics.store import catalogue
from tsmetrics.store.samples import SampleColumns, insert_samples


def at(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def store(db: psycopg.Connection, rows: list[tuple[datetime, float, int, int, int]]) -> None:
    """Insert (time, value, abtest_id, metric_id, variant) rows through the real write path."""
    insert_samples(
        db, SampleColumns.from_rows([(t.timestamp(), v, a, m, var) for t, v, a, m, var in rows])
    )


def small_app(database_url: str, **settings) -> Flask:
    """A testing app on `database_url` with a pool of one or two connections, and these settings."""
    return create_app(
        {
            "DATABASE_URL": database_url,
            "POOL_MIN_SIZE": 1,
            "POOL_MAX_SIZE": 2,
            "TESTING": True,
            **settings,
        }
    )


def latency_and_clicks(
    db: psycopg.Connection, *, steps: int, every: int, seed: int, shift: float = 0.0
) -> catalogue.ABTest:
    """feature_a: response_time keeps a distribution (lognormal, treatment's log mean higher by
    `shift`), clicks does not; a sample of each per variant every `every` s, `steps` back."""
    test = catalogue.create_abtest(db, "feature_a", variants=["control", "treatment"])
    latency = catalogue.create_metric(db, "response_time", unit="ms", distribution=True)
    clicks = catalogue.create_metric(db, "clicks", kind="sum", higher_is_better=True)
    rng = np.random.default_rng(seed)
    now = datetime.now(UTC)
    rows = []
    for step in range(steps):
        moment = now - timedelta(seconds=every * step + 30)
        for variant in (0, 1):
            value = float(rng.lognormal(4.6 + shift * variant, 0.5))
            rows.append((moment, value, test.id, latency.id, variant))
            rows.append((moment, 1.0, test.id, clicks.id, variant))
    store(db, rows)
    return test
