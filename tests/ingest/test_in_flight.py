"""Acknowledging flushes that several writers commit in any order; retrying a rolled-back one."""

from __future__ import annotations

from types import SimpleNamespace

import pika
import psycopg

from tsmetrics.ingest.deliveries import Delivery, Flush
from tsmetrics.ingest.in_flight import InFlight
from tsmetrics.ingest.writer import _WriterThread


def flush_of(*tags: int) -> Flush:
    """A flush holding deliveries with these tags."""
    return Flush([Delivery(tag, f"b{tag}", b"", pika.BasicProperties()) for tag in tags], 0)


def test_a_flush_is_acknowledged_only_once_every_earlier_one_committed():
    in_flight = InFlight()
    first, second, third = flush_of(1, 2), flush_of(3, 4, 5), flush_of(6)
    for flush in (first, second, third):
        in_flight.add(flush)
    assert [d.tag for d in in_flight.deliveries] == [1, 2, 3, 4, 5, 6]
    assert in_flight.settle(second) is None  # 1 and 2 are not stored yet
    assert len(in_flight) == 3
    assert in_flight.settle(first) == 5  # both, with one multiple ack
    assert [d.tag for d in in_flight.deliveries] == [6]
    assert in_flight.settle(third) == 6
    assert len(in_flight) == 0


def test_a_flush_rolled_back_by_a_deadlock_is_written_again(monkeypatch):
    # Only the write loop runs: its pool need only say whether to stop.
    writer = _WriterThread(SimpleNamespace(stopped=lambda: False))
    attempts = []

    def store(flush: Flush) -> None:
        attempts.append(flush.samples)
        flush.samples += 10
        if len(attempts) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(writer, "_store", store)
    flush = flush_of(1)
    writer._write(flush)
    # The second attempt starts from nothing: the first one's counts were rolled back.
    assert attempts == [0, 0]
    assert flush.samples == 10
    assert not flush.abandoned
