"""The API on a real streaming replica: reads there, every write on the primary.

The replica is made by pg_basebackup from the test server (tests/reliability/
replica.py), streams from it, and is stopped and removed at the end. The app
runs with authentication on, TSMETRICS_DATABASE_URL at the primary and
TSMETRICS_READ_DATABASE_URL at the replica (the same database, streamed).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from tests.reliability.replica import Replica, ReplicaUnavailable
from tests.security.helpers import PASSWORD, SECURE_CONFIG, bearer, log_in
from tests.support.cache_data import delta, lookups
from tests.support.helpers import store
from tests.support.services import require_service
from tsmetrics import create_app
from tsmetrics import db as database
from tsmetrics.security import tokens, users

pytestmark = pytest.mark.slow
CATCH_UP = 60.0  # seconds the replica may take to replay what the primary wrote
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
WINDOW = f"start={(NOW - timedelta(hours=3)):%Y-%m-%dT%H:%M:%SZ}&end={NOW:%Y-%m-%dT%H:%M:%SZ}"
METRICS = f"/metrics?abTestName=feature_a&metricName=response_time&granularity=1h&{WINDOW}"
# Wholly in the past, so that its body is cached (a range reaching now is not).
PAST_END = NOW - timedelta(minutes=10 + NOW.minute % 5)
PAST = METRICS.replace(f"{NOW:%Y-%m-%dT%H:%M:%SZ}", f"{PAST_END:%Y-%m-%dT%H:%M:%SZ}").replace(
    "granularity=1h", "granularity=5m"
)


@pytest.fixture(scope="module")
def replica(database_server: str, database_url: str) -> Iterator[Replica]:
    """A streaming replica of the test server, with the test database replayed."""
    try:
        running = Replica(database_server)
    except ReplicaUnavailable as why:
        require_service(False, f"cannot make a streaming replica here: {why}")
    try:
        running.start()
        with psycopg.connect(database_server, autocommit=True) as primary:
            running.wait_until_replayed(primary, CATCH_UP)
        yield running
    finally:
        running.stop()


@pytest.fixture
def pair(replica: Replica, database_url: str, db) -> Iterator:
    """The app on the primary (writes) and the replica (reads), authentication on."""
    app = create_app(
        {
            **SECURE_CONFIG,
            "DATABASE_URL": database_url,
            "READ_DATABASE_URL": replica.url(database_url),
            # The test polls for replication: rate limits are not what it tests.
            "RATE_LIMIT_READ": "",
            "RATE_LIMIT_INGEST": "",
            "RATE_LIMIT_ADMIN": "",
        }
    )
    yield app
    database.close(app)


@pytest.fixture
def known(db, feature_a, replica):
    """Tokens, a user and three hours of samples, written on the primary and replayed."""
    test, metric = feature_a
    reader, _ = tokens.issue(db, "reader", ["read"])
    writer, _ = tokens.issue(db, "writer", ["ingest", "admin"])
    users.create_user(db, "alice", PASSWORD, "editor")
    rows = [
        (NOW - timedelta(minutes=minutes), 100.0 + minutes % 7, test.id, metric.id, minutes % 2)
        for minutes in range(1, 180)
    ]
    store(db, rows)
    replica.wait_until_replayed(db, CATCH_UP)
    return {"reader": bearer(reader), "writer": bearer(writer)}


def _read_sessions(url: str) -> int:
    """Connections of the app's read pool to this server's copy of the test database."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = 'tsmetrics-read' AND datname = current_database()"
        ).fetchone()[0]


def test_tokens_logins_pages_and_reads_work_on_the_replica(pair, known, replica, database_url, db):
    client = pair.test_client()
    assert client.get("/abtest", headers=known["reader"]).get_json() == ["feature_a"]
    # The token was read on the replica; its last use was recorded on the primary.
    used = db.execute("SELECT last_used_at FROM api_tokens WHERE name = 'reader'").fetchone()
    assert used[0] is not None
    page = client.get(PAST, headers=known["reader"])
    assert page.status_code == 200, page.get_data(as_text=True)
    assert len(page.get_json()["datapoints"]) > 20
    # The cache works on the replica: the same page again is a cache hit, and a 304.
    before = lookups("bodies")
    assert client.get(PAST, headers=known["reader"]).get_json() == page.get_json()
    assert delta(before, lookups("bodies")) == {"local": 1, "redis": 0, "miss": 0}
    etag = {"If-None-Match": page.headers["ETag"], **known["reader"]}
    assert client.get(PAST, headers=etag).status_code == 304
    compare = client.get(
        f"/abtest/feature_a/compare?metric=response_time&{WINDOW}", headers=known["reader"]
    )
    assert compare.status_code == 200, compare.get_data(as_text=True)
    assert compare.get_json()["metrics"]

    assert log_in(client, "alice").status_code == 302
    for path in ("/dashboard/", "/dashboard/abtests/feature_a"):
        response = client.get(path)
        assert (response.status_code, response.mimetype) == (200, "text/html"), path
    # The login was recorded on the primary; the reads went to the replica.
    last_login = db.execute("SELECT last_login_at FROM users WHERE username = 'alice'")
    assert last_login.fetchone()[0] is not None
    assert _read_sessions(replica.url(database_url)) >= 1
    assert _read_sessions(database_url) == 0


def test_writes_land_on_the_primary_and_stream_to_the_replica(pair, known, replica, db):
    client = pair.test_client()
    created = client.post("/abtest", json={"name": "made_now"}, headers=known["writer"])
    assert created.status_code == 201, created.get_data(as_text=True)
    assert db.execute("SELECT count(*) FROM abtests WHERE name = 'made_now'").fetchone()[0] == 1
    # Ingest into the test just made: the names come from the primary, so a
    # lagging replica cannot make /ingest refuse it as unknown.
    marker = 987654.0
    batch = {
        "abTest": "feature_a",
        "variant": "control",
        "samples": [{"metric": "response_time", "value": marker, "time": NOW.timestamp() - 30}],
    }
    for name in ("made_now", "feature_a"):
        body = orjson.dumps({**batch, "abTest": name})
        stored = client.post(
            "/ingest", data=body, content_type="application/json", headers=known["writer"]
        )
        assert stored.status_code == 201, stored.get_data(as_text=True)
    written = time.monotonic()
    assert db.execute("SELECT count(*) FROM samples WHERE value = %s", [marker]).fetchone()[0] == 2
    # ...and the replica instance sees the sample once it has streamed over.
    while marker not in _highs(client, known["reader"]):
        assert time.monotonic() - written < CATCH_UP, "the replica never showed the sample"
    lag = time.monotonic() - written
    print(f"\nsample ingested on the primary seen through the replica after {lag * 1000:.0f} ms")
    assert client.get("/abtest/made_now", headers=known["reader"]).status_code == 200


def _highs(client, headers) -> list[float]:
    response = client.get(METRICS, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [point["h"] for point in response.get_json()["datapoints"]]
