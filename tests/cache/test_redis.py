"""The query cache shared through Redis, and requests that still succeed when Redis fails."""

from __future__ import annotations

import secrets
import time

import pytest
import redis

from tests.support.cache_data import BASE, TEN_DAYS, delta, fill, lookups
from tests.support.helpers import at, small_app, store
from tests.support.services import port_open, require_service
from tests.support.tarpit import Tarpit
from tsmetrics.telemetry.metrics import CACHE_ERRORS

REDIS_URL = "redis://127.0.0.1:6379/0"


def make_app(database_url: str, **settings):
    """An app on the test database; no local cache, so every hit is a Redis hit."""
    return small_app(database_url, CACHE_LOCAL_MAX_POINTS=0, RATE_LIMIT_READ="", **settings)


@pytest.fixture
def filled(db, feature_a):
    """Ten days of irregular samples, both variants."""
    return fill(db, feature_a)


@pytest.fixture
def shared_redis():
    """A key prefix of this test's own on the machine's Redis; its keys deleted afterwards."""
    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    prefix = f"tsmetrics-test-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def two_instances(database_url, shared_redis):
    """Two API instances sharing one Redis."""
    apps = [
        make_app(database_url, REDIS_URL=REDIS_URL, CACHE_PREFIX=shared_redis) for _ in range(2)
    ]
    yield [app.test_client() for app in apps]
    for app in apps:
        app.extensions["tsmetrics.pool"].close()


@pytest.mark.redis
def test_instances_share_results_and_see_a_late_sample_at_once(two_instances, filled, db):
    test, metric = filled
    first, second = two_instances
    answer = first.get(BASE + TEN_DAYS + "&granularity=30m").get_json()
    before, bodies = lookups(), lookups("bodies")
    assert second.get(BASE + TEN_DAYS + "&granularity=30m").get_json() == answer
    # The whole body rendered by the first instance, read from Redis by the second.
    assert delta(bodies, lookups("bodies")) == {"local": 0, "redis": 1, "miss": 0}
    assert delta(before, lookups()) == {"local": 0, "redis": 0, "miss": 0}
    before = lookups()
    assert second.get(BASE + TEN_DAYS + "&granularity=30m&skip=1").get_json()["count"] > 0
    shared = delta(before, lookups())  # another page of the same range: the chunks are shared
    assert shared["miss"] == 0 and shared["redis"] >= 2
    store(db, [(at("2025-11-09 09:09:00"), 9999.0, test.id, metric.id, 0)])
    for client in two_instances:
        points = client.get(BASE + TEN_DAYS + "&granularity=30m").get_json()["datapoints"]
        assert max(point["h"] for point in points) == 9999.0


# No Redis needed: a port that hangs, or refuses, stands in for a broken one.
@pytest.mark.slow
@pytest.mark.parametrize("broken", ["hangs", "refuses"])
def test_requests_succeed_without_redis(database_url, filled, broken):
    with Tarpit() as tarpit:
        if broken == "refuses":
            tarpit.close()  # nothing listens on its port any more
        url = f"redis://127.0.0.1:{tarpit.port}/0"
        app = make_app(database_url, REDIS_URL=url, REDIS_TIMEOUT=0.2)
        client = app.test_client()
        errors = CACHE_ERRORS._value.get()
        began = time.monotonic()
        answers = [client.get(BASE + TEN_DAYS + "&granularity=1h") for _ in range(5)]
        elapsed = time.monotonic() - began
        app.extensions["tsmetrics.pool"].close()
    assert {answer.status_code for answer in answers} == {200}
    assert CACHE_ERRORS._value.get() > errors
    # One timeout, then Redis is left alone for a moment instead of in every request.
    assert elapsed < 2.0
