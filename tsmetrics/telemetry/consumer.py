"""`tsmetrics consume`'s own metrics and probes, served on TSMETRICS_METRICS_BIND.

The consumer is a process of its own, so it cannot add to the API's metrics:
it serves /internal/prometheus, /healthz and /readyz itself, from a small HTTP
server in a daemon thread. Counts are read from the consumer's stats when
Prometheus scrapes; queue depths come from a poller with a broker connection
of its own (a pika connection must not be shared between threads).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pika
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from tsmetrics.ingest import broker

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


class QueueDepths(threading.Thread):
    """Messages waiting in the work queue and the dead-letter queue, polled every few seconds."""

    def __init__(self, url: str, topology: broker.Topology) -> None:
        super().__init__(daemon=True, name="queue-depths")
        self.url, self.topology = url, topology
        self.depths: dict[str, int] = {}

    def run(self) -> None:
        """Poll until the process ends; a broker outage just leaves the gauges out."""
        connection = None
        while True:
            try:
                if connection is None or not connection.is_open:
                    connection = broker.connect(self.url, name="tsmetrics-consumer-metrics")
                channel = connection.channel()
                for role, queue in (
                    ("work", self.topology.queue),
                    ("dead", self.topology.dead_letter_queue),
                ):
                    declared = channel.queue_declare(queue, passive=True)
                    self.depths[role] = declared.method.message_count
                channel.close()
            except (*broker.BROKER_ERRORS, pika.exceptions.ChannelClosed):
                self.depths = {}
                connection = None
            time.sleep(POLL_SECONDS)


class ConsumerCollector:
    """Throughput, lag and dead letters of one Consumer, read when scraped."""

    def __init__(self, consumer: Any, depths: QueueDepths) -> None:
        self.consumer, self.depths = consumer, depths

    def collect(self):
        """The metric families (prometheus_client's collector protocol)."""
        stats = self.consumer.stats
        for name, value, what in (
            ("samples_stored", stats.samples, "Samples stored (rate() is the throughput)."),
            ("batches_stored", stats.batches, "Batches stored."),
            ("duplicates", stats.duplicates, "Redelivered batches skipped: stored before."),
            ("dead_lettered", stats.dead, "Messages refused to the dead-letter queue."),
        ):
            yield CounterMetricFamily(f"tsmetrics_consumer_{name}", what, value=value)
        held = self._held()
        yield GaugeMetricFamily(
            "tsmetrics_consumer_unacknowledged_messages",
            "Messages this consumer holds, not yet stored and acknowledged.",
            value=len(held),
        )
        stamps = [d.properties.timestamp for d in held if d.properties.timestamp]
        yield GaugeMetricFamily(
            "tsmetrics_consumer_oldest_unacknowledged_seconds",
            "Age of the oldest message held, since it was published (0: none held).",
            value=max(0.0, time.time() - min(stamps)) if stamps else 0.0,
        )
        depth = GaugeMetricFamily(
            "tsmetrics_consumer_queue_messages",
            "Messages ready in the work queue (the lag) and in the dead-letter queue.",
            labels=["queue"],
        )
        for role, count in dict(self.depths.depths).items():
            depth.add_metric([role], count)
        yield depth
        yield GaugeMetricFamily(
            "tsmetrics_consumer_connected", "1 while connected to the broker.", value=ready(self)
        )

    def _held(self) -> list:
        # Copies: the consumer's thread changes these while we read.
        pending = list(getattr(self.consumer, "pending", []))
        in_flight = getattr(self.consumer, "in_flight", None)
        return pending + list(in_flight.deliveries if in_flight is not None else [])


def ready(collector: ConsumerCollector) -> int:
    """1 when the consumer holds an open broker connection."""
    connection = getattr(collector.consumer, "connection", None)
    return int(connection is not None and connection.is_open)


def wsgi_app(collector: ConsumerCollector, registry: CollectorRegistry):
    """/internal/prometheus, /healthz (alive) and /readyz (connected to the broker)."""

    def app(environ: dict, start_response) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/internal/prometheus":
            status, body, kind = "200 OK", generate_latest(registry), CONTENT_TYPE_LATEST
        elif path == "/healthz":
            alive = threading.main_thread().is_alive()
            status = "200 OK" if alive else "503 Service Unavailable"
            body, kind = b'{"status": "alive"}', "application/json"
        elif path == "/readyz":
            connected = bool(ready(collector))
            status = "200 OK" if connected else "503 Service Unavailable"
            body, kind = f'{{"connected": {connected}}}'.lower().encode(), "application/json"
        else:
            status, body, kind = "404 Not Found", b"", "text/plain"
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_args: Any) -> None:
        """Scrapes every few seconds would drown the consumer's own log."""


def serve(consumer: Any, settings: dict[str, Any]) -> WSGIServer:
    """Start the metrics server for `consumer` in a daemon thread; return it."""
    host, _, port = settings["METRICS_BIND"].rpartition(":")
    host = host or "127.0.0.1"  # a container names its interface: 0.0.0.0:9464
    depths = QueueDepths(settings["BROKER_URL"], consumer.topology)
    depths.start()
    collector = ConsumerCollector(consumer, depths)
    registry = CollectorRegistry()
    registry.register(collector)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    server = make_server(host, int(port), wsgi_app(collector, registry), handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics-http").start()
    log.info("consumer metrics on http://%s:%s/internal/prometheus", host, server.server_port)
    return server
