"""A circuit breaker for a database: fail at once while it refuses connections.

Without it, every request during an outage waits the pool's whole timeout for
a connection that cannot come, threads pile up behind each other, and even
/readyz answers late. With it, the first failed connection attempt opens the
breaker: requests get a 503 at once, and one background probe (the half-open
state) tries a connection every `interval` seconds until one works, then
closes the breaker and has the pool replace its broken connections.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)


class DatabaseUnavailable(psycopg.OperationalError):
    """The breaker is open: the database refused the last connection attempt."""


class Breaker:
    """Open from a failed connection attempt until one succeeds; one prober thread at most."""

    def __init__(
        self,
        name: str,
        probe: Callable[[], None],
        *,
        interval: float,
        on_recovery: Callable[[], None] = lambda: None,
    ) -> None:
        self.name, self.interval = name, interval
        self._probe, self._on_recovery = probe, on_recovery
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._back_at = -float("inf")
        self._prober: threading.Thread | None = None
        self._closing = threading.Event()

    @property
    def is_open(self) -> bool:
        """True while the database is known to refuse connections."""
        return self._down_since is not None

    def check(self) -> None:
        """Raise DatabaseUnavailable at once while the breaker is open."""
        down_since = self._down_since
        if down_since is not None:
            raise DatabaseUnavailable(
                f"{self.name}: the database has refused connections for "
                f"{time.monotonic() - down_since:.1f} s"
            )

    def attempt_failed(self, began: float, error: BaseException) -> None:
        """A connection attempt begun at `began` (monotonic) failed: open, and start probing."""
        with self._lock:
            # An attempt begun before the last recovery says nothing about now.
            if self._down_since is not None or began < self._back_at or self._closing.is_set():
                return
            self._down_since = time.monotonic()
            if self._prober is None:
                self._prober = threading.Thread(
                    target=self._watch, name=f"breaker-{self.name}", daemon=True
                )
                self._prober.start()
        log.warning("database %s unreachable (%s): failing fast until it is back", self.name, error)

    def attempt_succeeded(self) -> None:
        """A connection was made: close."""
        with self._lock:
            if self._down_since is None:
                return
            now = time.monotonic()
            down, self._down_since, self._back_at = now - self._down_since, None, now
        log.warning("database %s is back after %.2f s", self.name, down)

    def close(self) -> None:
        """Stop probing (the pool is closing)."""
        self._closing.set()

    def _watch(self) -> None:
        while not self._closing.wait(self.interval):
            with self._lock:
                if self._down_since is None:
                    self._prober = None
                    return
            try:
                self._probe()
            except Exception as error:  # any failure to connect means: still down
                log.debug("database %s probe failed: %s", self.name, error)
                continue
            self.attempt_succeeded()
            try:
                self._on_recovery()
            except Exception:
                log.exception("database %s: refreshing the pool after recovery failed", self.name)
