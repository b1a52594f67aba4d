"""tsmetrics.ingest.producer against the machine's RabbitMQ: batching, ids, confirms, reconnects."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from tests.support import rabbit
from tsmetrics.ingest import batch_format
from tsmetrics.ingest.catalogue_cache import Catalogue
from tsmetrics.ingest.producer import Producer, PublishFailed

pytestmark = pytest.mark.rabbitmq
CATALOGUE = Catalogue(
    abtests={"feature_a": (1, ("control", "treatment"))}, metrics={"response_time": 1}
)


@pytest.fixture
def topology() -> Iterator:
    """A private queue on the machine's broker."""
    rabbit.require_rabbitmq()
    with rabbit.private_queue() as topology:
        yield topology


def test_add_batches_per_test_and_variant_with_fresh_ids(topology):
    with Producer(rabbit.BROKER_URL, topology.queue, batch_size=3) as producer:
        for index in range(7):
            variant = "control" if index % 2 else "treatment"
            producer.add("feature_a", variant, "response_time", float(index), time.time())
        producer.add("feature_a", "control", "response_time", 9.5, datetime.now(UTC))
    assert (producer.published_batches, producer.published_samples) == (4, 8)
    messages = rabbit.drain(topology.queue)
    assert len({properties.message_id for properties, _ in messages}) == 4
    assert {properties.content_type for properties, _ in messages} == {"application/json"}
    assert all(properties.delivery_mode == 2 for properties, _ in messages)
    parsed = [
        batch_format.parse_batch(body, CATALOGUE, batch_format.Limits(max_age_seconds=math.inf))
        for _, body in messages
    ]
    assert sorted(len(batch) for batch in parsed) == [1, 1, 3, 3]
    assert sorted(v for b in parsed for v in b.samples.value.tolist()) == [
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.5,
    ]  # fmt: skip


def test_declares_the_topology_it_publishes_to(topology):
    with Producer(rabbit.BROKER_URL, topology.queue) as producer:
        producer.publish("feature_a", "control", [{"metric": "m", "value": 1, "time": 0}])
    with rabbit.channel() as ch:
        assert ch.queue_declare(topology.queue, passive=True).method.message_count == 1
        assert ch.queue_declare(topology.dead_letter_queue, passive=True)


@pytest.mark.slow
def test_publishes_again_under_the_same_id_after_a_lost_connection(topology):
    proxy = rabbit.CuttableProxy()
    try:
        with Producer(proxy.url, topology.queue) as producer:
            producer.publish_body(b"{}", "first")
            proxy.cut()
            producer.publish_body(b"{}", "second")
        ids = [properties.message_id for properties, _ in rabbit.drain(topology.queue)]
        # "second" may arrive twice had its confirm been lost; here it was not sent yet.
        assert ids == ["first", "second"]
    finally:
        proxy.close()


def test_gives_up_with_a_clear_error(topology):
    producer = Producer("amqp://guest:guest@127.0.0.1:1/%2F", topology.queue, attempts=2)
    with pytest.raises(PublishFailed, match="not published after 2 attempts"):
        producer.publish_body(orjson.dumps({}), "lost")
    producer.close()


def test_batch_size_is_bounded():
    with pytest.raises(ValueError):
        Producer(batch_size=10_001)
