"""Small helpers: test apps, and test data built through the real write path."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from flask import Flask

from tsmetrics import create_app
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
