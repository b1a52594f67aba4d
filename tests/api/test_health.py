"""/healthz and /readyz: public, and answering within a second even when a dependency hangs."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.helpers import small_app
from tests.support.tarpit import Tarpit

PROBLEM = "application/problem+json"


def _app(database_url: str, **settings):
    # A deadline of half a second leaves the other half of the promised second to
    # the request itself on a loaded machine (the default is 0.8 s).
    return small_app(database_url, CONNECT_TIMEOUT=1, HEALTH_TIMEOUT=0.5, **settings)


@pytest.fixture
def tarpit():
    """A dependency that accepts connections and never answers."""
    with Tarpit() as pit:
        yield pit


def _timed_get(client, path: str):
    began = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - began


def test_healthz_checks_nothing_but_the_process(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "alive"})


def test_readyz_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert set(body["checks"]) == {"database"}  # no Redis configured, broker not asked for


@pytest.mark.slow
def test_readyz_answers_within_a_second_when_the_database_hangs(tarpit, db):
    app = _app(f"postgresql://tsmetrics@127.0.0.1:{tarpit.port}/tsmetrics")
    try:
        for _ in range(3):
            response, seconds = _timed_get(app.test_client(), "/readyz")
            assert seconds < 1.0
            assert response.status_code == 503
            assert response.mimetype == PROBLEM
            assert response.headers["Retry-After"] == "5"
            assert response.get_json()["checks"]["database"]["status"] in ("timeout", "failed")
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        app.extensions["tsmetrics.pool"].close()


@pytest.mark.slow
@pytest.mark.parametrize("dependency", ["redis", "broker"])
def test_readyz_answers_within_a_second_when_redis_or_the_broker_hangs(
    tarpit, database_url, db, dependency
):
    url = {"redis": "redis://127.0.0.1:{}/0", "broker": "amqp://guest:guest@127.0.0.1:{}/%2F"}
    settings = {
        "REDIS_URL" if dependency == "redis" else "BROKER_URL": url[dependency].format(tarpit.port),
        "READY_CHECKS": f"database,{dependency}",
        "RATE_LIMIT_READ": "",
    }
    app = _app(database_url, **settings)
    try:
        before = {t.name for t in threading.enumerate()}
        for _ in range(4):
            response, seconds = _timed_get(app.test_client(), "/readyz")
            assert seconds < 1.0
            assert response.status_code == 503
            checks = response.get_json()["checks"]
            assert checks["database"]["status"] == "ok"
            assert checks[dependency]["status"] in ("timeout", "failed")
        # A hung check is not started again while it runs: one thread, not one per probe.
        started = [t for t in threading.enumerate() if t.name not in before]
        assert len([t for t in started if t.name == f"check-{dependency}"]) <= 1
    finally:
        app.extensions["tsmetrics.pool"].close()


def test_health_is_in_the_openapi_document_and_public(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"]["security"] == []
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]
