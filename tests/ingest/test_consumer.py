"""`tsmetrics consume` against the machine's RabbitMQ and PostgreSQL: exactly-once under failures.

Each test uses its own queue and runs the consumer as a child process, as production does.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Iterator

import numpy as np
import orjson
import pika
import psycopg
import pytest

from tests.support import rabbit
from tests.support.throwaway_postgres import Throwaway, throwaway_postgres
from tests.support.waiting import hold, wait_for
from tsmetrics.ingest.producer import Producer, new_batch_id
from tsmetrics.store import catalogue

# Every test runs consumer processes, and most inject a fault: the slow lane.
pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]
TESTS = {"feature_a": ["control", "treatment"], "feature_b": ["control", "treatment"]}
METRICS = ("response_time", "add_to_cart")

# The rollups, recomputed from the raw rows: every bucket of every granularity,
# per variant and over all variants (-1). Rows differing from the stored ones.
ROLLUP_MISMATCHES = """
WITH direct AS (
    SELECT abtest_id, metric_id, g.seconds AS bucket_seconds, coalesce(variant, -1) AS variant,
           date_bin(make_interval(secs => g.seconds), time, TIMESTAMPTZ '1970-01-01+00') AS bucket,
           count(*) AS n, min(value) AS lo, max(value) AS hi,
           sum(value::numeric) AS total, sum(value::numeric * value::numeric) AS total_sq
    FROM samples CROSS JOIN unnest(ARRAY[60, 300, 1800, 3600, 21600, 86400]) AS g(seconds)
    GROUP BY abtest_id, metric_id, g.seconds, 5, ROLLUP (variant)
)
SELECT count(*) FROM direct d
FULL JOIN rollups r USING (abtest_id, metric_id, bucket_seconds, variant, bucket)
WHERE d.n IS DISTINCT FROM r.n OR d.lo IS DISTINCT FROM r.lo OR d.hi IS DISTINCT FROM r.hi
   OR d.total IS DISTINCT FROM r.total OR d.total_sq IS DISTINCT FROM r.total_sq
"""


@pytest.fixture
def topology() -> Iterator:
    """A private queue on the machine's broker."""
    rabbit.require_rabbitmq()
    with rabbit.private_queue() as topology:
        yield topology


@pytest.fixture
def names(db) -> None:
    """Two A/B tests and two metrics."""
    for name, variants in TESTS.items():
        catalogue.ensure_abtest(db, name, variants=variants, status="running")
    for name in METRICS:
        catalogue.ensure_metric(db, name, unit="x")


@pytest.fixture
def consumers(tmp_path, topology, database_url) -> Iterator:
    """Makes consumer processes for the private queue; kills any left running."""
    made: list[rabbit.ConsumerProcess] = []

    def make(**settings) -> rabbit.ConsumerProcess:
        defaults = {
            "DATABASE_URL": database_url,
            "BROKER_URL": rabbit.BROKER_URL,
            "QUEUE": topology.queue,
            "CONSUMER_LINGER_MS": 50,
            "CONNECT_TIMEOUT": 2,
        }
        process = rabbit.ConsumerProcess(tmp_path / f"consumer{len(made)}.log", **defaults)
        process.env.update({f"TSMETRICS_{k}": str(v) for k, v in settings.items()})
        made.append(process)
        return process

    yield make
    for process in made:
        process.close()


def workload(messages: int, seed: int, max_size: int = 1000) -> list[tuple[str, bytes, int]]:
    """(batch id, body, sample count) of `messages` random batches from the last half hour."""
    rng = np.random.default_rng(seed)
    now = time.time()
    out = []
    for _ in range(messages):
        test = str(rng.choice(list(TESTS)))
        size = int(rng.integers(1, max_size + 1))
        samples = [
            {"metric": str(metric), "value": round(float(value), 3), "time": round(float(t), 3)}
            for metric, value, t in zip(
                rng.choice(METRICS, size),
                rng.lognormal(4, 0.5, size),
                now - rng.uniform(0, 1800, size),
                strict=True,
            )
        ]
        body = orjson.dumps(
            {"abTest": test, "variant": str(rng.choice(TESTS[test])), "samples": samples}
        )
        out.append((new_batch_id(), body, size))
    return out


def publish(messages, url: str = rabbit.BROKER_URL, queue: str = "") -> None:
    """Publish (batch id, body, size) messages with confirms."""
    with Producer(url, queue) as producer:
        for batch_id, body, _ in messages:
            producer.publish_body(body, batch_id)


def stored(db) -> int:
    """Samples in the database now."""
    return db.execute("SELECT count(*) FROM samples").fetchone()[0]


def recorded(db) -> int:
    """Samples of the batches recorded as stored (cheaper to poll than counting samples)."""
    return db.execute("SELECT coalesce(sum(samples), 0) FROM ingested_batches").fetchone()[0]


def assert_exactly(db, messages) -> None:
    """Exactly these messages' samples are stored, once, with exact rollups."""
    expected = sum(size for _, _, size in messages)
    assert stored(db) == expected
    rows = db.execute("SELECT batch_id, samples FROM ingested_batches").fetchall()
    assert sorted(rows) == sorted((batch_id, size) for batch_id, _, size in messages)
    assert db.execute(ROLLUP_MISMATCHES).fetchone()[0] == 0
    series_total = db.execute("SELECT sum(sample_count) FROM series WHERE variant = -1")
    assert series_total.fetchone()[0] == expected


def stop_when_drained(consumer: rabbit.ConsumerProcess, queue: str) -> None:
    """Wait for the queue to be settled, then SIGTERM: every delivery was written and acked.

    Settled means nothing ready and nothing delivered but unacknowledged: after a
    lost connection the broker redelivers up to a prefetch of duplicates, which
    the consumer still holds when the ready count reaches 0, and a SIGTERM then
    hands the ones it has not started back to the broker (as it should).
    Where rabbitmqctl cannot tell the unacknowledged count, only the ready count
    is waited for and the check after the stop is skipped.
    """
    wait_for(lambda: rabbit.waiting_in(queue) == 0, 60, f"{queue} to be drained")
    settled = rabbit.unsettled_in(queue)
    if settled is not None:
        wait_for(lambda: rabbit.unsettled_in(queue) == 0, 60, f"{queue} to be acknowledged")
    assert consumer.stop() == 0
    if settled is not None:
        assert rabbit.waiting_in(queue) == 0, "unacknowledged messages went back to the queue"


def test_n_samples_in_many_messages_are_stored_once(db, names, topology, consumers):
    messages = workload(150, seed=1)
    # A producer that retried after a lost confirm: the same batch id twice.
    publish([*messages, messages[0]], queue=topology.queue)
    consumer = consumers().start()
    wait_for(lambda: stored(db) >= sum(m[2] for m in messages), 60, "every sample to be stored")
    stop_when_drained(consumer, topology.queue)
    assert_exactly(db, messages)
    log = consumer.log()
    assert "1 duplicates skipped" in log
    assert "consumer stopped: stored" in log and "/s overall" in log


def test_sigkill_at_two_random_points_still_stores_exactly_n(db, names, topology, consumers):
    messages = workload(300, seed=2)
    total = sum(size for _, _, size in messages)
    publish(messages, queue=topology.queue)
    # Small flushes and prefetch: many commit-then-ack windows for a kill to hit.
    consumer = consumers(CONSUMER_BATCH_SAMPLES=5000, CONSUMER_PREFETCH=20)
    chooser = random.Random()
    for low, high in ((0.1, 0.35), (0.45, 0.75)):
        point = int(total * chooser.uniform(low, high))
        consumer.start()
        wait_for(lambda p=point: recorded(db) >= p, 60, f"{point} samples", step=0.005)
        consumer.kill()
        assert stored(db) < total, "the consumer finished before the kill; use more samples"
    consumer.start()
    wait_for(lambda: stored(db) >= total, 60, "every sample after two kills")
    stop_when_drained(consumer, topology.queue)
    assert_exactly(db, messages)


def test_sigterm_finishes_the_flush_in_flight_then_exits_0(db, names, topology, consumers):
    messages = workload(200, seed=3)
    publish(messages, queue=topology.queue)
    consumer = consumers(CONSUMER_BATCH_SAMPLES=2000, CONSUMER_PREFETCH=10).start()
    wait_for(lambda: recorded(db) > 0, 60, "a first flush", step=0.005)
    assert consumer.stop() == 0
    # Whatever was stored is whole batches: each recorded id has all its samples.
    assert 0 < stored(db) == recorded(db) < sum(m[2] for m in messages)
    consumer.start().wait_ready()
    wait_for(lambda: stored(db) >= sum(m[2] for m in messages), 60, "the rest")
    assert consumer.stop() == 0
    assert_exactly(db, messages)


def test_broker_connection_lost_twice(db, names, topology, consumers):
    proxy = rabbit.CuttableProxy()
    try:
        messages = workload(300, seed=4)
        total = sum(size for _, _, size in messages)
        publish(messages, queue=topology.queue)
        consumer = consumers(BROKER_URL=proxy.url, CONSUMER_BATCH_SAMPLES=8000).start()
        for cut, fraction in enumerate((0.2, 0.6), start=1):
            wait_for(lambda f=fraction: recorded(db) >= total * f, 60, "progress", 0.005)
            proxy.refusing = True
            proxy.cut()
            wait_for(
                lambda n=cut: consumer.log().count("broker connection lost") >= n,
                30,
                f"the consumer noticing cut {cut}",
            )
            proxy.refusing = False
        wait_for(lambda: stored(db) >= total, 60, "every sample after reconnecting")
        stop_when_drained(consumer, topology.queue)
        assert_exactly(db, messages)
    finally:
        proxy.close()


def _bad(**changes) -> bytes:
    doc = {
        "abTest": "feature_a",
        "variant": "control",
        "samples": [{"metric": "response_time", "value": 1.0, "time": time.time() - 5}],
    }
    sample = doc["samples"][0]
    for key, value in changes.items():
        (doc if key in doc else sample)[key] = value
    return json.dumps(doc).encode()  # the standard encoder writes NaN and Infinity


def test_invalid_messages_are_dead_lettered_with_their_reason(db, names, topology, consumers):
    first, last = workload(1, seed=5, max_size=10), workload(1, seed=6, max_size=20)
    tiny = {"metric": "response_time", "value": 1, "time": time.time()}
    many = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": [tiny] * 10_001})
    huge = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": [tiny] * 12_000})
    bad = [
        ("not-json", b"{not json"),
        ("invalid", _bad(value="fast")),
        ("unknown-name", _bad(abTest="feature_z")),
        ("unknown-name", _bad(variant="green")),
        ("unknown-name", _bad(metric="latency")),
        ("invalid", _bad(value=math.nan)),
        ("invalid", _bad(value=-math.inf)),
        ("invalid", _bad(time=time.time() - 8 * 86400)),
        ("invalid", _bad(time=time.time() + 3600)),
        ("invalid", _bad(value=2e305)),  # outside the metric's accepted range (issue 14)
        ("too-large", huge),
        ("too-large", many),
        ("missing-id", _bad()),
    ]
    assert len(huge) > 700_000 > len(many)
    publish(first, queue=topology.queue)
    with rabbit.channel() as ch:
        topology.declare(ch)
        for index, (_, body) in enumerate(bad):
            message_id = None if index == len(bad) - 1 else f"bad-{index}"
            ch.basic_publish("", topology.queue, body, pika.BasicProperties(message_id=message_id))
    publish(last, queue=topology.queue)
    consumer = consumers(MAX_MESSAGE_BYTES=700_000).start()
    wait_for(
        lambda: rabbit.waiting_in(topology.dead_letter_queue) == len(bad), 60, "the dead letters"
    )
    valid = sum(size for _, _, size in first + last)
    wait_for(lambda: stored(db) >= valid, 60, "the valid messages")
    assert consumer.stop() == 0
    assert_exactly(db, first + last)
    dead = rabbit.drain(topology.dead_letter_queue)
    assert [p.headers["x-tsmetrics-reason"].split(":")[0] for p, _ in dead] == [
        code for code, _ in bad
    ]
    assert [body for _, body in dead] == [body for _, body in bad]
    assert [p.message_id for p, _ in dead] == [f"bad-{i}" for i in range(12)] + [None]
    assert {p.headers["x-tsmetrics-queue"] for p, _ in dead} == {topology.queue}
    assert "samples[0].value: Must be finite." in dead[5][0].headers["x-tsmetrics-reason"]
    range_reason = "samples[0].value: Must be between -1e+15 and 1e+15"
    assert range_reason in dead[9][0].headers["x-tsmetrics-reason"]
    assert consumer.log().count("dead-lettered message") == len(bad)
    assert rabbit.waiting_in(topology.queue) == 0


@pytest.fixture
def postgres() -> Iterator[Throwaway]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    with throwaway_postgres() as server:
        yield server


def test_database_down_for_10_s_while_messages_flow(topology, consumers, postgres):
    url = postgres.url
    with psycopg.connect(url, autocommit=True) as db:
        for name, variants in TESTS.items():
            catalogue.ensure_abtest(db, name, variants=variants)
        for name in METRICS:
            catalogue.ensure_metric(db, name, unit="x")
    messages = workload(240, seed=7, max_size=200)
    consumer = consumers(DATABASE_URL=url, CONSUMER_PREFETCH=40).start()
    # A second consumer, stopped during the outage: it must leave, and lose nothing.
    quitter = consumers(DATABASE_URL=url, CONSUMER_PREFETCH=40).start()
    for process in (consumer, quitter):
        process.wait_ready()
    wait_for(lambda: rabbit.consumers_of(topology.queue) == 2, 30, "two consumers registered")

    def flow() -> None:
        with Producer(rabbit.BROKER_URL, topology.queue) as producer:
            for batch_id, body, _ in messages:
                producer.publish_body(body, batch_id)
                hold(0.06)  # a steady flow, so messages keep arriving during the outage

    publisher = threading.Thread(target=flow)
    publisher.start()
    with psycopg.connect(url, autocommit=True) as db:
        wait_for(lambda: stored(db) > 0, 30, "a first flush")
    postgres.stop()
    outage_ends = time.monotonic() + 10
    wait_for(lambda: "held messages" in quitter.log(), 30, "the quitter holding messages")
    assert quitter.stop(timeout=20) == 0
    hold(outage_ends - time.monotonic())  # the outage lasts its 10 s whatever came before
    postgres.start()
    publisher.join()
    with psycopg.connect(url, autocommit=True) as db:
        total = sum(size for _, _, size in messages)
        wait_for(lambda: stored(db) >= total, 60, "every sample after the outage")
        assert consumer.process.poll() is None, "the consumer must ride out the outage"
        stop_when_drained(consumer, topology.queue)
        assert_exactly(db, messages)
    assert "database unavailable" in consumer.log()
    assert "messages return to the queue" in quitter.log()


def test_unmigrated_database_is_a_clear_error(database_server, topology, consumers):
    name = f"tsmetrics_empty_{time.time_ns()}"
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = psycopg.conninfo.make_conninfo(database_server, dbname=name)
        consumer = consumers(DATABASE_URL=url).start()
        assert consumer.process.wait(timeout=30) == 1
        assert "tsmetrics migrate" in consumer.log()
    finally:
        with psycopg.connect(database_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
