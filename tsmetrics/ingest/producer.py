"""A small publisher for services that emit samples: batching, message ids, confirms, reconnects.

    with Producer("amqp://guest:guest@127.0.0.1:5672/%2F") as producer:
        producer.add("feature_a", "treatment", "response_time", 93.5)
    # leaving the block publishes what is buffered

Each batch gets a fresh message_id and is published again under the same id
after a lost connection, so the consumer stores it once. One Producer per
thread: pika's blocking connection is not thread-safe.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any

import orjson
import pika

from tsmetrics.ingest import broker
from tsmetrics.ingest.batch_format import MAX_SAMPLES

log = logging.getLogger(__name__)
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class PublishFailed(RuntimeError):
    """The broker could not take a batch after every retry; the batch was not sent."""


def encode_batch(abtest: str, variant: str, samples: list[dict[str, Any]]) -> bytes:
    """The batch format as JSON bytes (see docs/ingestion.md)."""
    return orjson.dumps({"abTest": abtest, "variant": variant, "samples": samples})


def new_batch_id() -> str:
    """A fresh, unique batch id."""
    return uuid.uuid4().hex


class Producer:
    """Publishes sample batches to the queue with publisher confirms."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        queue: str = "tsmetrics.samples",
        *,
        batch_size: int = 1000,
        attempts: int = 8,
        name: str = "tsmetrics-producer",
    ) -> None:
        if not 0 < batch_size <= MAX_SAMPLES:
            raise ValueError(f"batch_size must be 1 to {MAX_SAMPLES}")
        self.url, self.topology, self.name = url, broker.Topology(queue), name
        self.batch_size, self.attempts = batch_size, attempts
        self._buffers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self.published_batches = 0
        self.published_samples = 0

    def add(
        self,
        abtest: str,
        variant: str,
        metric: str,
        value: float,
        when: float | datetime | None = None,
    ) -> None:
        """Buffer one sample (time: epoch seconds, an aware datetime, or now); publish when full."""
        if when is None:
            when = time.time()
        elif isinstance(when, datetime):
            when = when.timestamp()
        buffer = self._buffers.setdefault((abtest, variant), [])
        buffer.append({"metric": metric, "value": value, "time": when})
        if len(buffer) >= self.batch_size:
            self.publish(abtest, variant, buffer)
            del self._buffers[(abtest, variant)]

    def flush(self) -> None:
        """Publish every buffered sample now."""
        for (abtest, variant), samples in list(self._buffers.items()):
            self.publish(abtest, variant, samples)
            del self._buffers[(abtest, variant)]

    def publish(
        self, abtest: str, variant: str, samples: list[dict[str, Any]], batch_id: str | None = None
    ) -> str:
        """Publish one batch (at most 10,000 samples) and wait for the broker's confirm."""
        batch_id = batch_id or new_batch_id()
        self.publish_body(encode_batch(abtest, variant, samples), batch_id)
        self.published_samples += len(samples)
        return batch_id

    def publish_body(self, body: bytes, batch_id: str) -> None:
        """Publish an encoded batch under `batch_id`, retrying with backoff on a lost connection."""
        properties = pika.BasicProperties(
            message_id=batch_id,
            content_type=broker.JSON,
            delivery_mode=pika.DeliveryMode.Persistent,
            timestamp=int(time.time()),
            app_id=self.name,
        )
        backoff = broker.Backoff()
        for attempt in range(1, self.attempts + 1):
            try:
                channel = self._ensure_channel()
                # mandatory: a missing queue is an error, not a silent drop.
                channel.basic_publish(
                    "", self.topology.queue, body, properties=properties, mandatory=True
                )
                self.published_batches += 1
                return
            except broker.BROKER_ERRORS as error:
                self._drop_connection()
                if attempt == self.attempts:
                    raise PublishFailed(
                        f"batch {batch_id} not published after {attempt} attempts: {error!r}"
                    ) from error
                delay = backoff.next()
                log.warning("publish failed (%r); retrying in %.1f s", error, delay)
                time.sleep(delay)

    def close(self) -> None:
        """Close the connection (buffered samples are not sent; call flush() first)."""
        self._drop_connection()

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()

    def _ensure_channel(self):
        if self._channel is None or not self._channel.is_open:
            self._drop_connection()
            self._connection = broker.connect(self.url, name=self.name)
            channel = self._connection.channel()
            self.topology.declare(channel)
            channel.confirm_delivery()
            self._channel = channel
        return self._channel

    def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except broker.BROKER_ERRORS:
                log.debug("connection was already gone")
