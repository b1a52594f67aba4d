"""Migrations: ordered, recorded, idempotent, and honest about TimescaleDB."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from tests.store import private_postgres
from tsmetrics.cli import main
from tsmetrics.store import schema


def test_migrating_again_changes_nothing(database_url):
    with psycopg.connect(database_url) as conn:
        report = schema.migrate(conn)
        assert report.applied == []
        assert report.already >= 1
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    assert len(versions) == len(set(versions))


def test_migrations_are_numbered_and_in_order():
    migrations = schema.load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and len(versions) == len(set(versions))
    assert migrations[0].name == "core"


def test_timescale_migration_is_skipped_on_plain_postgresql(database_url):
    with psycopg.connect(database_url) as conn:
        report = schema.migrate(conn)
        available = schema.timescaledb_state(conn) == "ready"
        applied = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
    timescale_files = [m for m in schema.load_migrations() if m.needs_timescaledb]
    assert timescale_files, "the hypertable migration must exist"
    if available:
        assert {m.name for m in timescale_files} <= applied
    else:
        assert {f"{m.version}_{m.name}" for m in timescale_files} == set(report.skipped)
        assert not ({m.name for m in timescale_files} & applied)


def test_timescale_hypertable_and_policies(database_url):
    with psycopg.connect(database_url) as conn:
        if schema.timescaledb_state(conn) != "ready":
            pytest.skip("the timescaledb extension is not installed and preloaded on this server")
        schema.migrate(conn, compress_after="3 days", retain_raw="30 days")
        hypertables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
        assert ("samples",) in hypertables
        jobs = conn.execute(
            "SELECT proc_name, config FROM timescaledb_information.jobs"
            " WHERE hypertable_name = 'samples' ORDER BY proc_name"
        ).fetchall()
        names = [name for name, _ in jobs]
        assert "policy_compression" in names and "policy_retention" in names


def test_two_migrators_at_once_apply_each_file_once(database_server):
    import threading
    import uuid

    from psycopg import sql

    name = f"tsmetrics_race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(database_server) | {"dbname": name}
    url = psycopg.conninfo.make_conninfo(**info)
    errors = []

    def run():
        try:
            with psycopg.connect(url) as conn:
                schema.migrate(conn)
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    try:
        threads = [threading.Thread(target=run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with psycopg.connect(url) as conn:
            count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert count == len([m for m in schema.load_migrations() if not m.needs_timescaledb]) or (
            count == len(schema.load_migrations())
        )
    finally:
        with psycopg.connect(database_server, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


@contextlib.contextmanager
def _fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the test server; dropped afterwards."""
    name = f"tsmetrics_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            admin.execute(drop.format(sql.Identifier(name)))


def _migrations(folder: Path, **files: str) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.sql").write_text(text)
    return folder


def _lock_is_free(url: str) -> bool:
    with psycopg.connect(url) as other:
        taken = other.execute("SELECT pg_try_advisory_lock(%s)", [schema.MIGRATION_LOCK_ID])
        return taken.fetchone()[0]


def test_a_migration_that_kills_its_connection_reports_the_servers_error(database_server, tmp_path):
    """Issue 14: `finally: pg_advisory_unlock` on the dead connection hid the real error."""
    folder = _migrations(
        tmp_path / "migrations", **{"0001_fatal": "SELECT pg_terminate_backend(pg_backend_pid());"}
    )
    with _fresh_database(database_server) as url:
        with psycopg.connect(url) as conn, pytest.raises(schema.MigrationError) as failed:
            schema.migrate(conn, directory=folder)
        message = str(failed.value)
        assert "0001_fatal" in message
        assert "terminating connection due to administrator command" in message
        assert "connection is closed" not in message
        assert _lock_is_free(url)  # the server released it with the session


def test_a_failing_migration_is_named_rolled_back_and_unlocked(database_server, tmp_path):
    files = {
        "0001_first": "CREATE TABLE first (x int);",
        "0002_second": "CREATE TABLE second (x int); SELECT 1 / 0;",
    }
    folder = _migrations(tmp_path / "migrations", **files)
    with _fresh_database(database_server) as url:
        with psycopg.connect(url) as conn:
            with pytest.raises(schema.MigrationError, match="0002_second: division by zero"):
                schema.migrate(conn, directory=folder)
            done = conn.execute("SELECT version FROM schema_migrations").fetchall()
            tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE tablename IN ('first', 'second')"
            ).fetchone()
        assert done == [("0001",)] and tables == (1,)
        assert _lock_is_free(url)


def test_an_extension_that_must_be_preloaded_gets_the_fix_in_the_message(database_server, tmp_path):
    refusal = (
        "DO $$ BEGIN RAISE EXCEPTION 'extension \"timescaledb\" must be preloaded'"
        " USING HINT = 'Please preload the timescaledb library via shared_preload_libraries.';"
        " END $$;"
    )
    folder = _migrations(tmp_path / "migrations", **{"0001_needs_preload": refusal})
    with (
        _fresh_database(database_server) as url,
        psycopg.connect(url) as conn,
        pytest.raises(schema.MigrationError) as failed,
    ):
        schema.migrate(conn, directory=folder)
    message = str(failed.value)
    assert 'extension "timescaledb" must be preloaded' in message
    assert "shared_preload_libraries = 'timescaledb'" in message and "restart" in message


# What the real loader does when it is not preloaded: a FATAL that drops the connection.
_NOT_PRELOADED_TIMESCALEDB = "SELECT pg_terminate_backend(pg_backend_pid());\n"


@pytest.fixture(scope="module")
def half_installed_timescaledb() -> Iterator[str]:
    """A private server listing a timescaledb extension that is not preloaded; its URL."""
    reason = private_postgres.unavailable()
    if reason:
        pytest.skip(reason)
    server = private_postgres.PrivatePostgres()
    try:
        server.write_extension("timescaledb", "9.9.9", _NOT_PRELOADED_TIMESCALEDB)
        yield server.start().url
    finally:
        server.stop()


@pytest.mark.slow
def test_timescaledb_installed_but_not_preloaded_falls_back_and_says_the_fix(
    half_installed_timescaledb,
):
    """Issue 14: every migration failed with `the connection is closed`."""
    with (
        _fresh_database(half_installed_timescaledb) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        listed = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        assert listed == (1,)
        assert schema.timescaledb_state(conn) == "not-preloaded"
        report = schema.migrate(conn)
        assert not report.timescaledb
        assert [m for m in report.skipped if "timescaledb" in m] == ["0002_timescaledb"]
        assert "installed on this PostgreSQL server but not preloaded" in (report.warning or "")
        assert "shared_preload_libraries = 'timescaledb'" in report.warning
        created = conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
        assert created.fetchone() == (0,)
        assert schema.migrate(conn).applied == []  # and again: nothing left to do


@pytest.mark.slow
def test_tsmetrics_migrate_warns_and_carries_on(half_installed_timescaledb):
    with _fresh_database(half_installed_timescaledb) as url:
        result = CliRunner().invoke(main, ["migrate"], env={"TSMETRICS_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "Warning: TimescaleDB is installed on this PostgreSQL server but not preloaded" in (
        result.stderr
    )
    assert "shared_preload_libraries = 'timescaledb'" in result.stderr
    assert "Plain PostgreSQL" in result.stdout
