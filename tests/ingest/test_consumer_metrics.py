"""`tsmetrics consume` serves its throughput, lag and dead letters for Prometheus, and probes."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import orjson
import pytest

from tests.support import rabbit
from tests.support.services import port_open
from tests.support.waiting import wait_for
from tsmetrics.ingest.producer import Producer, new_batch_id
from tsmetrics.store import catalogue

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]  # a consumer process


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _value(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(found[1]) if found else None


def test_metrics_and_probes_of_a_running_consumer(tmp_path, db, database_url):
    rabbit.require_rabbitmq()
    catalogue.ensure_abtest(db, "feature_a", variants=["control", "treatment"], status="running")
    catalogue.ensure_metric(db, "response_time", unit="ms")
    port = _free_port()
    with rabbit.private_queue() as topology:
        consumer = rabbit.ConsumerProcess(
            tmp_path / "consumer.log",
            DATABASE_URL=database_url,
            QUEUE=topology.queue,
            CONSUMER_LINGER_MS=50,
            METRICS_BIND=f"127.0.0.1:{port}",
        ).start()
        try:
            wait_for(lambda: port_open("127.0.0.1", port), 20, "the metrics server")
            sample = {"metric": "response_time", "value": 1.5, "time": time.time() - 60}
            good = orjson.dumps({"abTest": "feature_a", "variant": "control", "samples": [sample]})
            with Producer(rabbit.BROKER_URL, topology.queue) as producer:
                for _ in range(5):
                    producer.publish_body(good, new_batch_id())
                producer.publish_body(b"not json", new_batch_id())

            def scraped() -> str:
                return _get(port, "/internal/prometheus")[1]

            wait_for(
                lambda: _value(scraped(), "tsmetrics_consumer_batches_stored_total") == 5.0,
                30,
                "five batches stored",
            )
            wait_for(
                lambda: _value(scraped(), "tsmetrics_consumer_dead_lettered_total") == 1.0,
                30,
                "the dead letter to be counted",
            )
            assert _value(scraped(), "tsmetrics_consumer_samples_stored_total") == 5.0
            wait_for(
                lambda: 'tsmetrics_consumer_queue_messages{queue="dead"} 1.0' in scraped(),
                15,
                "the dead-letter queue depth",
            )
            text = scraped()
            assert 'tsmetrics_consumer_queue_messages{queue="work"} 0.0' in text
            assert _value(text, "tsmetrics_consumer_unacknowledged_messages") == 0.0
            assert _value(text, "tsmetrics_consumer_connected") == 1.0
            assert _get(port, "/healthz")[0] == 200
            assert _get(port, "/readyz") == (200, '{"connected": true}')
            assert consumer.stop() == 0
        finally:
            consumer.close()
