"""A message as the consumer holds it, the flushes it groups messages in, and its validation.

The consumer's main thread receives and validates deliveries; the writer's
threads store flushes of them (tsmetrics.ingest.writer) and validate there the
deliveries that arrived while the catalogue could not be read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pika

from tsmetrics.ingest.batch_format import (
    MAX_BATCH_ID_LENGTH,
    MISSING_ID,
    BatchRejected,
    parse_with_refresh,
)
from tsmetrics.ingest.catalogue_cache import CatalogueCache
from tsmetrics.ingest.limits import Limits
from tsmetrics.store.samples import SampleColumns


@dataclass
class Delivery:
    """One message, held unacknowledged until its flush commits."""

    tag: int
    batch_id: str | None
    body: bytes
    properties: pika.BasicProperties
    samples: SampleColumns | None = None  # None: not validated yet (catalogue unreachable)
    refused: bool = False
    # When it came off the queue: every name created before then is known to validation.
    received_at: float = field(default_factory=time.monotonic)


@dataclass
class Flush:
    """Messages written in one transaction, and what became of them."""

    deliveries: list[Delivery]
    generation: int  # the broker connection they came on
    refusals: list[tuple[Delivery, str]] = field(default_factory=list)
    samples: int = 0
    batches: int = 0
    duplicates: int = 0
    abandoned: bool = False
    committed: bool = False  # set by the consumer's thread once the writer is done


def validate(delivery: Delivery, cache: CatalogueCache, limits: Limits) -> str | None:
    """Parse the message into `delivery.samples`; return why it is refused, if it is.

    Raises psycopg.Error when the catalogue is needed and cannot be loaded.
    """
    if not delivery.batch_id or len(delivery.batch_id) > MAX_BATCH_ID_LENGTH:
        return (
            f"{MISSING_ID}: message_id must be set, 1 to {MAX_BATCH_ID_LENGTH} characters; "
            "it is what makes redelivery safe."
        )
    try:
        delivery.samples = parse_with_refresh(
            delivery.body, cache, limits, received_at=delivery.received_at
        ).samples
    except BatchRejected as rejected:
        return rejected.reason()
    return None
