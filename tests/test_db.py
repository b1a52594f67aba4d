"""The pools: reads and writes split between a replica and the primary, and failing fast.

The database is never stopped here (the machine's PostgreSQL serves others):
a TCP proxy in front of it plays the outage (tests/support/pgproxy.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support.helpers import small_app
from tests.support.pgproxy import DatabaseProxy
from tests.support.waiting import hold
from tsmetrics import db as database
from tsmetrics.breaker import DatabaseUnavailable

PROBLEM = "application/problem+json"
FAST = 0.5  # seconds: the most a request may take while the breaker is open
RECOVERY = 1.0  # seconds from the database's return to a served request


@pytest.fixture
def proxy(database_url: str) -> Iterator[DatabaseProxy]:
    """A proxy in front of the test server, to play outages."""
    with DatabaseProxy(database_url) as running:
        yield running


def _timed(call):
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def _until(condition, limit: float) -> float:
    """Seconds until `condition()` holds; fails after `limit` seconds."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < limit, f"not within {limit} s"
        time.sleep(0.01)
    return time.monotonic() - began


def test_without_a_replica_reads_and_writes_share_one_pool(app):
    assert database.get_pool(app) is database.get_pool(app, write=True)
    assert database.pools(app) == [database.get_pool(app)]


def test_reads_go_to_the_replica_and_writes_to_the_primary(db, database_url, feature_a, proxy):
    app = small_app(database_url, READ_DATABASE_URL=proxy.url(database_url), RETRY_AFTER=7)
    client = app.test_client()
    try:
        assert client.get("/abtest").get_json() == ["feature_a"]
        assert len(database.pools(app)) == 2
        proxy.down()  # the "replica" goes away; the primary does not
        response, seconds = _timed(lambda: client.get("/abtest"))
        assert (response.status_code, response.mimetype) == (503, PROBLEM)
        assert response.headers["Retry-After"] == "7" and seconds < FAST
        created = client.post("/abtest", json={"name": "written_to_the_primary"})
        assert created.status_code == 201, created.get_data(as_text=True)
        ready = client.get("/readyz").get_json()["checks"]
        assert ready["database"]["status"] == "ok"
        assert ready["replica"]["status"] == "failed"
    finally:
        database.close(app)
    names = {row[0] for row in db.execute("SELECT name FROM abtests")}
    assert names == {"feature_a", "written_to_the_primary"}


def test_a_primary_outage_leaves_replica_reads_working(db, database_url, feature_a, proxy):
    app = small_app(proxy.url(database_url), READ_DATABASE_URL=database_url)
    client = app.test_client()
    try:
        proxy.down()
        assert client.get("/abtest").get_json() == ["feature_a"]
        response, seconds = _timed(lambda: client.post("/abtest", json={"name": "lost"}))
        assert (response.status_code, response.mimetype) == (503, PROBLEM) and seconds < FAST
    finally:
        database.close(app)


def test_an_outage_gives_503s_at_once_and_service_returns_within_a_second(
    db, database_url, feature_a, proxy
):
    app = small_app(proxy.url(database_url), POOL_TIMEOUT=5.0, RETRY_AFTER=3)
    client = app.test_client()
    pool = database.get_pool(app)
    try:
        assert client.get("/abtest").status_code == 200
        proxy.down()
        # The first request meets the cut connection: it learns within a slice.
        for _ in range(20):
            response, seconds = _timed(lambda: client.get("/abtest"))
            assert (response.status_code, response.mimetype) == (503, PROBLEM)
            assert response.headers["Retry-After"] == "3"
            assert seconds < FAST, f"a request took {seconds:.2f} s during the outage"
        assert pool.breaker.is_open
        ready, seconds = _timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503 and seconds < FAST
        assert ready.get_json()["checks"]["database"]["error"] == "DatabaseUnavailable"
        with pytest.raises(DatabaseUnavailable), database.get_pool(app).connection():
            pass
        hold(1.0)  # the outage lasts past the pool's first reconnection backoff
        proxy.up()
        recovered = _until(lambda: client.get("/abtest").status_code == 200, RECOVERY)
        assert all(client.get("/abtest").status_code == 200 for _ in range(10))
        assert client.get("/readyz").status_code == 200
        print(f"recovered {recovered:.2f} s after the database was back")
    finally:
        database.close(app)


def test_a_database_down_at_start_is_found_once_it_is_up(db, database_url, feature_a, proxy):
    proxy.down()
    app = small_app(proxy.url(database_url))
    client = app.test_client()
    try:
        _until(lambda: database.get_pool(app).breaker.is_open, 2.0)
        response, seconds = _timed(lambda: client.get("/abtest"))
        assert response.status_code == 503 and seconds < FAST
        proxy.up()
        _until(lambda: client.get("/abtest").status_code == 200, RECOVERY)
    finally:
        database.close(app)


def test_a_busy_pool_still_waits_its_timeout_instead_of_failing(db, database_url, feature_a):
    app = small_app(database_url, POOL_MAX_SIZE=1, POOL_TIMEOUT=0.4)
    pool = database.get_pool(app)
    try:
        with pool.connection():
            response, seconds = _timed(lambda: app.test_client().get("/abtest"))
        assert response.status_code == 503 and 0.35 < seconds < 2.0
        assert not pool.breaker.is_open
        assert app.test_client().get("/abtest").status_code == 200
    finally:
        database.close(app)
