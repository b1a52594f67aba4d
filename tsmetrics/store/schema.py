"""Schema migrations and TimescaleDB detection.

Migrations are ordered SQL files in ``migrations/``; each is applied once, in its
own transaction, and recorded in ``schema_migrations``. A file whose first line
is ``-- requires: timescaledb`` is applied only where that extension can be
used, so the same migrations serve TimescaleDB and plain PostgreSQL.

TimescaleDB installed on the server but missing from shared_preload_libraries
(a common half-done install) cannot be used: creating the extension then is a
FATAL error that drops the connection. `migrate` detects it first, carries on
as plain PostgreSQL (same schema, same results) and says how to fix it in
`MigrationReport.warning`; after the fix, the next `migrate` applies the
TimescaleDB migration to the data already stored.
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
MIGRATION_LOCK_ID = 7_362_104_221
TIMESCALEDB_FIX = (
    "add `shared_preload_libraries = 'timescaledb'` to postgresql.conf (or "
    "`ALTER SYSTEM SET shared_preload_libraries = 'timescaledb'`), restart PostgreSQL, then "
    "run `tsmetrics migrate` again"
)
NOT_PRELOADED_WARNING = (
    "TimescaleDB is installed on this PostgreSQL server but not preloaded "
    "(shared_preload_libraries lacks timescaledb), so it cannot be used: this database stays "
    f"plain PostgreSQL for now (same results, no compression or retention). To use it, "
    f"{TIMESCALEDB_FIX}; that converts the samples already stored."
)


class MigrationError(RuntimeError):
    """A migration file failed; the message names it and gives the server's own error."""


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
    warning: str | None = None
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


def timescaledb_state(conn: psycopg.Connection) -> str:
    """`ready`, `not-preloaded` (installed on the server, unusable until preloaded) or `absent`."""
    # shared_preload_libraries is readable by superusers only; the settings the
    # preloaded loader defines are visible to every role (never placeholders,
    # which pg_settings leaves out), so they tell "preloaded" for any user.
    row = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb'),"
        " EXISTS (SELECT FROM pg_settings WHERE name = 'timescaledb.disable_load')"
    ).fetchone()
    available, created, preloaded = row if row else (False, False, False)
    if not available:
        return "absent"
    return "ready" if created or preloaded else "not-preloaded"


def migrate(
    conn: psycopg.Connection,
    *,
    compress_after: str = "7 days",
    retain_raw: str = "90 days",
    progress: Callable[[str], None] = lambda _line: None,
    directory: Path = MIGRATIONS_DIR,
) -> MigrationReport:
    """Apply every pending migration; safe to run again and from two processes at once.

    Raises MigrationError naming the file that failed and the server's error.
    """
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
    try:
        report = _apply(conn, directory, progress)
        if report.timescaledb:
            try:
                _set_timescale_policies(conn, compress_after, retain_raw)
            except psycopg.Error as error:
                raise _failure("TimescaleDB policies", error) from error
        return report
    finally:
        # A connection the failure killed holds no lock: the server released it
        # with the session, and trying would only hide the real error.
        if not conn.closed and not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])


def _apply(
    conn: psycopg.Connection, directory: Path, progress: Callable[[str], None]
) -> MigrationReport:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    state = timescaledb_state(conn)
    report = MigrationReport(timescaledb=state == "ready")
    if state == "not-preloaded":
        report.warning = NOT_PRELOADED_WARNING
    for migration in load_migrations(directory):
        label = f"{migration.version}_{migration.name}"
        if migration.version in done:
            report.already += 1
        elif migration.needs_timescaledb and not report.timescaledb:
            report.skipped.append(label)
        else:
            _apply_one(conn, migration, label)
            report.applied.append(label)
            progress(f"applied {label}")
    return report


def _apply_one(conn: psycopg.Connection, migration: Migration, label: str) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                [migration.version, migration.name],
            )
    except psycopg.Error as error:
        raise _failure(label, error) from error


def _failure(what: str, error: psycopg.Error) -> MigrationError:
    text = str(error).strip() or type(error).__name__
    fix = f" To use TimescaleDB, {TIMESCALEDB_FIX}." if "must be preloaded" in text else ""
    return MigrationError(f"{what}: {text}{fix}")


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
        if retain_raw != "forever":
            conn.execute(
                "SELECT add_retention_policy('samples', drop_after => %s::interval)", [retain_raw]
            )
