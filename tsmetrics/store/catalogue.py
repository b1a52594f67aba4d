"""A/B tests and the metric catalogue: their records, reads and creation.

Changes to existing entries are in tsmetrics.store.catalogue_updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

ABTEST_STATUSES = ("draft", "running", "paused", "completed", "archived")
METRIC_KINDS = ("mean", "sum")
# How a test judges its comparisons, and what a metric's observation is (migration 0008).
INFERENCES = ("sequential", "fixed")
ANALYSIS_UNITS = ("sample", "time")
# What a metric accepts unless its catalogue entry says otherwise (migration 0010):
# far beyond any real measurement, and far from where sums and squares of the
# samples stop fitting a double.
DEFAULT_VALUE_RANGE = (-1e15, 1e15)


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
    # Managed fields (migration 0004); expected_split None is an equal split.
    hypothesis: str = ""
    expected_split: list[float] | None = None
    archived_at: datetime | None = None
    # Inference and plan (migration 0008): see tsmetrics.analysis.design.
    inference: str = "sequential"
    planned_end: datetime | None = None
    planned_samples: int | None = None
    sequential_n_star: int | None = None

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
    display_decimals: int = 2
    archived_at: datetime | None = None
    analysis_unit: str = "sample"  # "sample": independent samples; "time": paired bucket means
    # The accepted value range (migration 0010): ingestion refuses a sample outside it.
    value_min: float = -1e15
    value_max: float = 1e15
    distribution: bool = False  # the rollups keep sketches: percentiles (tsmetrics.sketches)


ABTEST_COLUMNS = (
    "id, name, title, description, status, variants, created_at, started_at, ended_at,"
    " hypothesis, expected_split, archived_at, inference, planned_end, planned_samples,"
    " sequential_n_star"
)
METRIC_COLUMNS = (
    "id, name, unit, description, kind, higher_is_better, display_decimals, archived_at,"
    " analysis_unit, value_min, value_max, distribution"
)


def list_abtests(conn: psycopg.Connection, *, include_archived: bool = True) -> list[ABTest]:
    """Every A/B test, by name."""
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(
            f"SELECT {ABTEST_COLUMNS} FROM abtests"  # noqa: S608 - constant column list
            " WHERE %(all)s OR status <> 'archived' ORDER BY name",
            {"all": include_archived},
        ).fetchall()


def get_abtest(conn: psycopg.Connection, name: str) -> ABTest | None:
    """The A/B test called `name`, or None."""
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(
            f"SELECT {ABTEST_COLUMNS} FROM abtests WHERE name = %(name)s",  # noqa: S608
            {"name": name},
        ).fetchone()


def list_metrics(conn: psycopg.Connection, *, include_archived: bool = True) -> list[Metric]:
    """The metric catalogue, by name."""
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        return cur.execute(
            f"SELECT {METRIC_COLUMNS} FROM metrics"  # noqa: S608
            " WHERE %(all)s OR archived_at IS NULL ORDER BY name",
            {"all": include_archived},
        ).fetchall()


def get_metric(conn: psycopg.Connection, name: str) -> Metric | None:
    """The metric called `name`, or None."""
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        return cur.execute(
            f"SELECT {METRIC_COLUMNS} FROM metrics WHERE name = %(name)s",  # noqa: S608
            {"name": name},
        ).fetchone()


_ABTEST_AND_METRIC = (
    "SELECT "  # noqa: S608 - constant column lists
    + ", ".join(f"a.{name}" for name in ABTEST_COLUMNS.split(", "))
    + ", "
    + ", ".join(f"m.{name}" for name in METRIC_COLUMNS.split(", "))
    + " FROM (VALUES (1)) AS one LEFT JOIN abtests a ON a.name = %(abtest)s"
    " LEFT JOIN metrics m ON m.name = %(metric)s"
)


def get_abtest_and_metric(
    conn: psycopg.Connection, abtest_name: str, metric_name: str
) -> tuple[ABTest | None, Metric | None]:
    """The A/B test and the metric so named, each or None, in one statement (one round trip)."""
    params = {"abtest": abtest_name, "metric": metric_name}
    row = conn.execute(_ABTEST_AND_METRIC, params).fetchone()
    assert row is not None  # the one-row VALUES always gives a row
    split = len(fields(ABTest))
    abtest = ABTest(*row[:split]) if row[0] is not None else None
    metric = Metric(*row[split:]) if row[split] is not None else None
    return abtest, metric


def ensure_abtest(
    conn: psycopg.Connection,
    name: str,
    *,
    variants: list[str],
    title: str = "",
    description: str = "",
    status: str = "draft",
    started_at: datetime | None = None,
    planned_end: datetime | None = None,
) -> ABTest:
    """The A/B test `name`, created with these fields when it does not exist yet."""
    conn.execute(
        "INSERT INTO abtests (name, title, description, status, variants, started_at,"
        " planned_end) VALUES (%(name)s, %(title)s, %(description)s, %(status)s,"
        " %(variants)s, %(started_at)s, %(planned_end)s) ON CONFLICT (name) DO NOTHING",
        {
            "name": name,
            "title": title,
            "description": description,
            "status": status,
            "variants": variants,
            "started_at": started_at,
            "planned_end": planned_end,
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
    analysis_unit: str = "sample",
    distribution: bool = False,
) -> Metric:
    """The metric `name`, created with these fields when it does not exist yet."""
    conn.execute(
        "INSERT INTO metrics (name, unit, kind, description, higher_is_better, analysis_unit,"
        " distribution) VALUES (%(name)s, %(unit)s, %(kind)s, %(description)s,"
        " %(higher_is_better)s, %(analysis_unit)s, %(distribution)s)"
        " ON CONFLICT (name) DO NOTHING",
        {
            "name": name,
            "unit": unit,
            "kind": kind,
            "description": description,
            "higher_is_better": higher_is_better,
            "analysis_unit": analysis_unit,
            "distribution": distribution,
        },
    )
    found = get_metric(conn, name)
    assert found is not None
    return found


# The columns the management API may set directly; status has its own function.
ABTEST_WRITABLE = (
    "title",
    "description",
    "hypothesis",
    "variants",
    "expected_split",
    "inference",
    "planned_end",
    "planned_samples",
    "sequential_n_star",
)
METRIC_WRITABLE = (
    "unit",
    "description",
    "kind",
    "higher_is_better",
    "display_decimals",
    "analysis_unit",
    "value_min",
    "value_max",
    "distribution",
)


def check_writable(names: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Raise ValueError naming every column of `names` outside `allowed`."""
    # Column names become identifiers in the SQL: only ever from the allow-list.
    unknown = set(names) - set(allowed)
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)}")


def create_abtest(
    conn: psycopg.Connection, name: str, *, status: str = "draft", **fields: Any
) -> ABTest | None:
    """A new A/B test (status 'running' stamps started_at), or None if the name is taken."""
    columns = ["name", "status", *fields]
    query = sql.SQL(
        "INSERT INTO abtests ({columns}, started_at) VALUES ({values},"
        " CASE WHEN %(status)s = 'running' THEN now() END)"
        " ON CONFLICT (name) DO NOTHING RETURNING {returning}"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(map(sql.Placeholder, columns)),
        returning=sql.SQL(ABTEST_COLUMNS),
    )
    check_writable(fields, ABTEST_WRITABLE)
    with conn.cursor(row_factory=class_row(ABTest)) as cur:
        return cur.execute(query, {"name": name, "status": status, **fields}).fetchone()


def create_metric(conn: psycopg.Connection, name: str, **fields: Any) -> Metric | None:
    """A new catalogue entry with some of METRIC_WRITABLE, or None if the name is taken."""
    check_writable(fields, METRIC_WRITABLE)
    columns = ["name", *fields]
    query = sql.SQL(
        "INSERT INTO metrics ({}) VALUES ({}) ON CONFLICT (name) DO NOTHING RETURNING {}"
    ).format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(map(sql.Placeholder, columns)),
        sql.SQL(METRIC_COLUMNS),
    )
    with conn.cursor(row_factory=class_row(Metric)) as cur:
        return cur.execute(query, {"name": name, **fields}).fetchone()
