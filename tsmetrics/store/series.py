"""What each (A/B test, metric, variant) series holds, and removing a test's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class SeriesExtent:
    """First and last sample time and sample count of one series."""

    abtest_id: int
    metric_id: int
    variant: int
    first_time: datetime
    last_time: datetime
    sample_count: int


def list_series(conn: psycopg.Connection, abtest_id: int) -> list[SeriesExtent]:
    """Every series of one A/B test, by metric then variant."""
    with conn.cursor(row_factory=class_row(SeriesExtent)) as cur:
        return cur.execute(
            "SELECT abtest_id, metric_id, variant, first_time, last_time, sample_count"
            " FROM series WHERE abtest_id = %(abtest_id)s ORDER BY metric_id, variant",
            {"abtest_id": abtest_id},
        ).fetchall()


def newest_sample_time(conn: psycopg.Connection, abtest_ids: list[int]) -> datetime | None:
    """The latest sample time over these A/B tests, or None when they have none."""
    row = conn.execute(
        "SELECT max(last_time) FROM series WHERE abtest_id = ANY(%(ids)s)", {"ids": abtest_ids}
    ).fetchone()
    return row[0] if row else None


def has_samples_between(
    conn: psycopg.Connection, abtest_ids: list[int], start_s: int, end_s: int
) -> bool:
    """True when these A/B tests have any sample in [start_s, end_s) (epoch seconds)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM rollups WHERE abtest_id = ANY(%(ids)s)"
        " AND bucket_seconds = 86400 AND variant = -1"
        " AND bucket >= to_timestamp(%(start)s) - interval '1 day'"
        " AND bucket < to_timestamp(%(end)s))",
        {"ids": abtest_ids, "start": start_s, "end": end_s},
    ).fetchone()
    return bool(row and row[0])


def delete_abtest_data(conn: psycopg.Connection, abtest_id: int) -> None:
    """Remove an A/B test's samples, rollups and series (the test itself stays)."""
    with conn.transaction():
        for statement in (
            "DELETE FROM samples WHERE abtest_id = %(id)s",
            "DELETE FROM rollups WHERE abtest_id = %(id)s",
            "DELETE FROM series WHERE abtest_id = %(id)s",
        ):
            conn.execute(statement, {"id": abtest_id})


def refresh_statistics(conn: psycopg.Connection) -> None:
    """After a bulk load: mark rollup pages all-visible (index-only reads) and update stats."""
    conn.autocommit = True
    conn.execute("VACUUM (ANALYZE) rollups, series")
    conn.execute("ANALYZE samples")


@dataclass(frozen=True)
class ABTestOverview:
    """Which metrics an A/B test has samples for, and its latest sample time."""

    metric_names: list[str]
    latest_sample_at: datetime | None


def abtest_overview(conn: psycopg.Connection, abtest_id: int) -> ABTestOverview:
    """Metric names (sorted) and the latest sample time of one A/B test."""
    rows = conn.execute(
        "SELECT m.name, s.last_time FROM series s JOIN metrics m ON m.id = s.metric_id"
        " WHERE s.abtest_id = %(id)s AND s.variant = -1 ORDER BY m.name",
        {"id": abtest_id},
    ).fetchall()
    return ABTestOverview(
        metric_names=[name for name, _ in rows],
        latest_sample_at=max((last for _, last in rows), default=None),
    )
