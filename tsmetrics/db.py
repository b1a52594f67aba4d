"""Connections to PostgreSQL: the app's pool (a Flask extension), and single ones outside it."""

from __future__ import annotations

import atexit
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask import Flask, current_app
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)
EXTENSION_KEY = "tsmetrics.pool"


class DatabaseNotConfigured(RuntimeError):
    """No database URL was given; the message says what to set."""


def redact_url(url: str) -> str:
    """The connection string with any password masked, for logs and banners."""
    if "://" not in url:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            return "(unparsable connection string)"
        if "password" in params:
            params["password"] = "********"  # noqa: S105 - a mask, not a password
        return make_conninfo(**params)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:********@{host}"))


def make_pool(settings: dict[str, Any], *, name: str = "tsmetrics") -> ConnectionPool:
    """A pool that opens in the background: the app starts even while the database is down."""
    url = settings["DATABASE_URL"]
    if not url:
        raise DatabaseNotConfigured(
            "TSMETRICS_DATABASE_URL is not set. Set it to a PostgreSQL URL, "
            "or run `tsmetrics demo` to use an embedded database."
        )
    pool = ConnectionPool(
        url,
        min_size=settings["POOL_MIN_SIZE"],
        max_size=settings["POOL_MAX_SIZE"],
        timeout=settings["POOL_TIMEOUT"],
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
        # psycopg_pool retries a lost connection with an uncapped exponential
        # backoff (1, 2, 4, 8 s...), so after an outage of a few seconds the
        # pool would wait on past the database's return. Giving up soon instead
        # leaves the next request to start a fresh attempt, which connects at once.
        reconnect_timeout=settings["POOL_RECONNECT_TIMEOUT"],
        kwargs={
            "connect_timeout": settings["CONNECT_TIMEOUT"],
            "application_name": name,
            "options": f"-c statement_timeout={int(settings['STATEMENT_TIMEOUT_MS'])}",
        },
    )
    pool.open(wait=False)
    return pool


def init_app(app: Flask) -> None:
    """Build the pool for this process (after gunicorn forks) and close it at exit."""
    pool = make_pool(app.config["TSMETRICS"])
    app.extensions[EXTENSION_KEY] = pool
    atexit.register(pool.close)
    log.info("database pool for %s", redact_url(app.config["TSMETRICS"]["DATABASE_URL"]))


def get_pool(app: Flask | None = None) -> ConnectionPool:
    """The pool of the current (or given) app."""
    return (app or current_app).extensions[EXTENSION_KEY]


def connection():
    """A pooled connection for one request: commits on success, rolls back on error."""
    return get_pool().connection()


def autocommit_connection(settings: dict[str, Any], name: str) -> psycopg.Connection:
    """A connection of its own in autocommit mode (transactions are explicit), outside any pool."""
    return psycopg.connect(
        settings["DATABASE_URL"],
        autocommit=True,
        connect_timeout=settings["CONNECT_TIMEOUT"],
        application_name=name,
        # Notice a vanished server within a minute instead of hanging.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )


def first_line(error: BaseException) -> str:
    """The first line of a (database) error's message, for a log line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
