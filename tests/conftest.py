"""Shared fixtures: one real PostgreSQL database per test run, migrated once.

TSMETRICS_TEST_DATABASE_URL names a server to create the run's database on
(`.ci/run` points it at the machine's PostgreSQL); without it the embedded
server from the `embedded` extra is started in a temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.database import RunDatabase, fresh_database
from tests.support.helpers import small_app
from tsmetrics import create_app
from tsmetrics.store import catalogue, schema

# Whole directories of expensive tests: every browser test drives Chromium, and every
# reliability test runs subprocess servers, injects a fault or fuzzes the API.
SLOW_DIRECTORIES = ("browser", "reliability")
# Apps built by tests run in development mode with authentication off unless a
# test asks otherwise (tests/security builds its apps with AUTH on, explicitly).
# Set in the environment so that every create_app() and demo subprocess sees it.
os.environ["TSMETRICS_ENV"] = "development"
os.environ["TSMETRICS_AUTH"] = "off"


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under a slow directory `slow`."""
    here = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
        if parts and parts[0] in SLOW_DIRECTORIES:
            item.add_marker(pytest.mark.slow)


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
def run_database(database_server: str) -> Iterator[RunDatabase]:
    """A fresh, migrated database of this run's own; dropped at the end, whatever happened."""
    with fresh_database(database_server, "tsmetrics_test") as url:
        with psycopg.connect(url) as conn:
            schema.migrate(conn)
        yield RunDatabase.after_migrations(url)


@pytest.fixture(scope="session")
def database_url(run_database: RunDatabase) -> str:
    """The URL of the run's database."""
    return run_database.url


@pytest.fixture
def db(run_database: RunDatabase) -> Iterator[psycopg.Connection]:
    """A connection to an emptied database (autocommit; each test starts from nothing).

    Every table the migrations left empty is emptied, and the rest is checked to be as
    the migrations left it, so a test cannot leave rows behind for the next one.
    """
    with psycopg.connect(run_database.url, autocommit=True) as conn:
        run_database.reset(conn)
        run_database.check_baseline(conn)
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
