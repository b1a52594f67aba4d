"""Every setting in one table: name, default, type, help.

The README's configuration table is checked against this table by a test, so a
setting cannot exist without being documented.
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
    Setting("POOL_MIN_SIZE", 1, int, "Connections each process keeps open."),
    Setting(
        "POOL_MAX_SIZE",
        4,
        int,
        "Most connections per process; keep workers x this + consumers under max_connections.",
    ),
    Setting("POOL_TIMEOUT", 5.0, float, "Seconds a request waits for a connection before a 503."),
    Setting("CONNECT_TIMEOUT", 3, int, "Seconds to wait when opening a database connection."),
    Setting("STATEMENT_TIMEOUT_MS", 15000, int, "Longest a single API query may run."),
    Setting("RETRY_AFTER", 5, int, "Seconds clients are told to wait (Retry-After) on a 503."),
    Setting("COMPRESS_AFTER", "7 days", str, "TimescaleDB only: compress raw chunks older than."),
    Setting(
        "RETAIN_RAW",
        "90 days",
        str,
        "TimescaleDB only: drop raw samples older than this (rollups stay).",
    ),
    Setting("AUTO_MAX_BUCKETS", 1000, int, "Most buckets `granularity=auto` may return."),
    Setting("BIND", "127.0.0.1:5221", str, "host:port for `tsmetrics serve` and `demo`."),
    Setting("WORKERS", 2, int, "gunicorn worker processes for `tsmetrics serve`."),
    Setting("THREADS", 4, int, "Threads per gunicorn worker."),
    Setting(
        "DATA_DIR",
        None,
        str,
        "Where `tsmetrics demo` keeps its embedded database (default: the user data directory).",
    ),
    Setting("SECRET_KEY", "dev-only-not-secret", str, "Flask secret key.", secret=True),
    Setting("LOG_LEVEL", "INFO", str, "Python logging level."),
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
    for name, value in (overrides or {}).items():
        values[name] = value
    return {
        name: _coerce(BY_NAME[name], value) if name in BY_NAME else value
        for name, value in values.items()
    }


def redact(name: str, value: Any) -> Any:
    """What a setting may look like in a log line or banner."""
    setting = BY_NAME.get(name)
    if setting is None or not setting.secret or value is None:
        return value
    return "********"


def markdown_table() -> str:
    """The README's configuration table, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = "(unset)" if setting.default is None else f"`{setting.default}`"
        secret = (
            " Secret: also read from `TSMETRICS_" + setting.name + "_FILE`."
            if setting.secret
            else ""
        )
        lines.append(f"| `{ENV_PREFIX}{setting.name}` | {default} | {setting.help}{secret} |")
    return "\n".join(lines)
