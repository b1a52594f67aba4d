"""Daily partitions of `samples`: a database made before them migrates without losing a sample."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tests.support.database import fresh_database
from tests.support.helpers import small_app
from tsmetrics.store import catalogue, partitions, schema
from tsmetrics.store.samples import SampleColumns, insert_samples

PARTITIONING = "0013"
# The tables a database made by the migrations before 0013 holds data in.
DATA_TABLES = ("abtests", "metrics", "samples", "rollups", "series")
SAMPLES_CHECKSUM = (
    "SELECT count(*), md5(string_agg(format('%s|%s|%s|%s|%s', time, value, abtest_id,"
    " metric_id, variant), ',' ORDER BY time, abtest_id, metric_id, variant, value))"
    " FROM samples"
)


@pytest.fixture
def before_partitions(tmp_path):
    """The migrations of today's main: every file before 0013."""
    for migration in schema.MIGRATIONS_DIR.glob("*.sql"):
        if migration.name < PARTITIONING:
            shutil.copy(migration, tmp_path / migration.name)
    return tmp_path


def _fill(url: str) -> None:
    """Two tests, two metrics, samples spread over 20 days and a day of 2025, via the write path."""
    rng = np.random.default_rng(7)
    now = datetime.now(UTC).timestamp()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in ("feature_a", "feature_b"):
            test = catalogue.ensure_abtest(conn, name, variants=["control", "treatment"])
            for metric_name in ("response_time", "clicks"):
                metric = catalogue.ensure_metric(conn, metric_name, unit="ms")
                for seconds in (
                    np.arange(now - 20 * 86400, now - 60, 97.0),
                    np.arange(1762905600.0, 1762905600.0 + 86400, 30.0),
                ):
                    variant = rng.integers(0, 2, len(seconds))
                    values = np.round(rng.gamma(4, 25, len(seconds)), 3)
                    insert_samples(
                        conn,
                        SampleColumns.from_seconds(seconds, values, test.id, metric.id, variant),
                    )


def _copy_data(source: str, target: str) -> None:
    with psycopg.connect(source) as src, psycopg.connect(target) as dst:
        for table in DATA_TABLES:
            name = sql.Identifier(table)
            with (
                src.cursor().copy(
                    sql.SQL("COPY (SELECT * FROM {}) TO STDOUT (FORMAT BINARY)").format(name)
                ) as out,
                dst.cursor().copy(
                    sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(name)
                ) as inp,
            ):
                for block in out:
                    inp.write(block)


def _answers(url: str) -> dict:
    app = small_app(url, CACHE="off")
    now = datetime.now(UTC)
    span = f"start={(now - timedelta(days=3)):%Y-%m-%dT%H:%M:%SZ}&end={now:%Y-%m-%dT%H:%M:%SZ}"
    old = "start=2025-11-12T00:00:00Z&end=2025-11-13T00:00:00Z"
    try:
        client = app.test_client()
        answers = {}
        for test in ("feature_a", "feature_b"):
            for metric in ("response_time", "clicks"):
                for granularity, window in (("1m", span), ("1h", span), ("5m", old)):
                    answers[test, metric, granularity] = client.get(
                        f"/metrics?abTestName={test}&metricName={metric}"
                        f"&granularity={granularity}&{window}"
                    ).get_json()
            answers[test, "compare"] = client.get(
                f"/abtest/{test}/compare?metric=response_time&metric=clicks&{span}"
            ).get_json()
        return answers
    finally:
        app.extensions["tsmetrics.pool"].close()


def test_a_database_made_before_partitioning_migrates_with_every_sample(
    database_server, before_partitions
):
    with (
        fresh_database(database_server, "tsmetrics_now") as current,
        fresh_database(database_server, "tsmetrics_main") as old,
    ):
        with psycopg.connect(current) as conn:
            schema.migrate(conn)
        _fill(current)
        with psycopg.connect(old) as conn:
            report = schema.migrate(conn, directory=before_partitions)
            assert PARTITIONING not in {label[:4] for label in report.applied}
            assert conn.execute(
                "SELECT relkind FROM pg_class WHERE relname = 'samples'"
            ).fetchone() == ("r",)
        _copy_data(current, old)
        with psycopg.connect(old) as conn:
            checksum = conn.execute(SAMPLES_CHECKSUM).fetchone()
            assert checksum[0] > 50_000
        expected = _answers(current)

        with psycopg.connect(old) as conn:
            assert schema.migrate(conn).applied == ["0013_partitions"]
            assert partitions.samples_layout(conn) == "partitioned"
            assert conn.execute(SAMPLES_CHECKSUM).fetchone() == checksum
            assert conn.execute("SELECT count(*) FROM samples_default").fetchone() == (0,)
            days = {p.day for p in partitions.list_sample_partitions(conn)}
            assert datetime(2025, 11, 12).date() in days and len(days) >= 22
            assert to_regclass_gone(conn, "samples_unpartitioned")
        assert _answers(old) == expected


def to_regclass_gone(conn: psycopg.Connection, name: str) -> bool:
    """True when no relation of that name is left."""
    return conn.execute("SELECT to_regclass(%s) IS NULL", [name]).fetchone()[0]


def test_the_insert_path_makes_a_days_partition_before_its_rows(db, feature_a):
    test, metric = feature_a
    day = (datetime.now(UTC) - timedelta(days=41)).replace(hour=6, minute=0, second=0)
    insert_samples(db, SampleColumns.from_rows([(day.timestamp(), 1.5, test.id, metric.id, 0)]))
    where = db.execute("SELECT tableoid::regclass::text FROM samples").fetchall()
    assert where == [(f"samples_{day:%Y%m%d}",)]


def test_writers_making_different_days_at_once_take_turns(db, feature_a, database_url):
    # Each ATTACH also locks the DEFAULT partition: without one lock for every
    # partition change, two writers each making its own day deadlocked (seen in CI).
    test, metric = feature_a
    writers, rounds = 4, 6
    first = (datetime.now(UTC) - timedelta(days=400)).replace(hour=6, minute=0, second=0)
    barrier = threading.Barrier(writers, timeout=120)
    failures: list[BaseException] = []

    def write(index: int) -> None:
        try:
            with psycopg.connect(database_url) as conn:
                for r in range(rounds):
                    day = first + timedelta(days=r * writers + index)
                    rows = [(day.timestamp() + s, 1.0, test.id, metric.id, 0) for s in range(3)]
                    barrier.wait()
                    with conn.transaction():
                        insert_samples(conn, SampleColumns.from_rows(rows))
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)
            barrier.abort()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not failures, failures
    placed = db.execute(
        "SELECT count(DISTINCT tableoid), count(*) FROM samples"
        " WHERE tableoid <> 'samples_default'::regclass"
    ).fetchone()
    assert placed == (writers * rounds, writers * rounds * 3)
