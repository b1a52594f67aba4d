"""Rollup retention: the horizons below which data was dropped, and dropping rollup rows.

Rollups are one table on both backends (a TimescaleDB hypertable is used for
raw samples only), so their retention is the same DELETE everywhere: one
statement per series and granularity, each a range of the primary key
(abtest_id, metric_id, bucket_seconds, variant, bucket), in its own
transaction, so a pass never holds many row locks nor one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import args_row


@dataclass(frozen=True)
class Horizon:
    """Data of `kind` (raw or a granularity) before `dropped_before` is gone; `kept`: why."""

    kind: str
    dropped_before: datetime
    kept: str


def read_horizons(conn: psycopg.Connection) -> dict[str, Horizon]:
    """Every horizon recorded, by kind (none: nothing was ever dropped)."""
    with conn.cursor(row_factory=args_row(Horizon)) as cur:
        rows = cur.execute("SELECT kind, dropped_before, kept FROM data_horizons").fetchall()
    return {h.kind: h for h in rows}


def advance_horizon(conn: psycopg.Connection, kind: str, before: datetime, kept: str) -> None:
    """Record that data of `kind` before `before` is dropped (never moves a horizon back)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO data_horizons AS h (kind, dropped_before, kept)"
            " VALUES (%(kind)s, %(before)s, %(kept)s)"
            " ON CONFLICT (kind) DO UPDATE SET"
            " dropped_before = greatest(h.dropped_before, excluded.dropped_before),"
            " kept = excluded.kept, updated_at = now()",
            {"kind": kind, "before": before, "kept": kept},
        )


def list_series_keys(conn: psycopg.Connection) -> list[tuple[int, int, int]]:
    """(abtest_id, metric_id, variant) of every series that holds rollups."""
    rows = conn.execute("SELECT abtest_id, metric_id, variant FROM series ORDER BY 1, 2, 3")
    return [tuple(row) for row in rows]


def delete_rollups_before(
    conn: psycopg.Connection, key: tuple[int, int, int], seconds: int, before: datetime
) -> int:
    """Delete one series' buckets of `seconds` that start before `before`; how many."""
    abtest_id, metric_id, variant = key
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM rollups WHERE abtest_id = %(abtest_id)s AND metric_id = %(metric_id)s"
            " AND bucket_seconds = %(seconds)s AND variant = %(variant)s"
            " AND bucket < %(before)s",
            {
                "abtest_id": abtest_id,
                "metric_id": metric_id,
                "variant": variant,
                "seconds": seconds,
                "before": before,
            },
        )
    return cur.rowcount


def rollup_bytes_per_row(conn: psycopg.Connection) -> float:
    """The rollups' size on disk (heap, index, TOAST) per row, from the planner's row estimate."""
    row = conn.execute(
        "SELECT pg_total_relation_size('rollups')::float8 / greatest(reltuples, 1)"
        " FROM pg_class WHERE oid = 'rollups'::regclass"
    ).fetchone()
    return float(row[0]) if row else 0.0


def vacuum_rollups(conn: psycopg.Connection) -> None:
    """Make the space of deleted rollups reusable and keep reads index-only (autocommit conn)."""
    conn.execute("VACUUM (ANALYZE) rollups")


# One lock for every `tsmetrics maintain`: a second one started meanwhile skips its pass.
MAINTENANCE_LOCK_ID = 7_362_104_224


def try_maintenance_lock(conn: psycopg.Connection) -> bool:
    """Take the maintainers' session lock if free; True when this session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", [MAINTENANCE_LOCK_ID]).fetchone()
    return bool(row and row[0])


def release_maintenance_lock(conn: psycopg.Connection) -> None:
    """Give the maintainers' lock back."""
    conn.execute("SELECT pg_advisory_unlock(%s)", [MAINTENANCE_LOCK_ID])
