"""Small helpers for building test data through the real write path."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from tsmetrics.store.samples import SampleColumns, insert_samples


def at(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def store(db: psycopg.Connection, rows: list[tuple[datetime, float, int, int, int]]) -> None:
    """Insert (time, value, abtest_id, metric_id, variant) rows through the real write path."""
    insert_samples(
        db, SampleColumns.from_rows([(t.timestamp(), v, a, m, var) for t, v, a, m, var in rows])
    )
