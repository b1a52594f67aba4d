"""A/B tests and the metric catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

ABTEST_STATUSES = ("draft", "running", "paused", "completed", "archived")
METRIC_KINDS = ("mean", "sum")


@dataclass(frozen=True)
class ABTest:
    """An A/B test; `variants[0]` is the control."""

    id: int
    name: str
    title: str
    description: str
    status: str
    variants: list[str]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    def variant_index(self, variant: str) -> int | None:
        """The stored position of a variant name, or None when the test has no such variant."""
        try:
            return self.variants.index(variant)
        except ValueError:
            return None


@dataclass(frozen=True)
class Metric:
    """A metric of the catalogue: what its samples mean and how they add up."""

    id: int
    name: str
    unit: str
    description: str
    kind: str
    higher_is_better: bool


_ABTEST_COLUMNS = "id, name, title, description, status, variants, created_at, started_at, ended_at"
_METRIC_COLUMNS = "id, name, unit, description, kind, higher_is_better"


def list_abtests(conn: psycopg.Connection, *, include_archived: bool = True) -> list[ABTest]:
    """Every A/B test, by name."""
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(
            f"SELECT {_ABTEST_COLUMNS} FROM abtests"  # noqa: S608 - constant column list
            " WHERE %(all)s OR status <> 'archived' ORDER BY name",
            {"all": include_archived},
        ).fetchall()


def get_abtest(conn: psycopg.Connection, name: str) -> ABTest | None:
    """The A/B test called `name`, or None."""
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(
            f"SELECT {_ABTEST_COLUMNS} FROM abtests WHERE name = %(name)s",  # noqa: S608
            {"name": name},
        ).fetchone()


def list_metrics(conn: psycopg.Connection) -> list[Metric]:
    """The metric catalogue, by name."""
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        return cur.execute(
            f"SELECT {_METRIC_COLUMNS} FROM metrics ORDER BY name"  # noqa: S608
        ).fetchall()


def get_metric(conn: psycopg.Connection, name: str) -> Metric | None:
    """The metric called `name`, or None."""
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        return cur.execute(
            f"SELECT {_METRIC_COLUMNS} FROM metrics WHERE name = %(name)s",  # noqa: S608
            {"name": name},
        ).fetchone()


def ensure_abtest(
    conn: psycopg.Connection,
    name: str,
    *,
    variants: list[str],
    title: str = "",
    description: str = "",
    status: str = "draft",
    started_at: datetime | None = None,
) -> ABTest:
    """The A/B test `name`, created with these fields when it does not exist yet."""
    conn.execute(
        "INSERT INTO abtests (name, title, description, status, variants, started_at)"
        " VALUES (%(name)s, %(title)s, %(description)s, %(status)s, %(variants)s, %(started_at)s)"
        " ON CONFLICT (name) DO NOTHING",
        {
            "name": name,
            "title": title,
            "description": description,
            "status": status,
            "variants": variants,
            "started_at": started_at,
        },
    )
    found = get_abtest(conn, name)
    assert found is not None
    return found


def ensure_metric(
    conn: psycopg.Connection,
    name: str,
    *,
    unit: str,
    kind: str = "mean",
    description: str = "",
    higher_is_better: bool = False,
) -> Metric:
    """The metric `name`, created with these fields when it does not exist yet."""
    conn.execute(
        "INSERT INTO metrics (name, unit, kind, description, higher_is_better)"
        " VALUES (%(name)s, %(unit)s, %(kind)s, %(description)s, %(higher_is_better)s)"
        " ON CONFLICT (name) DO NOTHING",
        {
            "name": name,
            "unit": unit,
            "kind": kind,
            "description": description,
            "higher_is_better": higher_is_better,
        },
    )
    found = get_metric(conn, name)
    assert found is not None
    return found
