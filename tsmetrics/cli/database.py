"""What every `tsmetrics` command needs: its settings and a database connection."""

from __future__ import annotations

from typing import Any

import click
import psycopg

from tsmetrics.db import redact_url
from tsmetrics.settings import SettingError, load_settings


def load_cli_settings() -> dict[str, Any]:
    """The settings, or a usage error naming the bad one."""
    try:
        return load_settings()
    except SettingError as error:
        raise click.UsageError(str(error)) from None


def database_url(settings: dict[str, Any]) -> str:
    """TSMETRICS_DATABASE_URL, or a usage error saying how to set it."""
    url = settings["DATABASE_URL"]
    if not url:
        raise click.UsageError(
            "TSMETRICS_DATABASE_URL is not set. Set it to a PostgreSQL URL "
            "(postgresql://user@host:5432/db), or run `tsmetrics demo` for an embedded database."
        )
    return url


def connect(url: str, settings: dict[str, Any]) -> psycopg.Connection:
    """A connection, or an error that says what to check."""
    try:
        return psycopg.connect(url, connect_timeout=settings["CONNECT_TIMEOUT"])
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        raise click.ClickException(
            f"Cannot connect to {redact_url(url)}: {first_line}. "
            "Is PostgreSQL running, and is TSMETRICS_DATABASE_URL right?"
        ) from None
