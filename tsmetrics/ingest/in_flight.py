"""The consumer's flushes being written, and how far their messages may be acknowledged.

Several writers commit flushes in any order, but a multiple ack covers every
earlier delivery tag, and a flush holds the next run of tags on the channel. So
a flush is acknowledged only once it and every flush handed off before it have
committed. A committed flush behind a slower one is merely acknowledged late: a
crash meanwhile means redelivery, and its batch ids make that harmless.
"""

from __future__ import annotations

from tsmetrics.ingest.deliveries import Delivery, Flush


class InFlight:
    """Flushes handed to the writers and not yet acknowledged, oldest first."""

    def __init__(self) -> None:
        self._flushes: list[Flush] = []

    def __len__(self) -> int:
        return len(self._flushes)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every message held by these flushes (a copy: metrics read it from another thread)."""
        return [delivery for flush in list(self._flushes) for delivery in flush.deliveries]

    def add(self, flush: Flush) -> None:
        """A flush just handed off: its tags follow those of every flush before it."""
        self._flushes.append(flush)

    def clear(self) -> None:
        """Forget them all: the broker connection is gone and will redeliver."""
        self._flushes = []

    def settle(self, flush: Flush) -> int | None:
        """Mark `flush` committed; return the tag up to which all may now be acknowledged."""
        flush.committed = True
        tag = None
        while self._flushes and self._flushes[0].committed:
            tag = self._flushes.pop(0).deliveries[-1].tag
        return tag
