"""Settings the app refuses to start with, each refusal saying what to set instead."""

from __future__ import annotations

import ipaddress
from typing import Any

from limits import parse_many

from tsmetrics.security.key_strength import MIN_BITS, secret_key_weakness
from tsmetrics.security.key_strength import MIN_BYTES as MIN_SECRET_KEY_BYTES
from tsmetrics.settings import BY_NAME, SettingError

DEVELOPMENT_SECRET_KEY = BY_NAME["SECRET_KEY"].default
MODES = ("production", "development")
# The setting holding each rate-limit class's limit (the classes: security/policy.py).
RATE_LIMIT_SETTINGS = {
    "read": "RATE_LIMIT_READ",
    "ingest": "RATE_LIMIT_INGEST",
    "admin": "RATE_LIMIT_ADMIN",
    "dashboard": "RATE_LIMIT_DASHBOARD",
    "login": "RATE_LIMIT_LOGIN",
}
_MAKE_A_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def check(settings: dict[str, Any]) -> None:
    """Raise SettingError when the settings would run the app unsafely."""
    if settings["ENV"] not in MODES:
        raise SettingError(f"TSMETRICS_ENV must be one of {', '.join(MODES)}.")
    if settings["AUTH"] not in ("on", "off"):
        raise SettingError("TSMETRICS_AUTH must be `on` or `off`.")
    if settings["ENV"] == "production":
        check_secret_key(settings.get("SECRET_KEY"))
    if settings["AUTH"] == "off" and not settings.get("TESTING"):
        check_loopback(settings["BIND"])
    if settings["SESSION_LIFETIME"] < 60:
        raise SettingError("TSMETRICS_SESSION_LIFETIME is in seconds and must be at least 60.")
    for name in RATE_LIMIT_SETTINGS.values():
        check_rate_limit(settings[name], f"TSMETRICS_{name}")


def check_secret_key(key: str | None) -> None:
    """A production secret key is set, not the development default, and random enough."""
    problem = None
    if not key:
        problem = "is not set"
    elif key == DEVELOPMENT_SECRET_KEY:
        problem = "is still the development default"
    else:
        problem = secret_key_weakness(key)
    if problem:
        # The message names the setting, never its value.
        raise SettingError(
            f"TSMETRICS_SECRET_KEY {problem}: it signs the dashboard's session cookies, so in "
            f"production it must be a random secret of at least {MIN_SECRET_KEY_BYTES} bytes "
            f"and {MIN_BITS} bits. Set TSMETRICS_SECRET_KEY (or TSMETRICS_SECRET_KEY_FILE, e.g. "
            f"a Docker secret) to the output of `{_MAKE_A_KEY}`. "
            "For a local trial only, set TSMETRICS_ENV=development."
        )


def is_loopback(bind: str) -> bool:
    """True when a gunicorn bind (host:port) accepts connections from this machine only."""
    host = bind.rsplit(":", 1)[0] if ":" in bind else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_loopback(bind: str) -> None:
    """Authentication may be off only when nobody else can connect."""
    if not is_loopback(bind):
        raise SettingError(
            f"TSMETRICS_AUTH=off is refused because TSMETRICS_BIND={bind} is reachable from "
            "other machines. Bind to 127.0.0.1 (as `tsmetrics demo` does) or turn "
            "authentication on (TSMETRICS_AUTH=on)."
        )


def check_rate_limit(value: str | None, label: str) -> None:
    """A rate in Flask-Limiter's notation such as `600/minute`; empty means no limit."""
    if not value:
        return
    try:
        items = parse_many(value)
    except ValueError:
        raise SettingError(
            f"{label}={value!r} is not a rate; write e.g. `600/minute` or `10/second;600/hour`."
        ) from None
    # "0/minute" parses, and would refuse every request: a token or setting made useless.
    if any(item.amount < 1 for item in items):
        raise SettingError(
            f"{label}={value!r} allows no request at all; give at least 1 per period"
            " (or leave it empty for no limit)."
        )
