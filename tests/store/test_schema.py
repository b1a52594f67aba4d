"""Migrations: ordered, recorded, idempotent, and honest about TimescaleDB."""

from __future__ import annotations

import psycopg
import pytest

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
        available = schema.timescaledb_available(conn)
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
        if not schema.timescaledb_available(conn):
            pytest.skip("the timescaledb extension is not installed on this PostgreSQL server")
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
