"""A database outage under load: 503s at once, the normal rate answered, service back within 1 s.

gunicorn (2 workers x 4 threads) serves the test database through a TCP proxy
that plays the outage (the machine's PostgreSQL keeps running for everyone
else); 8 clients read /metrics as fast as they can throughout. The goals are
issue 14's (10d): during the outage p99 <= 0.5 s and >= 90% of the normal
request rate answered, with well-formed 503s; recovery <= 1 s after the
database is back; /readyz within TSMETRICS_HEALTH_TIMEOUT. bench/bench_outage.py
runs the same with a longer outage and saves the figures.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from tests.reliability.servers import Gunicorn
from tests.support.cache_data import END, START
from tests.support.helpers import store
from tests.support.outage import run_outage
from tests.support.pgproxy import DatabaseProxy

pytestmark = pytest.mark.slow
PATH = (
    "/metrics?abTestName=feature_a&metricName=response_time&granularity=1h"
    "&start=2025-11-01T00:00:00Z&end=2025-11-11T00:00:00Z"
)
HEALTH_TIMEOUT = 0.8


@pytest.fixture
def served(db, feature_a, database_url, tmp_path):
    """gunicorn on the test database through a proxy; (server, proxy)."""
    test, metric = feature_a
    rng = random.Random(3)
    span = (END - START).total_seconds()
    rows = [
        (START + timedelta(seconds=rng.uniform(0, span)), rng.gauss(100, 20), test.id, metric.id, v)
        for v in (0, 1)
        for _ in range(2000)
    ]
    store(db, rows)
    with DatabaseProxy(database_url) as proxy:
        server = Gunicorn(
            tmp_path / "gunicorn.log",
            workers=2,
            DATABASE_URL=proxy.url(database_url),
            RATE_LIMIT_READ="",
            HEALTH_TIMEOUT=HEALTH_TIMEOUT,
            LOG_LEVEL="WARNING",
        )
        try:
            yield server.start(), proxy
        finally:
            server.stop()


def test_an_outage_under_load_fails_fast_and_recovers_within_a_second(served):
    server, proxy = served
    outage = run_outage(server.port, proxy, PATH, clients=8, normal=4.0, outage=5.0, after=3.0)
    figures = outage.report(normal_seconds=4.0)
    print("\n" + json.dumps(figures, indent=2))
    normal, during = figures["normal"], figures["outage"]
    assert set(normal["statuses"]) == {"200"}, normal
    assert set(during["statuses"]) <= {"200", "503"}, during
    assert during["statuses"].get("503", 0) > during["calls"] * 0.9
    assert figures["well_formed_503s"]
    assert during["p99_ms"] <= 500, during
    assert figures["outage_rate_vs_normal"] >= 0.9, figures
    assert figures["first_200_after_up_s"] is not None
    assert figures["first_200_after_up_s"] <= 1.0, figures
    assert figures["last_error_after_up_s"] <= 1.0, figures
    readyz = figures["readyz_during_outage"]
    assert set(readyz["statuses"]) == {"503"} and readyz["max_ms"] <= HEALTH_TIMEOUT * 1000, readyz
