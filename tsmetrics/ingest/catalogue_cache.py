"""The names a batch may use, cached: A/B tests with their variants, and metrics.

Both ingestion paths validate against this cache instead of asking the database
for every batch. A batch naming something the cache does not know makes it
read the catalogue's version stamp (one row, migration 0011), as of a moment
after the batch arrived, and reload only when the stamp moved: an A/B test
created before its first batch is never refused as unknown, and a flood of
unknown names costs a stamp read each, never a reload.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from tsmetrics.store import catalogue
from tsmetrics.store.catalogue_version import read_catalogue_version

# After a failed check, the TTL path keeps the stale catalogue this long before
# trying again, so an outage does not make every batch wait on the database.
_RETRY_AFTER_FAILURE = 1.0


@dataclass(frozen=True)
class Catalogue:
    """The names a batch may use: A/B test name to (id, variants), metric name to id.

    And each metric's accepted value range by id (migration 0010); a metric
    missing from `value_ranges` accepts catalogue.DEFAULT_VALUE_RANGE.
    """

    abtests: dict[str, tuple[int, tuple[str, ...]]]
    metrics: dict[str, int]
    version: int = 0  # the stamp it was loaded at; it holds at least every change up to it
    value_ranges: dict[int, tuple[float, float]] = field(default_factory=dict)

    def value_range(self, metric_id: int) -> tuple[float, float]:
        """The [min, max] a sample of this metric may have."""
        return self.value_ranges.get(metric_id, catalogue.DEFAULT_VALUE_RANGE)


def load_catalogue(conn: psycopg.Connection) -> Catalogue:
    """Every A/B test and metric name with its id, and the stamp they are at least as new as."""
    version = read_catalogue_version(conn)  # first: the lists read next are newer still
    metrics = catalogue.list_metrics(conn)
    return Catalogue(
        abtests={t.name: (t.id, tuple(t.variants)) for t in catalogue.list_abtests(conn)},
        metrics={m.name: m.id for m in metrics},
        version=version,
        value_ranges={m.id: (m.value_min, m.value_max) for m in metrics},
    )


class CatalogueCache:
    """The catalogue, checked against the stamp after `ttl` s and when a batch names the unknown."""

    def __init__(
        self,
        load: Callable[[], Catalogue],
        version: Callable[[], int],
        *,
        ttl: float = 10.0,
    ) -> None:
        self._load, self._version, self.ttl = load, version, ttl
        self._catalogue: Catalogue | None = None
        self._checked_at = self._failed_at = -math.inf
        self._lock = threading.Lock()
        self.loads = 0  # full loads so far, for tests and telemetry

    def current(self) -> Catalogue:
        """The cached catalogue, checked first when the last check is older than the TTL."""
        now = time.monotonic()
        stale = now - self._checked_at > self.ttl and now - self._failed_at > _RETRY_AFTER_FAILURE
        if self._catalogue is None or stale:
            try:
                return self.as_of(now)
            except psycopg.Error:
                self._failed_at = time.monotonic()
                # A stale catalogue still knows every name it knew: keep going
                # while the database is away, unless there is none at all.
                if self._catalogue is None:
                    raise
        return self._catalogue

    def as_of(self, moment: float) -> Catalogue:
        """A catalogue holding every change committed before `moment` (time.monotonic()).

        Checks made since `moment` answer at once; otherwise the stamp is read,
        and the catalogue reloaded when it moved. Database errors propagate.
        """
        with self._lock:
            if self._catalogue is not None and self._checked_at >= moment:
                return self._catalogue
            started = time.monotonic()
            if self._catalogue is None or self._version() != self._catalogue.version:
                self._catalogue = self._load()
                self.loads += 1
            self._checked_at = started
            return self._catalogue
