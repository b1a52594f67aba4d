"""Settings of the server: gunicorn, secrets, sign-in, trusted proxies, Redis, rate limits."""

from __future__ import annotations

from tsmetrics.settings.definition import Setting

SERVING_SETTINGS: tuple[Setting, ...] = (
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
)
