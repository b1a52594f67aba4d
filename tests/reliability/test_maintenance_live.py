"""Maintenance while the consumer writes (RabbitMQ) and the API reads: nothing lost, no error."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest

from tests.ingest import test_consumer as ingest_tests
from tests.support.helpers import small_app
from tests.support.waiting import wait_for
from tsmetrics.maintenance import run_pass
from tsmetrics.settings import load_settings
from tsmetrics.store import catalogue
from tsmetrics.store.samples import SampleColumns, insert_samples

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]
# The consumer tests' fixtures and helpers: a private queue, consumer processes, batches.
topology, names, consumers = ingest_tests.topology, ingest_tests.names, ingest_tests.consumers
workload, publish = ingest_tests.workload, ingest_tests.publish
stop_when_drained = ingest_tests.stop_when_drained
SETTINGS = {"RETAIN_RAW": "30d", "RETAIN_ROLLUPS": "1m:20d,5m:25d"}


def _old_samples(db) -> int:
    """Six days of samples 40 to 34 days back: past raw retention, for the passes to drop."""
    test = catalogue.get_abtest(db, "feature_a")
    metric = catalogue.get_metric(db, "response_time")
    start = datetime.now(UTC).timestamp() - 40 * 86400
    seconds = np.arange(start, start + 6 * 86400, 90.0)
    values = np.round(np.random.default_rng(1).gamma(4, 25, len(seconds)), 3)
    insert_samples(db, SampleColumns.from_seconds(seconds, values, test.id, metric.id, 0))
    return len(seconds)


def _maintain(url: str, stop: threading.Event, errors: list, passes: list) -> None:
    settings = load_settings({"DATABASE_URL": url, **SETTINGS})
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            try:
                passes.append(run_pass(conn, settings))
            except Exception as error:
                errors.append(repr(error))
            stop.wait(0.05)


def _read(app, stop: threading.Event, failures: list, reads: list) -> None:
    client = app.test_client()
    now = datetime.now(UTC)
    span = f"start={(now - timedelta(hours=1)):%Y-%m-%dT%H:%M:%SZ}&end={now:%Y-%m-%dT%H:%M:%SZ}"
    old = f"start={(now - timedelta(days=45)):%Y-%m-%dT%H:%M:%SZ}&end={now:%Y-%m-%dT%H:%M:%SZ}"
    paths = [
        f"/metrics?abTestName=feature_a&metricName=response_time&granularity=1m&{span}",
        f"/metrics?abTestName=feature_a&metricName=response_time&granularity=auto&{old}",
        f"/abtest/feature_a/compare?metric=response_time&{old}",
    ]
    while not stop.is_set():
        for path in paths:
            response = client.get(path)
            reads.append(path)
            if response.status_code != 200:
                failures.append((path, response.status_code, response.get_data(as_text=True)))


def test_maintenance_during_live_ingestion_and_reads(db, names, topology, consumers, database_url):
    old = _old_samples(db)
    messages = workload(240, seed=15)
    expected = sum(size for _, _, size in messages)
    consumer = consumers().start().wait_ready()
    app = small_app(database_url, CACHE="off")
    stop, errors, failures, passes, reads = threading.Event(), [], [], [], []
    workers = [
        threading.Thread(target=_maintain, args=(database_url, stop, errors, passes)),
        threading.Thread(target=_maintain, args=(database_url, stop, errors, passes)),
        threading.Thread(target=_read, args=(app, stop, failures, reads)),
    ]
    try:
        for worker in workers:
            worker.start()
        for first in range(0, len(messages), 40):
            publish(messages[first : first + 40], queue=topology.queue)
        wait_for(
            lambda: (
                db.execute("SELECT count(*) FROM ingested_batches").fetchone()[0] == len(messages)
            ),
            120,
            "every batch to be stored",
        )
        wait_for(lambda: len(passes) >= 4 and len(reads) >= 6, 120, "passes and reads meanwhile")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        app.extensions["tsmetrics.pool"].close()
    stop_when_drained(consumer, topology.queue)

    assert errors == [] and failures == []
    assert any(p.raw_rows_dropped for p in passes)
    assert sum(p.raw_rows_dropped for p in passes) == old  # the old days, once
    cut = datetime.now(UTC) - timedelta(days=1)
    live = db.execute("SELECT count(*) FROM samples WHERE time >= %s", [cut]).fetchone()[0]
    assert live == expected
    rolled = db.execute(
        "SELECT sum(n) FROM rollups WHERE bucket_seconds = 60 AND variant = -1 AND bucket >= %s",
        [cut - timedelta(minutes=1)],
    ).fetchone()[0]
    assert rolled == expected
    assert db.execute("SELECT count(*) FROM samples").fetchone()[0] == expected
