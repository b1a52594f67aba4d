"""The consumer's database side: writes each flush exactly once, in a thread of its own.

pika's connection is not thread-safe, so the consumer's main thread keeps every
broker call (receive, dead-letter, ack) and these threads every database call.
While they write, the main thread receives and validates the next flush:
broker, parsing and database work overlap. Several threads, each with a
connection of its own, let PostgreSQL write two flushes at once (its write is
the critical path). When a flush is written, `done` is called in its thread,
and the consumer hands the result back to its own thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pika
import psycopg

from tsmetrics.ingest import broker
from tsmetrics.ingest.batch_format import (
    MAX_BATCH_ID_LENGTH,
    MISSING_ID,
    BatchRejected,
    Limits,
    parse_with_refresh,
)
from tsmetrics.ingest.catalogue_cache import CatalogueCache
from tsmetrics.store.batches import prune_batch_ids, store_batches
from tsmetrics.store.samples import SampleColumns

log = logging.getLogger("tsmetrics.ingest.consumer")
PRUNE_EVERY = 600.0
# Samples older than MAX_SAMPLE_AGE are refused, so an id may be forgotten once
# every sample its batch could hold is too old: a redelivery after that is
# refused as too old rather than stored twice. The hour covers clock skew.
PRUNE_MARGIN = 3600
# Data errors are the batch's fault, not the database's: retrying cannot help.
DATA_ERRORS = (psycopg.DataError, psycopg.IntegrityError)


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


def first_line(error: BaseException) -> str:
    """The first line of an error's message, for a log line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class BatchWriter:
    """Threads that write flushes as they come, retrying while the database is away."""

    def __init__(
        self,
        settings: dict[str, Any],
        cache: CatalogueCache,
        limits: Limits,
        stopped: Callable[[], bool],
        name: str,
        threads: int = 1,
    ) -> None:
        # Shared by the threads, which read them from here.
        self.settings, self.cache, self.limits, self.stopped = settings, cache, limits, stopped
        self.name = name
        self._inbox: queue.Queue = queue.Queue()
        self._prune_lock = threading.Lock()
        self._pruned_at = time.monotonic()
        self._threads = [
            threading.Thread(
                target=_WriterThread(self).run,
                name=f"batch-writer-{index}",
                daemon=True,
            )
            for index in range(max(1, threads))
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, flush: Flush, done: Callable[[Flush], None]) -> None:
        """Write `flush` in the next free thread, then call `done(flush)` (in that thread)."""
        self._inbox.put((flush, done))

    def close(self, timeout: float = 30) -> None:
        """Finish what was submitted, then stop the threads."""
        for _ in self._threads:
            self._inbox.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def next_item(self) -> tuple[Flush, Callable[[Flush], None]] | None:
        """The next flush to write, or None once closed (called by the threads)."""
        return self._inbox.get()

    def prune_due(self) -> bool:
        """True for one thread every PRUNE_EVERY seconds: pruning once is enough."""
        with self._prune_lock:
            if time.monotonic() - self._pruned_at < PRUNE_EVERY:
                return False
            self._pruned_at = time.monotonic()
            return True


class _WriterThread:
    """One writer: its own database connection, flushes from the shared inbox."""

    def __init__(self, pool: BatchWriter) -> None:
        self.pool = pool
        self._db: psycopg.Connection | None = None

    def run(self) -> None:
        while (item := self.pool.next_item()) is not None:
            flush, done = item
            self._write(flush)
            done(flush)
            if self.pool.prune_due():
                self._prune()
        self._close_db()

    def _write(self, flush: Flush) -> None:
        backoff = broker.Backoff()
        while True:
            try:
                self._store(flush)
                return
            except psycopg.errors.TransactionRollback as error:
                # A deadlock or serialization failure with another writer: the
                # transaction was rolled back whole, so writing it again is safe.
                log.info("flush rolled back (%s); writing it again", first_line(error))
                _forget_outcome(flush)
            except psycopg.Error as error:
                self._close_db()
                _forget_outcome(flush)
                if self.pool.stopped():
                    log.warning(
                        "stopping with the database down; %d messages return to the queue",
                        len(flush.deliveries),
                    )
                    flush.abandoned = True
                    return
                delay = backoff.next()
                log.warning(
                    "database unavailable (%s); retrying %d held messages in %.1f s",
                    first_line(error),
                    len(flush.deliveries),
                    delay,
                )
                broker.sleep_unless(self.pool.stopped, delay)

    def _store(self, flush: Flush) -> None:
        for delivery in flush.deliveries:
            if delivery.samples is None and not delivery.refused:
                reason = validate(delivery, self.pool.cache, self.pool.limits)
                if reason:
                    flush.refusals.append((delivery, reason))
        refused = {id(delivery) for delivery, _ in flush.refusals}
        valid = [d for d in flush.deliveries if not d.refused and id(d) not in refused]
        if not valid:
            return
        try:
            self._store_together(flush, valid)
        except DATA_ERRORS:
            # The database refuses something that passed validation: store the
            # batches one by one and dead-letter only the culprit.
            for delivery in valid:
                try:
                    self._store_together(flush, [delivery])
                except DATA_ERRORS as error:
                    flush.refusals.append((delivery, f"rejected-by-database: {first_line(error)}"))

    def _store_together(self, flush: Flush, deliveries: list[Delivery]) -> None:
        db = self._connect()
        with db.transaction():
            stored = store_batches(db, [(d.batch_id, d.samples) for d in deliveries])
        for delivery, was_stored in zip(deliveries, stored, strict=True):
            if was_stored:
                flush.batches += 1
                flush.samples += len(delivery.samples)
            else:
                flush.duplicates += 1

    def _prune(self) -> None:
        limits = self.pool.limits
        horizon = int(limits.max_age_seconds + limits.max_future_seconds + PRUNE_MARGIN)
        try:
            removed = prune_batch_ids(self._connect(), horizon)
            log.info("forgot %d batch ids older than %d s", removed, horizon)
        except psycopg.Error as error:
            log.warning("could not prune batch ids (%s); trying later", first_line(error))
            self._close_db()

    def _connect(self) -> psycopg.Connection:
        if self._db is None or self._db.closed or self._db.broken:
            self._db = connect(self.pool.settings, self.pool.name)
        return self._db

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _forget_outcome(flush: Flush) -> None:
    """Clear what a rolled-back attempt counted, before the next attempt."""
    flush.refusals.clear()
    flush.samples = flush.batches = flush.duplicates = 0


def connect(settings: dict[str, Any], name: str) -> psycopg.Connection:
    """An autocommit connection for the consumer (transactions are explicit)."""
    return psycopg.connect(
        settings["DATABASE_URL"],
        autocommit=True,
        connect_timeout=settings["CONNECT_TIMEOUT"],
        application_name=name,
        # Notice a vanished server within a minute instead of hanging.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )
