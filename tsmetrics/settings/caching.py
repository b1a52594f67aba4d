"""Settings of the query cache and of the HTTP caching of /metrics answers."""

from __future__ import annotations

from tsmetrics.settings.definition import Setting

CACHING_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CACHE",
        "on",
        str,
        "`on`: cache /metrics buckets and comparisons (in Redis with TSMETRICS_REDIS_URL, and "
        "in each process); every read is checked against the database's version stamps.",
    ),
    Setting("CACHE_TTL_PAST", 3600, int, "Seconds a cached result wholly in the past is kept."),
    Setting("CACHE_TTL_LIVE", 5, int, "Seconds a cached result reaching now is kept."),
    Setting(
        "CACHE_LOCAL_MAX_POINTS",
        200000,
        int,
        "Buckets each process keeps in its own cache (about 250 bytes each); 0: none.",
    ),
    Setting("CACHE_PREFIX", "tsmetrics:cache", str, "Prefix of the cache's Redis keys."),
    Setting(
        "REDIS_TIMEOUT",
        0.25,
        float,
        "Seconds the cache waits for Redis before answering from the database instead.",
    ),
    Setting(
        "HTTP_MAX_AGE_PAST",
        60,
        int,
        "Cache-Control max-age of a /metrics answer wholly in the past (late samples may "
        "still change it; ETags make revalidation cheap).",
    ),
    Setting(
        "HTTP_MAX_AGE_LIVE", 5, int, "Cache-Control max-age of a /metrics answer reaching now."
    ),
)
