"""RabbitMQ plumbing shared by the consumer and the producer: topology, connections, backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pika
import pika.exceptions

REASON_HEADER = "x-tsmetrics-reason"
QUEUE_HEADER = "x-tsmetrics-queue"
# After this many deliveries the broker dead-letters a message itself: the last
# guard against a message that crashes every consumer that reads it. Redelivery
# after a crash or reconnect counts, so it is far above what outages cause.
DELIVERY_LIMIT = 50
# What a lost or refused broker connection looks like to pika's blocking adapter.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
)
JSON = "application/json"


@dataclass(frozen=True)
class Topology:
    """The work queue and where refused messages go."""

    queue: str

    @property
    def dead_letter_exchange(self) -> str:
        """Fanout exchange that receives refused messages."""
        return f"{self.queue}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        """Durable queue where refused messages wait for a person."""
        return f"{self.queue}.dead"

    def declare(self, channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
        """Declare the exchange and both queues; idempotent, so every process does it at start."""
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
        channel.queue_declare(
            self.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange)
        channel.queue_declare(
            self.queue,
            durable=True,
            arguments={
                # Replicated and fsynced before confirms: no sample lost with a broker node.
                "x-queue-type": "quorum",
                "x-dead-letter-exchange": self.dead_letter_exchange,
                "x-delivery-limit": DELIVERY_LIMIT,
            },
        )


def connect(url: str, *, name: str) -> pika.BlockingConnection:
    """A blocking connection named `name` in the broker's connection list."""
    parameters = pika.URLParameters(url)
    parameters.client_properties = {"connection_name": name}
    if parameters.blocked_connection_timeout is None:
        # A broker short of memory or disk blocks publishers; fail and retry
        # rather than hang forever.
        parameters.blocked_connection_timeout = 60
    return pika.BlockingConnection(parameters)


def dead_letter(
    channel: pika.adapters.blocking_connection.BlockingChannel,
    topology: Topology,
    body: bytes,
    properties: pika.BasicProperties,
    reason: str,
) -> None:
    """Publish a refused message to the dead-letter exchange with its reason in a header.

    The channel is in confirm mode, so this returns once the broker holds the copy:
    only then may the caller acknowledge the original.
    """
    headers = dict(properties.headers or {})
    # A header must be valid UTF-8; a reason quotes input, which may not be.
    headers[REASON_HEADER] = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    headers[QUEUE_HEADER] = topology.queue
    channel.basic_publish(
        topology.dead_letter_exchange,
        "",
        body,
        pika.BasicProperties(
            message_id=properties.message_id,
            content_type=properties.content_type,
            timestamp=properties.timestamp,
            app_id=properties.app_id,
            headers=headers,
            delivery_mode=pika.DeliveryMode.Persistent,
        ),
    )


class Backoff:
    """Exponential waits with jitter, capped: 0.2 s, 0.4 s, ... up to `cap`."""

    def __init__(self, first: float = 0.2, cap: float = 10.0) -> None:
        self.first, self.cap = first, cap
        self.attempt = 0

    def next(self) -> float:
        """Seconds to wait before the next attempt."""
        delay = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        # Jitter keeps many clients from reconnecting in lockstep after an outage.
        return delay * random.uniform(0.75, 1.0)  # noqa: S311 - not cryptographic

    def reset(self) -> None:
        """Start again from the first wait (after a success)."""
        self.attempt = 0


def sleep_unless(stopped: Callable[[], bool], seconds: float, step: float = 0.1) -> None:
    """Sleep up to `seconds`, waking early when `stopped()` turns true (a signal arrived)."""
    deadline = time.monotonic() + seconds
    while not stopped() and time.monotonic() < deadline:
        time.sleep(min(step, max(0.0, deadline - time.monotonic())))
