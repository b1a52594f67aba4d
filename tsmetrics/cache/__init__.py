"""The query cache: /metrics bodies, their buckets and comparison totals, never stale.

Every change to the rollups bumps a version stamp per (A/B test, metric, UTC
day) in the same transaction (a trigger, migration 0006). A cached read first
reads the stamps of the days it covers (one small indexed query, once per
request), then looks up keys that embed them. So:

- a write committed before a read starts is always seen by it, whichever
  process, consumer or machine made it: its stamps are new, so are the keys,
  and the old entries are never asked for again (a late sample is seen at once);
- a write invalidates exactly the days it touched, of the metrics it touched;
- nothing has to reach the cache after a commit, so a lost message, a writer
  without Redis or a Redis outage cannot leave a stale answer behind.

Entries live in each process (LRU) and, with TSMETRICS_REDIS_URL, in Redis for
every process and instance; TTLs only bound memory (CACHE_TTL_PAST for chunks
wholly in the past, CACHE_TTL_LIVE for the part reaching now). With the cache
off, or outside a Flask app (the CLI, tests of the store), the same object
reads the database directly.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from flask import Flask, current_app, has_app_context

from tsmetrics.cache import bodies, chunks
from tsmetrics.cache.backends import LocalStore, RedisStore
from tsmetrics.cache.bodies import Answer
from tsmetrics.store import buckets, totals
from tsmetrics.store.buckets import ALL_VARIANTS, BucketPage, SeriesQuery
from tsmetrics.store.cache_versions import Stamps, read_stamps
from tsmetrics.telemetry.metrics import CACHE_LOOKUPS

EXTENSION_KEY = "tsmetrics.cache"


class QueryCache:
    """This process's cache: a local LRU in front of an optional shared Redis, or neither."""

    def __init__(
        self,
        local: LocalStore | None = None,
        redis: RedisStore | None = None,
        ttl: tuple[float, float] = (0, 0),
    ) -> None:
        self.local, self.redis = local, redis
        self.ttl = {False: ttl[0], True: ttl[1]}  # by whether the entry reaches now

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> QueryCache:
        """The cache the settings ask for (no stores at all when TSMETRICS_CACHE is off)."""
        if settings["CACHE"] != "on":
            return cls()
        budget = settings["CACHE_LOCAL_MAX_POINTS"]
        redis = None
        if settings["REDIS_URL"]:
            redis = RedisStore(
                settings["REDIS_URL"],
                prefix=settings["CACHE_PREFIX"],
                timeout=settings["REDIS_TIMEOUT"],
            )
        ttl = (settings["CACHE_TTL_PAST"], settings["CACHE_TTL_LIVE"])
        return cls(LocalStore(budget) if budget > 0 else None, redis, ttl)

    @property
    def enabled(self) -> bool:
        """True when there is somewhere to keep entries."""
        return self.local is not None or self.redis is not None

    def answers(
        self, conn: psycopg.Connection, queries: Sequence[SeriesQuery], now: float | None = None
    ) -> list[Answer]:
        """The /metrics body of each query: the variants of one series over one range and page.

        The stamps are read once for all of them; a body whose days are
        unchanged is answered as rendered before; otherwise its page is put
        together from cached chunks and one read per run of missing ones.
        """
        if not self.enabled:
            return [bodies.render(query, buckets.metric_buckets(conn, query)) for query in queries]
        _check_one_series(queries)
        now = time.time() if now is None else now
        planned = chunks.plan(queries[0], now)
        # A range reaching now ends at a new second with each request and changes
        # with each write: its body is not worth keeping (its chunks still are).
        live = bodies.is_live(queries[0], now)
        if live and planned is None:
            return [bodies.render(query, buckets.metric_buckets(conn, query)) for query in queries]
        stamps = _stamps(conn, queries[0], planned)
        if live:
            return [bodies.render(q, self._page(conn, q, planned, stamps)) for q in queries]
        keys = [bodies.key(query, stamps) for query in queries]
        found = self._get("bodies", keys, [False] * len(keys), bodies.decode)
        fresh = []
        for index, query in enumerate(queries):
            if found[index] is None:
                found[index] = bodies.render(query, self._page(conn, query, planned, stamps))
                fresh.append((keys[index], found[index], False))
        self._put(fresh, bodies.encode)
        return found

    def _page(
        self,
        conn: psycopg.Connection,
        query: SeriesQuery,
        planned: list[chunks.Chunk] | None,
        stamps: Stamps,
    ) -> BucketPage:
        """The query's page from cached chunks, the missing ones read in runs and kept."""
        if planned is None:
            return buckets.metric_buckets(conn, query)
        keys = [chunks.key(query, chunk, stamps) for chunk in planned]
        found = self._get("buckets", keys, [chunk.live for chunk in planned], chunks.decode)
        cached = [part is not None for part in found]
        fresh = []
        for first, last in chunks.missing_runs(found):
            run = planned[first:last]
            points = buckets.metric_buckets(conn, chunks.run_query(query, run)).datapoints
            found[first:last] = chunks.split(points, run)
            fresh += [(keys[i], found[i], planned[i].live) for i in range(first, last)]
        self._put(fresh, chunks.encode)
        return chunks.page_of(list(zip(found, cached, strict=True)), query)

    def variant_totals(self, conn: psycopg.Connection, **query: Any) -> list[totals.VariantTotals]:
        """`store.totals.variant_totals` through the cache (same arguments, same result)."""
        if not self.enabled or not query["metric_ids"]:
            return totals.variant_totals(conn, **query)
        start, end = query["start"], query["end"]
        stamps = read_stamps(
            conn, abtest_id=query["abtest_id"], metric_ids=query["metric_ids"], start=start, end=end
        )
        key = (
            f"t:{query['abtest_id']}:{','.join(map(str, query['metric_ids']))}:"
            f"{query['variants']}:{start}:{end}:{stamps.epoch}:{stamps.of(start, end)}"
        )
        live = end > time.time()
        (found,) = self._get("totals", [key], [live], _decode_totals)
        if found is not None:
            return found
        rows = totals.variant_totals(conn, **query)
        self._put([(key, rows, live)], _encode_totals)
        return rows

    def _get(
        self, kind: str, keys: list[str], live: list[bool], decode: Callable[[bytes], Any]
    ) -> list[Any]:
        """Values of `keys` (None: miss): this process first, then Redis."""
        values = [self.local.get(key) for key in keys] if self.local else [None] * len(keys)
        hits = len(keys) - values.count(None)
        missing = [i for i, value in enumerate(values) if value is None]
        shared = 0
        if self.redis is not None and missing:
            for i, data in zip(
                missing, self.redis.get_many([keys[i] for i in missing]), strict=True
            ):
                if data is not None:
                    values[i] = decode(data)
                    shared += 1
                    if self.local:
                        self.local.put(keys[i], values[i], self.ttl[live[i]], _weight(values[i]))
        _count(kind, hits, shared, len(keys) - hits - shared)
        return values

    def _put(self, items: Sequence[tuple[str, Any, bool]], encode: Callable[[Any], bytes]) -> None:
        """Keep (key, value, live) items here and in Redis."""
        if self.local:
            for key, value, live in items:
                self.local.put(key, value, self.ttl[live], _weight(value))
        if self.redis is not None:
            self.redis.put_many(
                [(key, encode(value), self.ttl[live]) for key, value, live in items]
            )

    def close(self) -> None:
        """Let go of Redis."""
        if self.redis is not None:
            self.redis.close()


def _check_one_series(queries: Sequence[SeriesQuery]) -> None:
    # The stamps and the chunk plan of the first query serve them all.
    shapes = [replace(query, variant=None, variant_index=ALL_VARIANTS) for query in queries]
    if any(shape != shapes[0] for shape in shapes):
        raise ValueError("answers() takes the variants of one series, range and page")


def _stamps(
    conn: psycopg.Connection, query: SeriesQuery, planned: list[chunks.Chunk] | None
) -> Stamps:
    """The stamps of every day the query's body or chunks cover, in one statement."""
    start, end = (planned[0].start, planned[-1].end) if planned else (query.start, query.end)
    return read_stamps(
        conn, abtest_id=query.abtest.id, metric_ids=[query.metric.id], start=start, end=end
    )


def _weight(value: Any) -> int:
    return len(value) if isinstance(value, list) else getattr(value, "weight", 1)


def _count(kind: str, local: int, shared: int, missed: int) -> None:
    for result, count in (("local", local), ("redis", shared), ("miss", missed)):
        if count:
            CACHE_LOOKUPS.labels(kind, result).inc(count)


def _encode_totals(rows: list[totals.VariantTotals]) -> bytes:
    # Sums as decimal strings: numeric is exact, and a float would not be.
    return orjson.dumps(
        [[r.metric_id, r.variant, r.n, str(r.total), str(r.total_sq), r.lo, r.hi] for r in rows]
    )


def _decode_totals(data: bytes) -> list[totals.VariantTotals]:
    return [
        totals.VariantTotals(m, v, n, Decimal(total), Decimal(total_sq), lo, hi)
        for m, v, n, total, total_sq, lo, hi in orjson.loads(data)
    ]


_DIRECT = QueryCache()  # outside an app: no stores, every read goes to the database


def init_app(app: Flask) -> QueryCache:
    """Build this process's cache (one without stores when TSMETRICS_CACHE is off)."""
    cache = QueryCache.from_settings(app.config["TSMETRICS"])
    app.extensions[EXTENSION_KEY] = cache
    atexit.register(cache.close)
    return cache


def current() -> QueryCache:
    """The current app's cache, or one that reads the database directly (no app)."""
    return current_app.extensions.get(EXTENSION_KEY, _DIRECT) if has_app_context() else _DIRECT


def variant_totals(conn: psycopg.Connection, **query: Any) -> list[totals.VariantTotals]:
    """`store.totals.variant_totals` through the current cache (same arguments, same result)."""
    return current().variant_totals(conn, **query)
