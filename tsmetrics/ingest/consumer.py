"""`tsmetrics consume`: sample batches from RabbitMQ into PostgreSQL, each stored exactly once.

Messages are validated as they arrive and written in flushes. One transaction per
flush records the batch ids (AMQP message_id) and stores the samples of the new
ones with their rollups; only after the commit are the flush's messages
acknowledged, all at once (with several writers, once every earlier flush has
committed too: tsmetrics.ingest.in_flight). A crash or a lost connection before that ack means
redelivery, and a redelivered batch finds its id recorded and stores nothing.
Refused messages go to the dead-letter queue with the reason in a header.
The database side runs in tsmetrics.ingest.writer's threads, overlapping with this one.
"""

from __future__ import annotations

import functools
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import pika
import psycopg

from tsmetrics.db import autocommit_connection, first_line, redact_url
from tsmetrics.ingest import broker
from tsmetrics.ingest.catalogue_cache import Catalogue, CatalogueCache, load_catalogue
from tsmetrics.ingest.deliveries import Delivery, Flush, validate
from tsmetrics.ingest.in_flight import InFlight
from tsmetrics.ingest.limits import Limits
from tsmetrics.ingest.writer import BatchWriter
from tsmetrics.store.batches import batch_ids_ready
from tsmetrics.store.catalogue_version import read_catalogue_version

log = logging.getLogger(__name__)
LOG_EVERY = 5.0


class SchemaMissing(RuntimeError):
    """The database lacks the ingestion tables; `tsmetrics migrate` has not run."""


class _Abandoned(Exception):
    """Stopping while the database is down: leave the flush to the next consumer."""


@dataclass
class Stats:
    """Counts for the progress lines and the summary."""

    samples: int = 0
    batches: int = 0
    duplicates: int = 0
    dead: int = 0
    started: float = field(default_factory=time.monotonic)
    _mark: tuple[float, int] | None = None

    def line(self) -> str:
        """Totals with the rate since the previous line and since the start."""
        now = time.monotonic()
        since, counted = self._mark or (self.started, 0)
        recent = (self.samples - counted) / max(now - since, 1e-9)
        overall = self.samples / max(now - self.started, 1e-9)
        self._mark = (now, self.samples)
        return (
            f"stored {self.samples:,} samples in {self.batches:,} batches "
            f"({recent:,.0f}/s now, {overall:,.0f}/s overall); "
            f"{self.duplicates:,} duplicates skipped, {self.dead:,} dead-lettered"
        )


class Consumer:
    """Reads the queue until stopped; run() returns the process exit code."""

    def __init__(self, settings: dict[str, Any], *, name: str = "tsmetrics-consumer") -> None:
        self.settings, self.name = settings, name
        self.topology = broker.Topology(settings["QUEUE"])
        self.limits = Limits.from_settings(settings)
        self.prefetch = max(1, settings["CONSUMER_PREFETCH"])
        self.batch_samples = max(1, settings["CONSUMER_BATCH_SAMPLES"])
        self.linger = settings["CONSUMER_LINGER_MS"] / 1000
        self.writers = max(1, settings["CONSUMER_WRITERS"])
        # Loads are rare (TTL, unknown names): a short connection each time keeps
        # the two threads from ever sharing one.
        self.catalogue = CatalogueCache(self._load_catalogue, self._catalogue_version)
        self.stats = Stats()
        self.stopping = False
        self.pending: list[Delivery] = []
        self.pending_samples = 0
        self.first_pending_at = 0.0
        self.in_flight = InFlight()
        self.generation = 0
        self.connection: pika.BlockingConnection | None = None
        self._logged_at = time.monotonic()

    def stop(self, *_args: Any) -> None:
        """Finish the flushes in flight, acknowledge them, then leave (SIGTERM, SIGINT)."""
        self.stopping = True

    def run(self) -> int:
        """Consume until stopped, reconnecting to broker and database with backoff."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self._wait_for_schema()
        writer = BatchWriter(
            self.settings,
            self.catalogue,
            self.limits,
            lambda: self.stopping,
            self.name,
            threads=self.writers,
        )
        backoff = broker.Backoff()
        try:
            while not self.stopping:
                try:
                    self._consume(writer, backoff)
                except _Abandoned:
                    break
                except broker.BROKER_ERRORS as error:
                    self._reconnect_later(error, backoff)
                finally:
                    self._close_broker()
        finally:
            writer.close()
        log.info("consumer stopped: %s", self.stats.line())
        return 0

    def _consume(self, writer: BatchWriter, backoff: broker.Backoff) -> None:
        self.connection = broker.connect(self.settings["BROKER_URL"], name=self.name)
        self.channel = self.connection.channel()
        self.topology.declare(self.channel)
        self.channel.basic_qos(prefetch_count=self.prefetch)
        self.dead_channel = self.connection.channel()
        self.dead_channel.confirm_delivery()
        tag = self.channel.basic_consume(self.topology.queue, self._on_message)
        log.info(
            "consuming %s from %s into %s (prefetch %d, flush at %d samples or %d ms, %d writers)",
            self.topology.queue,
            redact_url(self.settings["BROKER_URL"]),
            redact_url(self.settings["DATABASE_URL"]),
            self.prefetch,
            self.batch_samples,
            self.linger * 1000,
            self.writers,
        )
        backoff.reset()
        while not self.stopping:
            self.connection.process_data_events(time_limit=self._wait())
            if self._writer_free() and self._flush_due():
                self._hand_off(writer)
            self._log_progress()
        self.channel.basic_cancel(tag)
        # Finish what is in flight and what is held, then leave.
        while self.in_flight or self.pending:
            if self.pending and self._writer_free():
                self._hand_off(writer)
            self.connection.process_data_events(time_limit=0.1)

    def _reconnect_later(self, error: BaseException, backoff: broker.Backoff) -> None:
        delay = backoff.next()
        log.warning(
            "broker connection lost (%s); %d unacknowledged messages will be redelivered; "
            "reconnecting in %.1f s",
            type(error).__name__,
            len(self.pending) + len(self.in_flight.deliveries),
            delay,
        )
        # Whatever the writer still does for the old connection is redelivered
        # anyway; its batch ids make that harmless.
        self.generation += 1
        self.in_flight.clear()
        self.pending.clear()
        self.pending_samples = 0
        broker.sleep_unless(lambda: self.stopping, delay)

    def _writer_free(self) -> bool:
        return len(self.in_flight) < self.writers

    def _wait(self) -> float:
        if not self.pending or not self._writer_free():
            return 0.5  # the writer's callback wakes us sooner
        return max(0.0, self.first_pending_at + self.linger - time.monotonic())

    def _flush_due(self) -> bool:
        return bool(self.pending) and (
            self.pending_samples >= self.batch_samples
            or len(self.pending) >= self.prefetch
            or time.monotonic() - self.first_pending_at >= self.linger
        )

    def _on_message(self, _channel, method, properties, body: bytes) -> None:
        delivery = Delivery(method.delivery_tag, properties.message_id, body, properties)
        if not self.pending:
            self.first_pending_at = time.monotonic()
        self.pending.append(delivery)
        try:
            reason = validate(delivery, self.catalogue, self.limits)
        except psycopg.Error as error:
            # The catalogue could not be loaded: the writer decides, retrying
            # the database with backoff.
            log.debug("catalogue unavailable (%s); validating at write", first_line(error))
            return
        if reason:
            self._refuse(delivery, reason)
        else:
            self.pending_samples += len(delivery.samples)

    def _refuse(self, delivery: Delivery, reason: str) -> None:
        broker.dead_letter(
            self.dead_channel, self.topology, delivery.body, delivery.properties, reason
        )
        delivery.refused = True
        self.stats.dead += 1
        log.warning("dead-lettered message %s: %s", delivery.batch_id or "(no id)", reason)

    def _hand_off(self, writer: BatchWriter) -> None:
        flush = Flush(self.pending, self.generation)
        self.pending, self.pending_samples = [], 0
        self.in_flight.add(flush)
        connection = self.connection

        def done(written: Flush) -> None:
            # Runs in the writer's thread: hand the result to this one.
            try:
                connection.add_callback_threadsafe(functools.partial(self._finished, written))
            except broker.BROKER_ERRORS:
                log.debug("connection gone; the flush's messages will be redelivered")

        writer.submit(flush, done)

    def _finished(self, flush: Flush) -> None:
        if flush.generation != self.generation:
            return
        if flush.abandoned:
            raise _Abandoned
        # Dead-lettered now, acknowledged with the rest once the flushes before commit.
        for delivery, reason in flush.refusals:
            self._refuse(delivery, reason)
        tag = self.in_flight.settle(flush)
        if tag is not None:
            self.channel.basic_ack(tag, multiple=True)
        self.stats.samples += flush.samples
        self.stats.batches += flush.batches
        self.stats.duplicates += flush.duplicates

    def _log_progress(self) -> None:
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            self._logged_at = now
            if self.stats.samples or self.stats.dead or self.stats.duplicates:
                log.info("%s", self.stats.line())

    def _load_catalogue(self) -> Catalogue:
        with autocommit_connection(self.settings, self.name) as conn:
            return load_catalogue(conn)

    def _catalogue_version(self) -> int:
        with autocommit_connection(self.settings, self.name) as conn:
            return read_catalogue_version(conn)

    def _wait_for_schema(self) -> None:
        backoff = broker.Backoff()
        while not self.stopping:
            try:
                with autocommit_connection(self.settings, self.name) as conn:
                    ready = batch_ids_ready(conn)
            except psycopg.Error as error:
                delay = backoff.next()
                log.warning(
                    "database unavailable (%s); retrying in %.1f s", first_line(error), delay
                )
                broker.sleep_unless(lambda: self.stopping, delay)
                continue
            if not ready:
                raise SchemaMissing(
                    "The database has no ingested_batches table: run `tsmetrics migrate` first."
                )
            return

    def _close_broker(self) -> None:
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except broker.BROKER_ERRORS:
                log.debug("broker connection was already gone")
        self.connection = None
