"""Scaling out: two API instances and two consumers on one queue lose nothing and double nothing.

Two gunicorn masters on different ports share one database and one Redis; two
`tsmetrics consume` processes compete for one queue. Batches arrive through
both (some twice, as retries and redeliveries do), and reads through either
instance give the same answer, fresh at once after a write through the other.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import redis

from tests.reliability.servers import Gunicorn, free_port
from tests.support import rabbit
from tests.support.services import port_open, require_service
from tests.support.waiting import wait_for
from tsmetrics.ingest.producer import Producer, new_batch_id
from tsmetrics.store import catalogue

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis]
REDIS_URL = "redis://127.0.0.1:6379/0"
TESTS = {"feature_a": ["control", "treatment"], "feature_b": ["control", "treatment"]}
METRICS = ("response_time", "add_to_cart")


@dataclass
class Stack:
    """The running processes of one test."""

    apis: list[Gunicorn]
    consumers: list[rabbit.ConsumerProcess]
    metric_ports: list[int]
    queue: str


def _batches(count: int, rng: random.Random) -> list[tuple[str, bytes, int]]:
    """(batch id, body, size) of random batches from the last half hour."""
    now = time.time()
    out = []
    for _ in range(count):
        test = rng.choice(list(TESTS))
        size = rng.randrange(1, 300)
        samples = [
            {
                "metric": rng.choice(METRICS),
                "value": round(rng.lognormvariate(4, 0.5), 3),
                "time": round(now - rng.uniform(60, 1800), 3),
            }
            for _ in range(size)
        ]
        body = orjson.dumps(
            {"abTest": test, "variant": rng.choice(TESTS[test]), "samples": samples}
        )
        out.append((new_batch_id(), body, size))
    return out


@pytest.fixture
def stack(tmp_path, db, database_url):
    """Two API instances, two consumers, one private queue, one Redis key prefix."""
    rabbit.require_rabbitmq()
    require_service(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    for name, variants in TESTS.items():
        catalogue.ensure_abtest(db, name, variants=variants, status="running")
    for name in METRICS:
        catalogue.ensure_metric(db, name, unit="x")
    prefix = f"tsmetrics-test-{secrets.token_hex(4)}"
    shared = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "CACHE_PREFIX": prefix,
        "RATE_LIMIT_PREFIX": prefix,
        "RATE_LIMIT_READ": "",
        "RATE_LIMIT_INGEST": "",
        "POOL_MAX_SIZE": 3,
        "LOG_LEVEL": "WARNING",
    }
    ports = [free_port(), free_port()]
    with rabbit.private_queue() as topology:
        apis = [Gunicorn(tmp_path / f"api{i}.log", workers=2, **shared) for i in range(2)]
        consumers = [
            rabbit.ConsumerProcess(
                tmp_path / f"consumer{i}.log",
                DATABASE_URL=database_url,
                QUEUE=topology.queue,
                CONSUMER_LINGER_MS=50,
                CONSUMER_PREFETCH=20,
                METRICS_BIND=f"127.0.0.1:{port}",
            )
            for i, port in enumerate(ports)
        ]
        try:
            for process in (*apis, *consumers):
                process.start()
            # Both consumers registered before anything is published, so both get a share.
            for consumer in consumers:
                consumer.wait_ready()
            wait_for(
                lambda: rabbit.consumers_of(topology.queue) == 2, 30, "two consumers registered"
            )
            yield Stack(apis, consumers, ports, topology.queue)
        finally:
            for consumer in consumers:
                consumer.close()
            for api in apis:
                api.stop()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{prefix}:*")) + list(client.scan_iter(f"*{prefix}*"))
            if keys:
                client.delete(*set(keys))
            client.close()


def _post(api: Gunicorn, body: bytes, key: str) -> dict:
    request = urllib.request.Request(  # noqa: S310 - a local test server's http:// URL
        api.url + "/ingest",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310
        return answer.read()


def _counter(port: int, name: str) -> float:
    text = _get(f"http://127.0.0.1:{port}/internal/prometheus").decode()
    return float(re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)[1])


def _handled(stack: Stack) -> float:
    """Messages the consumers have finished with: stored or skipped as duplicates."""
    names = ("tsmetrics_consumer_batches_stored_total", "tsmetrics_consumer_duplicates_total")
    return sum(_counter(port, name) for port in stack.metric_ports for name in names)


def _send_everything(stack: Stack, rng: random.Random) -> list[tuple[str, bytes, int]]:
    queued, posted = _batches(120, rng), _batches(40, rng)
    with Producer(rabbit.BROKER_URL, stack.queue) as producer:
        for batch_id, body, _ in queued + rng.sample(queued, 20):  # 20 published twice
            producer.publish_body(body, batch_id)
    for index, (key, body, size) in enumerate(posted):
        assert _post(stack.apis[index % 2], body, key)["stored"] == size
    for index, (key, body, _) in enumerate(posted[:10]):  # retried on the other instance
        assert _post(stack.apis[(index + 1) % 2], body, key)["duplicate"] is True
    return queued + posted


def test_two_apis_and_two_consumers_store_everything_exactly_once(stack, db):
    batches = _send_everything(stack, random.Random(3))
    expected = sum(size for _, _, size in batches)

    def stored() -> int:
        return db.execute("SELECT count(*) FROM samples").fetchone()[0]

    # Every published message handled (120 stored, 20 duplicates): nothing is left to double.
    wait_for(lambda: _handled(stack) >= 140, 60, "140 messages handled by the consumers")
    assert rabbit.waiting_in(stack.queue) == 0
    assert stored() == expected
    ids = db.execute("SELECT batch_id, samples FROM ingested_batches").fetchall()
    assert sorted(ids) == sorted((batch_id, size) for batch_id, _, size in batches)
    assert (
        db.execute("SELECT sum(sample_count) FROM series WHERE variant = -1").fetchone()[0]
        == expected
    )
    per_day = "SELECT sum(n) FROM rollups WHERE bucket_seconds = 86400 AND variant = -1"
    assert db.execute(per_day).fetchone()[0] == expected
    stored_by = [_counter(p, "tsmetrics_consumer_batches_stored_total") for p in stack.metric_ports]
    skipped = [_counter(p, "tsmetrics_consumer_duplicates_total") for p in stack.metric_ports]
    assert sum(stored_by) == 120 and sum(skipped) == 20
    assert min(stored_by) > 0, "both consumers took a share of the queue"


def test_either_instance_answers_the_same_and_sees_the_others_writes(stack):
    _send_everything(stack, random.Random(4))
    start = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = f"/metrics?abTestName=feature_a&metricName=response_time&granularity=1m&start={start}"
    wait_for(lambda: _handled(stack) >= 140, 60, "the consumers' flushes")
    answers = [_get(api.url + path) for api in stack.apis for _ in range(2)]
    assert len(set(answers)) == 1 and json.loads(answers[0])["count"] > 0
    late = {"metric": "response_time", "value": 123456.0, "time": time.time() - 1500}
    body = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": [late]})
    _post(stack.apis[0], body, new_batch_id())
    points = json.loads(_get(stack.apis[1].url + path))["datapoints"]
    assert max(point["h"] for point in points) == 123456.0
