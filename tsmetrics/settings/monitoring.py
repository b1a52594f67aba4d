"""Settings of health checks, logs, Prometheus, and guardrail alerts (`tsmetrics watch`)."""

from __future__ import annotations

from tsmetrics.settings.definition import Setting

MONITORING_SETTINGS: tuple[Setting, ...] = (
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
