"""The query cache: /metrics buckets and comparison totals, never staler than the database.

Every change to the rollups bumps a version stamp per (A/B test, metric, UTC
day) in the same transaction (a trigger, migration 0006). A cached read first
reads the stamps of the days it covers (one small indexed query), then looks
up keys that embed them. So:

- a write committed before a read starts is always seen by it, whichever
  process, consumer or machine made it: its stamps are new, so are the keys,
  and the old entries are never asked for again (a late sample is seen at once);
- a write invalidates exactly the days it touched, of the metrics it touched;
- nothing has to reach the cache after a commit, so a lost message, a writer
  without Redis or a Redis outage cannot leave a stale answer behind.

Entries live in each process (LRU) and, with TSMETRICS_REDIS_URL, in Redis for
every process and instance; TTLs only bound memory (CACHE_TTL_PAST for chunks
wholly in the past, CACHE_TTL_LIVE for the part reaching now). Outside a Flask
app (the CLI, tests of the store) the functions here read the database directly.
"""

from __future__ import annotations

import atexit
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import orjson
import psycopg
from flask import Flask, current_app, has_app_context

from tsmetrics.cache import chunks
from tsmetrics.cache.backends import LocalStore, RedisStore
from tsmetrics.granularity import GRANULARITIES
from tsmetrics.store import buckets, totals
from tsmetrics.store.buckets import ALL_VARIANTS, BucketPage
from tsmetrics.store.cache_versions import read_stamps
from tsmetrics.telemetry.metrics import CACHE_LOOKUPS

EXTENSION_KEY = "tsmetrics.cache"


class QueryCache:
    """This process's cache: a local LRU in front of an optional shared Redis."""

    def __init__(self, settings: dict[str, Any]) -> None:
        budget = settings["CACHE_LOCAL_MAX_POINTS"]
        self.local = LocalStore(budget) if budget > 0 else None
        self.redis = (
            RedisStore(
                settings["REDIS_URL"],
                prefix=settings["CACHE_PREFIX"],
                timeout=settings["REDIS_TIMEOUT"],
            )
            if settings["REDIS_URL"]
            else None
        )
        self.ttl = {False: settings["CACHE_TTL_PAST"], True: settings["CACHE_TTL_LIVE"]}

    def lookup(
        self, kind: str, keys: list[str], live: list[bool], decode: Callable[[bytes], Any]
    ) -> list[Any | None]:
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

    def store(self, items: Sequence[tuple[str, Any, bool]], encode: Callable[[Any], bytes]) -> None:
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


def _weight(value: Any) -> int:
    return len(value) if isinstance(value, list) else getattr(value, "weight", 1)


def _count(kind: str, local: int, shared: int, missed: int) -> None:
    for result, count in (("local", local), ("redis", shared), ("miss", missed)):
        if count:
            CACHE_LOOKUPS.labels(kind, result).inc(count)


def init_app(app: Flask) -> QueryCache | None:
    """Build this process's cache unless TSMETRICS_CACHE is off."""
    if app.config["TSMETRICS"]["CACHE"] != "on":
        return None
    cache = QueryCache(app.config["TSMETRICS"])
    app.extensions[EXTENSION_KEY] = cache
    atexit.register(cache.close)
    return cache


def current() -> QueryCache | None:
    """The current app's cache, or None (no app, or the cache is off)."""
    return current_app.extensions.get(EXTENSION_KEY) if has_app_context() else None


def metric_buckets(conn: psycopg.Connection, **query: Any) -> BucketPage:
    """`store.buckets.metric_buckets` through the cache (same arguments, same result)."""
    cache = current()
    if cache is None:
        return buckets.metric_buckets(conn, **query)
    variant = query.get("variant")
    series = chunks.Series(
        query["abtest_id"],
        query["metric_id"],
        query["granularity"],
        ALL_VARIANTS if variant is None else variant,
    )
    page = chunks.read_page(
        conn,
        series,
        _ceil_seconds(query["start"].timestamp()),
        _ceil_seconds(query["end"].timestamp()),
        (query.get("skip", 0), query.get("limit", 10_000)),
        (
            lambda keys, live: cache.lookup("buckets", keys, live, chunks.decode),
            lambda items: cache.store(items, chunks.encode),
        ),
    )
    return buckets.metric_buckets(conn, **query) if page is None else page


def _ceil_seconds(epoch: float) -> int:
    # Bucket starts are whole seconds: t >= 10.5 is t >= 11, and t < 10.5 is t < 11.
    return int(-(-epoch // 1))


def variant_totals(conn: psycopg.Connection, **query: Any) -> list[totals.VariantTotals]:
    """`store.analysis.variant_totals` through the cache (same arguments, same result)."""
    cache = current()
    if cache is None or not query["metric_ids"]:
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
    (found,) = cache.lookup("totals", [key], [live], _decode_totals)
    if found is not None:
        return found
    rows = totals.variant_totals(conn, **query)
    cache.store([(key, rows, live)], _encode_totals)
    return rows


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


def is_live(end_epoch: float, granularity: str, now: float | None = None) -> bool:
    """True when the last bucket of a range ending at `end_epoch` reaches now (or later)."""
    seconds = GRANULARITIES[granularity]
    last_bucket = (_ceil_seconds(end_epoch) - 1) // seconds * seconds
    return last_bucket + seconds > (time.time() if now is None else now)
