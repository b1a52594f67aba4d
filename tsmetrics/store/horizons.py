"""Rollup retention: the horizons below which data was dropped, and dropping rollup rows.

Rollups are one table on both backends (a TimescaleDB hypertable is used for
raw samples only), so their retention is the same DELETE everywhere: one
statement per series and granularity, each a range of the primary key
(abtest_id, metric_id, bucket_seconds, variant, bucket), in its own
transaction, so a pass never holds many row locks nor one long transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

import psycopg

from tsmetrics.store import catalogue


@dataclass(frozen=True)
class Horizon:
    """Data of `kind` (raw or a granularity) before `dropped_before` is gone; `kept`: why."""

    kind: str
    dropped_before: datetime
    kept: str


def read_horizons(conn: psycopg.Connection) -> dict[str, Horizon]:
    """Every horizon recorded, by kind (none: nothing was ever dropped)."""
    row = conn.execute(f"SELECT {HORIZON_ARRAYS}").fetchone()
    return horizons_from_arrays(*row) if row else {}


# The horizons as three parallel arrays: appended to another statement, so that
# reading them costs no round trip of its own (the read path counts its statements).
HORIZON_ARRAYS = (
    "(SELECT array_agg(kind ORDER BY kind) FROM data_horizons),"
    " (SELECT array_agg(dropped_before ORDER BY kind) FROM data_horizons),"
    " (SELECT array_agg(kept ORDER BY kind) FROM data_horizons)"
)


def horizons_from_arrays(kinds, befores, kept) -> dict[str, Horizon]:
    """The horizons from the three arrays of HORIZON_ARRAYS (NULLs: none recorded)."""
    return {
        k: Horizon(k, b, t) for k, b, t in zip(kinds or [], befores or [], kept or [], strict=True)
    }


# The catalogue's look-up of both names (the very statement, so the two cannot
# drift apart), with the horizons as three more columns.
_NAMES_AND_HORIZONS = catalogue._ABTEST_AND_METRIC.replace(
    " FROM (VALUES (1))", f", {HORIZON_ARRAYS} FROM (VALUES (1))", 1
)
assert HORIZON_ARRAYS in _NAMES_AND_HORIZONS


def get_abtest_metric_and_horizons(
    conn: psycopg.Connection, abtest_name: str, metric_name: str
) -> tuple[catalogue.ABTest | None, catalogue.Metric | None, dict[str, Horizon]]:
    """The A/B test and metric so named (each or None) and the horizons, in one statement."""
    row = conn.execute(
        _NAMES_AND_HORIZONS, {"abtest": abtest_name, "metric": metric_name}
    ).fetchone()
    assert row is not None  # the one-row VALUES always gives a row
    split, end = len(fields(catalogue.ABTest)), len(row) - 3
    abtest = catalogue.ABTest(*row[:split]) if row[0] is not None else None
    metric = catalogue.Metric(*row[split:end]) if row[split] is not None else None
    return abtest, metric, horizons_from_arrays(*row[end:])


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
    query = (
        "SELECT pg_total_relation_size('rollups')::float8 / reltuples"
        " FROM pg_class WHERE oid = 'rollups'::regclass AND reltuples > 0"
    )
    row = conn.execute(query).fetchone()
    if row is None:
        # Never analysed (a new table): ANALYZE samples a few pages for the estimate.
        conn.execute("ANALYZE rollups")
        row = conn.execute(query).fetchone()
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
