"""Every setting in one table: name, default, type, help.

The settings table of docs/configuration.md is checked against this table by a
test, so a setting cannot exist without being documented.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "TSMETRICS_"


@dataclass(frozen=True)
class Setting:
    """One configuration knob: its name, default, type and one line of help."""

    name: str
    default: Any
    type: type
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
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
    Setting("BIND", "127.0.0.1:5221", str, "host:port for `tsmetrics serve` and `demo`."),
    Setting("WORKERS", 2, int, "gunicorn worker processes for `tsmetrics serve`."),
    Setting("THREADS", 4, int, "Threads per gunicorn worker."),
    Setting(
        "DATA_DIR",
        None,
        str,
        "Where `tsmetrics demo` keeps its embedded database; unset: the user data directory"
        " (`~/.local/share/tsmetrics/postgres` on Linux).",
    ),
    Setting("SECRET_KEY", "dev-only-not-secret", str, "Flask secret key.", secret=True),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
    Setting(
        "ENV",
        "production",
        str,
        "`production` refuses to start without a real SECRET_KEY; `development` (as "
        "`tsmetrics demo` uses) allows the default.",
    ),
    Setting(
        "AUTH",
        "on",
        str,
        "`on`: bearer tokens for the API, logins for the dashboard. `off` (`tsmetrics demo`) is "
        "refused unless TSMETRICS_BIND and every socket gunicorn listens on are loopback.",
    ),
    Setting("SESSION_LIFETIME", 28800, int, "Seconds a dashboard login lasts (8 h)."),
    Setting(
        "TRUSTED_PROXIES",
        "",
        str,
        "Comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-* and SSO "
        "user headers are believed (also gunicorn's forwarded_allow_ips); empty: none.",
    ),
    Setting(
        "PROXY_USER_HEADER",
        "X-Forwarded-User",
        str,
        "Header naming the signed-in user, set by an SSO proxy such as oauth2-proxy.",
    ),
    Setting("PROXY_GROUPS_HEADER", "X-Forwarded-Groups", str, "Header with the user's groups."),
    Setting(
        "PROXY_EDITOR_GROUPS",
        "",
        str,
        "Comma-separated SSO groups whose members are editors; other proxy users are viewers.",
    ),
    Setting(
        "PROXY_VIEWER_GROUPS",
        "",
        str,
        "When set, SSO users outside these groups (and the editor groups) are refused.",
    ),
    Setting(
        "REDIS_URL",
        None,
        str,
        "Redis URL: every API instance shares rate limits and the query cache through it. "
        "Unset: per process.",
        secret=True,
    ),
    Setting(
        "RATE_LIMIT_READ",
        "600/minute",
        str,
        "API reads per token (or per client address without one); empty: no limit.",
    ),
    Setting("RATE_LIMIT_INGEST", "1200/minute", str, "`POST /ingest` requests per token."),
    Setting("RATE_LIMIT_ADMIN", "120/minute", str, "Management requests per token."),
    Setting("RATE_LIMIT_DASHBOARD", "1200/minute", str, "Dashboard requests per user."),
    Setting("RATE_LIMIT_LOGIN", "10/minute", str, "Login attempts per client address."),
    Setting(
        "RATE_LIMIT_PREFIX",
        "tsmetrics",
        str,
        "Prefix of the rate-limit keys, one per deployment sharing a Redis.",
    ),
    Setting(
        "BROKER_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2F",
        str,
        "RabbitMQ URL for `tsmetrics consume`, `simulate` and the producer.",
        secret=True,
    ),
    Setting(
        "QUEUE",
        "tsmetrics.samples",
        str,
        "Queue of sample batches; refused ones go to `<queue>.dead`.",
    ),
    Setting("CONSUMER_PREFETCH", 500, int, "Messages the consumer holds unacknowledged at most."),
    Setting("CONSUMER_BATCH_SAMPLES", 100000, int, "The consumer writes once it holds this many."),
    Setting(
        "CONSUMER_LINGER_MS", 200, int, "...or once its oldest unwritten message waited this long."
    ),
    Setting(
        "CONSUMER_WRITERS",
        2,
        int,
        "Flushes the consumer writes at once, each on a database connection of its own.",
    ),
    Setting("MAX_SAMPLE_AGE", 604800, int, "Seconds: older samples are refused (7 days)."),
    Setting("MAX_SAMPLE_FUTURE", 300, int, "Seconds: samples further ahead are refused."),
    Setting("MAX_MESSAGE_BYTES", 2000000, int, "Largest batch accepted, queue or `POST /ingest`."),
    Setting(
        "MAX_REQUEST_BYTES",
        65536,
        int,
        "Largest request body of every request but `POST /ingest` (forms, JSON); a larger "
        "one gets 413 before it is read.",
    ),
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
    Setting(
        "HEALTH_TIMEOUT",
        0.8,
        float,
        "Seconds /readyz waits for each dependency; it answers within about this long.",
    ),
    Setting(
        "READY_CHECKS",
        "database,redis",
        str,
        "What /readyz checks, of database (and `replica`, with TSMETRICS_READ_DATABASE_URL), "
        "redis (with TSMETRICS_REDIS_URL) and broker; the API serves without the broker, so by "
        "default its outage leaves the API ready.",
    ),
    Setting("LOG_FORMAT", "json", str, "`json`: one JSON object per line; `text`: plain lines."),
    Setting(
        "METRICS_BIND",
        "",
        str,
        "host:port where `tsmetrics consume` serves /internal/prometheus, /healthz and "
        "/readyz; empty: none.",
    ),
    Setting(
        "PUBLIC_URL",
        None,
        str,
        "The dashboard's base URL as people reach it (e.g. https://metrics.example.com), for "
        "the links in guardrail alerts; unset: the alerts carry the path only.",
    ),
    Setting(
        "ALERT_WEBHOOK_URL",
        None,
        str,
        "http(s) URL that `tsmetrics watch` POSTs guardrail alerts to (JSON, one per change "
        "of state); unset: alerts show on the dashboard only. Logged as scheme and host only.",
        secret=True,
    ),
    Setting(
        "ALERT_WEBHOOK_SECRET",
        None,
        str,
        "Key of the alerts' HMAC-SHA256 signature (X-TSMetrics-Signature); unset: unsigned.",
        secret=True,
    ),
    Setting(
        "ALERT_TIMEOUT", 10.0, float, "Seconds a webhook POST may take before it counts as failed."
    ),
    Setting(
        "ALERT_RETRY_BASE",
        10.0,
        float,
        "Seconds before the first retry of a failed webhook POST; each retry waits twice as "
        "long, with random jitter.",
    ),
    Setting("ALERT_RETRY_MAX", 3600.0, float, "Longest wait between two webhook retries."),
    Setting(
        "WATCH_INTERVAL",
        60.0,
        float,
        "Seconds between two evaluations of the guardrails by `tsmetrics watch`.",
    ),
    Setting(
        "WATCH_HEARTBEAT_PATH",
        None,
        str,
        "File `tsmetrics watch` touches after each round that reached the database, for a "
        "container health check; empty: none.",
    ),
)

BY_NAME = {s.name: s for s in SETTINGS}


class SettingError(ValueError):
    """A setting could not be read; the message says which and how to fix it."""


def _coerce(setting: Setting, raw: Any) -> Any:
    if raw is None or setting.type is str or isinstance(raw, setting.type):
        return raw
    try:
        return setting.type(raw)
    except (TypeError, ValueError):
        raise SettingError(
            f"{ENV_PREFIX}{setting.name}={raw!r} is not a valid {setting.type.__name__}"
        ) from None


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        env_name = ENV_PREFIX + setting.name
        file_name = environ.get(env_name + "_FILE")
        if file_name:
            # Docker secrets: the value lives in a file so it never shows in `env`.
            try:
                values[setting.name] = Path(file_name).read_text().strip()
            except OSError as error:
                raise SettingError(
                    f"{env_name}_FILE points at {file_name!r}, which cannot be read "
                    f"({error.strerror})"
                ) from None
        elif env_name in environ:
            values[setting.name] = environ[env_name]
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Defaults, then TSMETRICS_* environment (and *_FILE), then explicit overrides."""
    values = {s.name: s.default for s in SETTINGS}
    values.update(_from_environment(os.environ if environ is None else environ))
    values.update(overrides or {})
    return {
        name: _coerce(BY_NAME[name], value) if name in BY_NAME else value
        for name, value in values.items()
    }


def markdown_table() -> str:
    """The settings table of docs/configuration.md, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = "(unset)" if setting.default is None else f"`{setting.default}`"
        secret = (
            f" Secret: also read from `{ENV_PREFIX}{setting.name}_FILE`." if setting.secret else ""
        )
        lines.append(f"| `{ENV_PREFIX}{setting.name}` | {default} | {setting.help}{secret} |")
    return "\n".join(lines)
