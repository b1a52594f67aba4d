"""Changes to existing A/B tests and metrics: the management's updates and status moves.

Also whether a test has samples, which fixes its variants' positions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from tsmetrics.store.catalogue import (
    ABTEST_COLUMNS,
    ABTEST_WRITABLE,
    METRIC_COLUMNS,
    METRIC_WRITABLE,
    ABTest,
    Metric,
    check_writable,
)


def _assignments(changes: Mapping[str, Any], allowed: tuple[str, ...]) -> sql.Composed:
    check_writable(changes, allowed)
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in changes
    )


def update_abtest(conn: psycopg.Connection, abtest_id: int, changes: Mapping[str, Any]) -> ABTest:
    """Set some of ABTEST_WRITABLE on one A/B test."""
    query = sql.SQL("UPDATE abtests SET {} WHERE id = %(id)s RETURNING {}").format(
        _assignments(changes, ABTEST_WRITABLE), sql.SQL(ABTEST_COLUMNS)
    )
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        found = cur.execute(query, {**changes, "id": abtest_id}).fetchone()
    assert found is not None
    return found


_CHANGE_STATUS = (
    "UPDATE abtests SET status = %(new)s,"  # noqa: S608 - constant column list
    " started_at = CASE WHEN %(new)s = 'running' THEN coalesce(started_at, now())"
    "  ELSE started_at END,"
    " ended_at = CASE WHEN %(new)s = 'completed' THEN now() ELSE ended_at END,"
    " archived_at = CASE WHEN %(new)s = 'archived' THEN now() ELSE archived_at END"
    " WHERE id = %(id)s AND status = %(current)s RETURNING " + ABTEST_COLUMNS
)


def change_abtest_status(
    conn: psycopg.Connection, abtest_id: int, *, current: str, new: str
) -> ABTest | None:
    """Move a test from `current` to `new`, stamping the lifecycle times; None if not `current`.

    The first start sets started_at (a resume keeps it), completing sets
    ended_at, archiving sets archived_at. The status guard makes two
    concurrent changes serialise: the second finds the status moved on.
    """
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(
            _CHANGE_STATUS, {"id": abtest_id, "current": current, "new": new}
        ).fetchone()


def abtest_has_samples(conn: psycopg.Connection, abtest_id: int) -> bool:
    """True when any sample of the test was stored (its variant positions are then fixed)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM series WHERE abtest_id = %(id)s)", {"id": abtest_id}
    ).fetchone()
    return bool(row and row[0])


def update_metric(
    conn: psycopg.Connection,
    metric_id: int,
    changes: Mapping[str, Any],
    *,
    archived: bool | None = None,
) -> Metric:
    """Set some of METRIC_WRITABLE and/or archive (archived_at = now) or restore a metric."""
    parts = [_assignments(changes, METRIC_WRITABLE)] if changes else []
    if archived is not None:
        parts.append(
            sql.SQL("archived_at = CASE WHEN %(archived)s THEN coalesce(archived_at, now()) END")
        )
    if not parts:
        raise ValueError("nothing to change")
    query = sql.SQL("UPDATE metrics SET {} WHERE id = %(id)s RETURNING {}").format(
        sql.SQL(", ").join(parts), sql.SQL(METRIC_COLUMNS)
    )
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        found = cur.execute(query, {**changes, "archived": archived, "id": metric_id}).fetchone()
    assert found is not None
    return found
