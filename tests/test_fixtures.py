"""The shared fixtures keep every test's database state its own."""

from __future__ import annotations

import psycopg
import pytest

from tests.support.database import fresh_database

# Tables the migrations fill: kept as they are, checked before every test.
KEPT = {"schema_migrations", "cache_epoch", "catalogue_version"}
# Written by tests, so emptied before every test (the ones once forgotten listed first).
WRITTEN = {"ingested_batches", "cache_versions", "users", "api_tokens", "samples", "rollups"}


def test_every_table_but_the_migrations_own_is_emptied(db, run_database):
    # Partitions (of samples, made as days come) are emptied through their parent.
    listed = db.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        " AND relkind IN ('r', 'p') AND NOT relispartition"
    )
    tables = {name for (name,) in listed}
    assert set(run_database.kept) == KEPT
    assert set(run_database.emptied) == tables - KEPT
    assert set(run_database.emptied) >= WRITTEN
    run_database.check_baseline(db)


def test_rows_left_in_a_kept_table_are_caught(db, run_database):
    with db.transaction(force_rollback=True):
        db.execute("INSERT INTO schema_migrations (version, name) VALUES ('9999', 'left_behind')")
        with pytest.raises(AssertionError, match="schema_migrations"):
            run_database.check_baseline(db)


def test_a_table_left_behind_is_caught(db, run_database):
    with db.transaction(force_rollback=True):
        db.execute("CREATE TABLE left_behind (id integer)")
        with pytest.raises(AssertionError, match="left_behind"):
            run_database.check_baseline(db)


def test_rows_left_in_an_emptied_table_are_caught(db, run_database, feature_a):
    with pytest.raises(AssertionError, match="abtests"):
        run_database.check_baseline(db)


def test_a_fresh_database_is_dropped_even_when_its_setup_fails(database_server):
    with pytest.raises(RuntimeError), fresh_database(database_server, "tsmetrics_doomed") as url:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        raise RuntimeError("a migration failed")
    with psycopg.connect(database_server) as admin:
        found = admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [name])
        assert found.fetchone()[0] == 0
