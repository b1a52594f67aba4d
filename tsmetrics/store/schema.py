"""Schema migrations and TimescaleDB detection.

Migrations are ordered SQL files in ``migrations/``; each is applied once, in its
own transaction, and recorded in ``schema_migrations``. A file whose first line
is ``-- requires: timescaledb`` is applied only where that extension is
available, so the same migrations serve TimescaleDB and plain PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_REQUIRES_TIMESCALE = "-- requires: timescaledb"
# One lock id for every migrator: two processes starting together (two gunicorn
# masters, the API and the consumer) must not apply the same file twice.
_MIGRATION_LOCK_ID = 7_362_104_221


@dataclass(frozen=True)
class Migration:
    """One SQL file of the schema history."""

    version: str
    name: str
    sql: str

    @property
    def needs_timescaledb(self) -> bool:
        """True when the file may run only where TimescaleDB is installed."""
        return self.sql.lstrip().startswith(_REQUIRES_TIMESCALE)


@dataclass
class MigrationReport:
    """What `migrate` did, for the CLI to print."""

    timescaledb: bool
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    already: int = 0


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files, in order."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migration files are named NNNN_what.sql")
        found.append(Migration(match[1], match[2], path.read_text()))
    return found


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """True when the server can load the timescaledb extension."""
    row = conn.execute(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return bool(row and row[0])


def migrate(
    conn: psycopg.Connection,
    *,
    compress_after: str = "7 days",
    retain_raw: str = "90 days",
    progress: Callable[[str], None] = lambda _line: None,
) -> MigrationReport:
    """Apply every pending migration; safe to run again and from two processes at once."""
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_ID])
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        report = MigrationReport(timescaledb=timescaledb_available(conn))
        for migration in load_migrations():
            label = f"{migration.version}_{migration.name}"
            if migration.version in done:
                report.already += 1
            elif migration.needs_timescaledb and not report.timescaledb:
                report.skipped.append(label)
            else:
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        [migration.version, migration.name],
                    )
                report.applied.append(label)
                progress(f"applied {label}")
        if report.timescaledb:
            _set_timescale_policies(conn, compress_after, retain_raw)
        return report
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_ID])


def _set_timescale_policies(conn: psycopg.Connection, compress_after: str, retain_raw: str) -> None:
    # Policies follow the settings on every run, so changing a setting and
    # migrating again is how an operator changes them.
    with conn.transaction():
        conn.execute("SELECT remove_compression_policy('samples', if_exists => true)")
        conn.execute(
            "SELECT add_compression_policy('samples', compress_after => %s::interval)",
            [compress_after],
        )
        conn.execute("SELECT remove_retention_policy('samples', if_exists => true)")
        conn.execute(
            "SELECT add_retention_policy('samples', drop_after => %s::interval)", [retain_raw]
        )
