"""The daily partitions of `samples` on plain PostgreSQL: made ahead and on demand, dropped behind.

Partition `samples_YYYYMMDD` holds [day, day + 1) UTC; `samples_default` catches
a row whose day has no partition (an insert never fails for want of one), and
`tsmetrics maintain` moves such rows into their day's partition. On TimescaleDB
`samples` is a hypertable and none of this applies (its chunks are managed by
its own policies); `samples_layout` tells which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
from psycopg import sql

DAY_US = 86_400_000_000
DEFAULT_PARTITION = "samples_default"
_NAME = re.compile(r"^samples_(\d{8})$")
# Days this process has made sure of, per database: the insert path asks the
# server only for a day it has not seen. A partition dropped since (retention)
# only sends a late row to the DEFAULT partition, which maintenance empties.
_known: set[tuple[str, int]] = set()


@dataclass(frozen=True)
class SamplePartition:
    """One day's partition of `samples`."""

    name: str
    day: date
    bytes: int


def _database(conn: psycopg.Connection) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


def ensure_partitions_for(conn: psycopg.Connection, time_us: np.ndarray) -> int:
    """Make sure every UTC day of these sample times has its partition; how many were made.

    Inside the caller's transaction if one is open, else in a short one of its own.
    """
    database = _database(conn)
    days = [int(d) for d in np.unique(time_us // DAY_US) if (database, int(d)) not in _known]
    if not days:
        return 0
    made = ensure_days(conn, [date(1970, 1, 1) + timedelta(days=d) for d in days])
    _known.update((database, d) for d in days)
    return made


def ensure_days(conn: psycopg.Connection, days: list[date]) -> int:
    """Create the missing partitions of these days (none where samples is not partitioned)."""
    with conn.transaction():
        row = conn.execute("SELECT ensure_sample_partitions(%s::date[])", [days]).fetchone()
    return int(row[0]) if row else 0


def samples_layout(conn: psycopg.Connection) -> str:
    """`partitioned` (plain PostgreSQL, this module's layout), `hypertable` or `table`."""
    row = conn.execute(
        "SELECT c.relkind, to_regclass('timescaledb_information.hypertables') IS NOT NULL"
        " FROM pg_class c WHERE c.oid = 'samples'::regclass"
    ).fetchone()
    if row is None:
        return "table"
    kind, timescale = row
    if kind == "p":
        return "partitioned"
    if timescale:
        found = conn.execute(
            "SELECT EXISTS (SELECT FROM timescaledb_information.hypertables"
            " WHERE hypertable_name = 'samples')"
        ).fetchone()
        if found and found[0]:
            return "hypertable"
    return "table"


def list_sample_partitions(conn: psycopg.Connection) -> list[SamplePartition]:
    """The daily partitions, oldest first, with their size on disk (table and index)."""
    rows = conn.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'samples'::regclass ORDER BY c.relname"
    ).fetchall()
    found = []
    for name, size in rows:
        match = _NAME.match(name)
        if match:
            found.append(SamplePartition(name, datetime.strptime(match[1], "%Y%m%d").date(), size))
    return found


def count_rows(conn: psycopg.Connection, table: str) -> int:
    """Exact row count of one partition (a name from list_sample_partitions)."""
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0]) if row else 0


# Each (A/B test, metric)'s all-variants rollups over the day, one index range each.
_ROLLED_UP_COUNT = """
SELECT coalesce(sum(r.n), 0)::int8
FROM series s
JOIN LATERAL (
    SELECT n FROM rollups
    WHERE abtest_id = s.abtest_id AND metric_id = s.metric_id AND bucket_seconds = %(seconds)s
      AND variant = -1 AND bucket >= %(start)s AND bucket < %(end)s
) r ON true
WHERE s.variant = -1
"""


def rolled_up_count(conn: psycopg.Connection, day: date, seconds: int) -> int:
    """The samples of one UTC day, as the rollups of `seconds` count them (no scan of samples).

    Every sample is counted in its series' rollups by the transaction that stores
    it, so this is exact wherever those rollups are still kept for the day.
    """
    start, end = _bounds(day)
    params = {"seconds": seconds, "start": start, "end": end}
    return int(conn.execute(_ROLLED_UP_COUNT, params).fetchone()[0])


def drop_partition(conn: psycopg.Connection, partition: SamplePartition) -> None:
    """Drop one day's partition: its files are unlinked, no row is visited.

    DROP TABLE of a partition detaches it in the same step (a separate DETACH
    doubled the time, measured). It waits for the inserts in flight and holds up
    new ones while it runs (milliseconds); `lock_timeout` bounds the wait, so a
    long transaction makes it give up (LockNotAvailable) rather than queue writers.
    """
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(partition.name)))
    # This process would make it again for a late row (other processes send it to DEFAULT).
    _known.discard((_database(conn), (partition.day - date(1970, 1, 1)).days))


def default_partition_days(conn: psycopg.Connection) -> list[tuple[date, int]]:
    """The UTC days with rows in the DEFAULT partition, and how many rows each."""
    rows = conn.execute(
        "SELECT (time AT TIME ZONE 'UTC')::date, count(*) FROM samples_default"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [(day, int(n)) for day, n in rows]


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def delete_default_day(conn: psycopg.Connection, day: date) -> int:
    """Delete one day's rows from the DEFAULT partition (a day past retention); how many."""
    start, end = _bounds(day)
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM samples_default WHERE time >= %s AND time < %s", [start, end]
        )
    return cur.rowcount


def move_default_day(conn: psycopg.Connection, day: date) -> int:
    """Move one day's rows out of the DEFAULT partition into a new partition of their own.

    One transaction: new inserts for the day wait on the DEFAULT partition's lock
    meanwhile, and then go to the new partition; no row is lost or seen twice.
    """
    start, end = _bounds(day)
    name = sql.Identifier(f"samples_{day:%Y%m%d}")
    with conn.transaction():
        conn.execute("SET LOCAL lock_timeout = '5s'")
        # The lock of every partition change (migrations/0013_partitions.sql).
        conn.execute("SELECT pg_advisory_xact_lock(7362104222000000)")
        conn.execute("LOCK TABLE samples_default IN EXCLUSIVE MODE")
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE samples INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            ).format(name)
        )
        cur = conn.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM samples_default WHERE time >= %(start)s"
                " AND time < %(end)s RETURNING *) INSERT INTO {} SELECT * FROM moved"
            ).format(name),
            {"start": start, "end": end},
        )
        conn.execute(
            # DDL takes no parameters: the bounds are literals, quoted by psycopg.
            sql.SQL("ALTER TABLE samples ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                name, sql.Literal(start), sql.Literal(end)
            )
        )
    return cur.rowcount
