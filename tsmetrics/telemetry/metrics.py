"""The service's own Prometheus metrics, defined once per process.

Under gunicorn every worker counts in its own memory; with
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it) each writes to files
there and a scrape of any worker adds them all up. Without it a scrape sees
the one worker that answered it.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: /metrics pages are milliseconds when cached, tens of them when not.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "tsmetrics_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
POOL_CONNECTIONS = Gauge(
    "tsmetrics_db_pool_connections",
    "Database pool connections by state (in_use, idle) and requests waiting for one.",
    ["state"],
    multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "tsmetrics_db_pool_max_connections",
    "Most connections the pools may open.",
    multiprocess_mode="livesum",
)
CACHE_LOOKUPS = Counter(
    "tsmetrics_cache_lookups",
    "Query cache lookups by kind (buckets chunk, totals) and result (local, redis, miss).",
    ["kind", "result"],
)
CACHE_BUCKETS = Counter(
    "tsmetrics_cache_buckets",
    "Buckets of /metrics pages by where they came from (cache, database).",
    ["source"],
)
CACHE_ERRORS = Counter(
    "tsmetrics_cache_errors",
    "Redis failures the cache answered from the database instead.",
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of this process (or of every worker, in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def observe_pool(stats: dict[str, int]) -> None:
    """Publish one pool's usage (psycopg_pool's get_stats())."""
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    POOL_CONNECTIONS.labels("in_use").set(size - idle)
    POOL_CONNECTIONS.labels("idle").set(idle)
    POOL_CONNECTIONS.labels("waiting").set(stats.get("requests_waiting", 0))
    POOL_MAX.set(stats.get("pool_max", 0))
