"""Where the query cache keeps results: each process's memory, and Redis when configured.

Neither store decides what is fresh: keys carry the database's version stamps,
so an entry is either exactly right or never asked for again. Redis is an
optimisation only: any failure is logged, counted and treated as a miss, and
after one the cache leaves Redis alone for a moment instead of waiting on it
in every request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import redis

from tsmetrics.db import redact_url
from tsmetrics.telemetry.metrics import CACHE_ERRORS

log = logging.getLogger(__name__)
# After a Redis failure, seconds without trying it again.
REDIS_PAUSE = 2.0


class LocalStore:
    """A least-recently-used map of bounded total weight, with an expiry per entry."""

    def __init__(self, max_weight: int) -> None:
        self.max_weight = max_weight
        self.weight = 0
        self._entries: OrderedDict[str, tuple[float, int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        """The value under `key`, or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, weight, value = entry
            if expires < time.monotonic():
                del self._entries[key]
                self.weight -= weight
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: Any, ttl: float, weight: int) -> None:
        """Keep `value` for `ttl` seconds, dropping the least recently used beyond the budget."""
        weight = max(1, weight)
        if weight > self.max_weight:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.weight -= old[1]
            self._entries[key] = (time.monotonic() + ttl, weight, value)
            self.weight += weight
            while self.weight > self.max_weight:
                _key, (_expires, dropped, _value) = self._entries.popitem(last=False)
                self.weight -= dropped


class RedisStore:
    """Redis with short timeouts; failures are misses, never errors."""

    def __init__(self, url: str, *, prefix: str, timeout: float) -> None:
        self.url, self.prefix = url, prefix
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        self._paused_until = 0.0

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of `keys` in order (None: missing, or Redis unavailable)."""
        if not keys or self._paused():
            return [None] * len(keys)
        try:
            return self.client.mget([f"{self.prefix}:{key}" for key in keys])
        except redis.RedisError as error:
            self._failed(error)
            return [None] * len(keys)

    def put_many(self, items: Sequence[tuple[str, bytes, int]]) -> None:
        """Store (key, value, ttl seconds) items in one round trip, unless Redis is away."""
        if not items or self._paused():
            return
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for key, value, ttl in items:
                    pipe.set(f"{self.prefix}:{key}", value, ex=max(1, int(ttl)))
                pipe.execute()
        except redis.RedisError as error:
            self._failed(error)

    def _paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def _failed(self, error: redis.RedisError) -> None:
        CACHE_ERRORS.inc()
        self._paused_until = time.monotonic() + REDIS_PAUSE
        # The URL is redacted: a Redis password must not reach the logs.
        log.warning(
            "cache: Redis at %s failed (%s); using the database for %.0f s",
            redact_url(self.url),
            type(error).__name__,
            REDIS_PAUSE,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()
