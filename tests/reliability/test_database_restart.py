"""A PostgreSQL restart: 503 with Retry-After while it is down, full service within 5 s after."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.helpers import at, store
from tests.support.throwaway_postgres import Throwaway, throwaway_postgres
from tests.support.waiting import hold, wait_for
from tsmetrics import create_app
from tsmetrics.store import catalogue

PATH = "/metrics?abTestName=feature_a&metricName=response_time&start=2025-11-09T00:00:00Z"
RECOVERY_SECONDS = 5.0


@pytest.fixture
def postgres() -> Iterator[Throwaway]:
    """A PostgreSQL server of this test's own with one sample, which it may stop and start."""
    with throwaway_postgres() as server:
        with psycopg.connect(server.url, autocommit=True) as conn:
            test = catalogue.ensure_abtest(conn, "feature_a", variants=["control", "treatment"])
            metric = catalogue.ensure_metric(conn, "response_time", unit="ms")
            store(conn, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 0)])
        yield server


def test_restart_gives_503s_then_recovers_within_5_s(postgres):
    settings = {"POOL_MIN_SIZE": 2, "POOL_TIMEOUT": 1.0, "CONNECT_TIMEOUT": 1}
    app = create_app({"DATABASE_URL": postgres.url, **settings})
    client = app.test_client()
    try:
        assert client.get(PATH).status_code == 200
        postgres.stop()
        for _ in range(3):
            down = client.get(PATH)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "5"
            assert down.mimetype == "application/problem+json"
        hold(8)  # the outage lasts long enough for a naive reconnect backoff to grow past 5 s
        postgres.start()
        back = time.monotonic()
        wait_for(
            lambda: client.get(PATH).status_code == 200,
            RECOVERY_SECONDS,
            "a 200 after PostgreSQL came back",
            step=0.1,
        )
        recovered = time.monotonic() - back
        # Every connection of the pool works again, not just one.
        assert all(client.get(PATH).status_code == 200 for _ in range(10))
        assert client.get("/readyz").status_code == 200
        print(f"recovered {recovered:.2f} s after PostgreSQL was back")
    finally:
        app.extensions["tsmetrics.pool"].close()
