"""Settings of the database: connections, pools, timeouts, retention of samples and rollups."""

from __future__ import annotations

from tsmetrics.settings.definition import Setting

STORAGE_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        None,
        str,
        "PostgreSQL connection URL. Unset: `tsmetrics demo` starts an embedded server.",
        secret=True,
    ),
    Setting(
        "READ_DATABASE_URL",
        None,
        str,
        "A streaming replica of TSMETRICS_DATABASE_URL for the API's reads; every write "
        "(ingest, management, logins, token use) still goes to TSMETRICS_DATABASE_URL. Reads "
        "may lag the primary by the replica's delay. Unset: reads use the primary too.",
        secret=True,
    ),
    Setting("POOL_MIN_SIZE", 1, int, "Connections each process keeps open (in each pool)."),
    Setting(
        "POOL_MAX_SIZE",
        4,
        int,
        "Most connections per process to TSMETRICS_DATABASE_URL; keep workers x this + "
        "consumers x TSMETRICS_CONSUMER_WRITERS under the primary's max_connections.",
    ),
    Setting(
        "READ_POOL_MAX_SIZE",
        4,
        int,
        "With TSMETRICS_READ_DATABASE_URL: most connections per process to the replica; keep "
        "workers x this under the replica's max_connections (a replica on the primary's "
        "server: workers x (this + TSMETRICS_POOL_MAX_SIZE) + consumers under it).",
    ),
    Setting(
        "POOL_TIMEOUT",
        5.0,
        float,
        "Seconds a request waits for a busy pool's connection before a 503 (a database that "
        "refuses connections gets one at once: TSMETRICS_DATABASE_RETRY_INTERVAL).",
    ),
    Setting("CONNECT_TIMEOUT", 3, int, "Seconds to wait when opening a database connection."),
    Setting(
        "POOL_RECONNECT_TIMEOUT",
        0.5,
        float,
        "Seconds the pool retries a lost connection in the background before giving it up: "
        "short, as a database that is away is watched by one probe instead "
        "(TSMETRICS_DATABASE_RETRY_INTERVAL), and the pool's own backoff would delay recovery.",
    ),
    Setting(
        "DATABASE_RETRY_INTERVAL",
        0.25,
        float,
        "Seconds between attempts to reach a database that refused a connection; meanwhile "
        "requests that need it get a 503 with Retry-After at once instead of waiting "
        "TSMETRICS_POOL_TIMEOUT.",
    ),
    Setting("STATEMENT_TIMEOUT_MS", 15000, int, "Longest a single API query may run."),
    Setting("RETRY_AFTER", 5, int, "Seconds clients are told to wait (Retry-After) on a 503."),
    Setting("COMPRESS_AFTER", "7 days", str, "TimescaleDB only: compress raw chunks older than."),
    Setting(
        "RETAIN_RAW",
        "90 days",
        str,
        "Raw samples older than this are dropped, a whole UTC day at a time (rollups stay): "
        "by `tsmetrics maintain` on plain PostgreSQL (daily partitions), by TimescaleDB's "
        "retention policy there. A duration (`90 days`, `90d`, `1y`) or `forever`.",
    ),
    Setting(
        "RETAIN_ROLLUPS",
        "1m:14d,5m:90d,30m:1y,1h:2y,6h:5y,1d:forever",
        str,
        "Graphite-style retention of each rollup granularity, applied by `tsmetrics maintain` "
        "on both backends; a granularity left out is kept forever, and none may be kept "
        "shorter than a finer one. Reads never pick a granularity whose buckets were dropped.",
    ),
    Setting(
        "MAINTAIN_HEARTBEAT_PATH",
        None,
        str,
        "File `tsmetrics maintain --every` touches after each pass (or skipped pass), for a "
        "container health check; empty: none.",
    ),
    Setting("AUTO_MAX_BUCKETS", 1000, int, "Most buckets `granularity=auto` may return."),
)
