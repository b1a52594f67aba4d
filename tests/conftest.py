"""Shared fixtures: one real PostgreSQL database per test run, migrated once.

TSMETRICS_TEST_DATABASE_URL names a server to create the run's database on
(`.ci/run` points it at the machine's PostgreSQL); without it the embedded
server from the `embedded` extra is started in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.support.helpers import small_app
from tsmetrics import create_app
from tsmetrics.store import catalogue, schema

TABLES_TO_EMPTY = ("samples", "rollups", "series", "abtests", "metrics")
# Apps built by tests run in development mode with authentication off unless a
# test asks otherwise (tests/security builds its apps with AUTH on, explicitly).
# Set in the environment so that every create_app() and demo subprocess sees it.
os.environ["TSMETRICS_ENV"] = "development"
os.environ["TSMETRICS_AUTH"] = "off"


def _with_database(url: str, name: str) -> str:
    conninfo = psycopg.conninfo.conninfo_to_dict(url)
    conninfo["dbname"] = name
    return psycopg.conninfo.make_conninfo(**conninfo)


@pytest.fixture(scope="session")
def database_server(tmp_path_factory) -> Iterator[str]:
    """An admin URL to a real PostgreSQL server."""
    url = os.environ.get("TSMETRICS_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from tsmetrics.demo import embedded

    server, url = embedded.start(tmp_path_factory.mktemp("pg"), database="postgres")
    yield url
    server.cleanup()


@pytest.fixture(scope="session")
def database_url(database_server: str) -> Iterator[str]:
    """A fresh, migrated database of its own for this test run; dropped at the end."""
    name = f"tsmetrics_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(database_server, name)
    with psycopg.connect(url) as conn:
        schema.migrate(conn)
    yield url
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to an emptied database (autocommit; each test starts from nothing)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(TABLES_TO_EMPTY) + " RESTART IDENTITY CASCADE")
        yield conn


@pytest.fixture
def app(db, database_url: str):
    """The app on the test database, its pool closed afterwards."""
    app = small_app(database_url, AUTH="off")
    app.testing = True
    yield app
    app.extensions["tsmetrics.pool"].close()


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def feature_a(db) -> tuple[catalogue.ABTest, catalogue.Metric]:
    """One A/B test (control, treatment) and one metric (response_time, ms)."""
    test = catalogue.ensure_abtest(
        db, "feature_a", variants=["control", "treatment"], title="Feature A", status="running"
    )
    metric = catalogue.ensure_metric(db, "response_time", unit="ms")
    return test, metric


@pytest.fixture
def app_without_database(db):
    """An app whose database does not answer (a closed port)."""
    app = create_app(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "POOL_TIMEOUT": 0.3,
            "CONNECT_TIMEOUT": 1,
            "RETRY_AFTER": 7,
        }
    )
    yield app
    app.extensions["tsmetrics.pool"].close()
