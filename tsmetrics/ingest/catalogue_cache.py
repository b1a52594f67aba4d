"""The names a batch may use, cached: A/B tests with their variants, and metrics.

Both ingestion paths validate against this cache instead of asking the database
for every batch; a name it does not know makes it reload once before refusing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from tsmetrics.store import catalogue


@dataclass(frozen=True)
class Catalogue:
    """The names a batch may use: A/B test name to (id, variants), metric name to id."""

    abtests: dict[str, tuple[int, tuple[str, ...]]]
    metrics: dict[str, int]


def load_catalogue(conn: psycopg.Connection) -> Catalogue:
    """Every A/B test and metric name with its id."""
    return Catalogue(
        abtests={t.name: (t.id, tuple(t.variants)) for t in catalogue.list_abtests(conn)},
        metrics={m.name: m.id for m in catalogue.list_metrics(conn)},
    )


class CatalogueCache:
    """The catalogue, reloaded after `ttl` seconds or when a batch names something unknown."""

    def __init__(
        self, load: Callable[[], Catalogue], *, ttl: float = 10.0, min_interval: float = 1.0
    ) -> None:
        self._load, self.ttl, self.min_interval = load, ttl, min_interval
        self._catalogue: Catalogue | None = None
        self._loaded_at = self._tried_at = -math.inf
        self._lock = threading.Lock()

    def current(self) -> Catalogue:
        """The cached catalogue, reloaded first when it is older than the TTL."""
        if self._catalogue is None or time.monotonic() - self._loaded_at > self.ttl:
            try:
                self.refresh()
            except psycopg.Error:
                # A stale catalogue still knows every name it knew: keep going
                # while the database is away, unless there is none at all.
                if self._catalogue is None:
                    raise
        if self._catalogue is None:
            # The last load failed under a second ago; the database is still away.
            raise psycopg.OperationalError("the catalogue could not be loaded")
        return self._catalogue

    def refresh(self) -> bool:
        """Reload now, unless tried within `min_interval` s (a flood of unknown names)."""
        with self._lock:
            if time.monotonic() - self._tried_at < self.min_interval:
                return False
            self._tried_at = time.monotonic()
            self._catalogue = self._load()
            self._loaded_at = time.monotonic()
            return True
