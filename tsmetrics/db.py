"""The database pools, bound to the Flask app like any extension: the primary, and a replica.

Every write goes to the primary (TSMETRICS_DATABASE_URL) through
`write_connection()`; reads use `connection()`, which is the replica's pool
when TSMETRICS_READ_DATABASE_URL names a streaming replica, and the primary's
pool otherwise (one pool, not two). The caller that writes chooses: a
function that writes, or must read what it just wrote, asks for the primary.
Each pool sits behind a circuit breaker (tsmetrics/breaker.py), so requests
fail fast with a 503 while its database refuses connections. Processes outside
the app (the consumer) take single connections from `autocommit_connection`.
"""

from __future__ import annotations

import atexit
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask import Flask, current_app
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from tsmetrics.breaker import Breaker

log = logging.getLogger(__name__)
EXTENSION_KEY = "tsmetrics.pool"  # the primary's pool: writes (and reads without a replica)
READ_EXTENSION_KEY = "tsmetrics.read_pool"  # set only when a replica is configured
# A request waits for a connection in slices of this many seconds, so that one
# waiting when the database goes away learns it from the breaker within a
# slice instead of waiting out TSMETRICS_POOL_TIMEOUT.
_WAIT_SLICE = 0.1


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


def _watched_connection_class(breaker: Breaker) -> type[psycopg.Connection]:
    """A Connection class telling `breaker` how each of the pool's connection attempts went."""

    class WatchedConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> WatchedConnection:
            """Connect, and tell the breaker how it went."""
            began = time.monotonic()
            try:
                conn = super().connect(conninfo, **kwargs)
            except psycopg.OperationalError as error:
                breaker.attempt_failed(began, error)
                raise
            breaker.attempt_succeeded()
            return conn

    return WatchedConnection


class GuardedPool:
    """A psycopg pool behind a circuit breaker: a 503 at once while its database is away."""

    def __init__(self, url: str, settings: dict[str, Any], *, name: str, max_size: int) -> None:
        kwargs = {
            "connect_timeout": settings["CONNECT_TIMEOUT"],
            "application_name": name,
            "options": f"-c statement_timeout={int(settings['STATEMENT_TIMEOUT_MS'])}",
        }
        self.name = name
        self.breaker = Breaker(
            name,
            lambda: psycopg.connect(url, **kwargs).close(),
            interval=settings["DATABASE_RETRY_INTERVAL"],
            on_recovery=self._refill,
        )
        self.pool = ConnectionPool(
            url,
            min_size=min(settings["POOL_MIN_SIZE"], max_size),
            max_size=max_size,
            timeout=settings["POOL_TIMEOUT"],
            name=name,
            open=False,
            check=ConnectionPool.check_connection,
            connection_class=_watched_connection_class(self.breaker),
            # psycopg_pool retries a lost connection with an exponential backoff
            # (1, 2, 4 s...), and while one retry is pending it starts no other,
            # so a request after the database's return could wait for it. The
            # breaker's probe watches a database that is away instead: the pool
            # gives up soon, and connects afresh as soon as it is asked.
            reconnect_timeout=settings["POOL_RECONNECT_TIMEOUT"],
            kwargs=kwargs,
        )

    def open(self) -> GuardedPool:
        """Start connecting in the background: the app starts even while the database is down."""
        self.pool.open(wait=False)
        return self

    def _refill(self) -> None:
        # Broken connections left from the outage are replaced now, before a
        # request meets them.
        self.pool.check()

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        """A connection within `timeout` (the pool's by default), or at once an exception."""
        total = self.pool.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        while True:
            self.breaker.check()
            left = deadline - time.monotonic()
            if left <= 0:
                raise PoolTimeout(f"couldn't get a connection after {total:.2f} sec")
            try:
                return self.pool.getconn(timeout=min(left, _WAIT_SLICE))
            except PoolTimeout:
                continue

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection: commits on success, rolls back on error, then goes back."""
        conn = self.getconn(timeout)
        try:
            with conn:
                yield conn
        finally:
            self.pool.putconn(conn)

    def get_stats(self) -> dict[str, int]:
        """psycopg_pool's figures of this pool."""
        return self.pool.get_stats()

    def close(self) -> None:
        """Stop probing and close every connection."""
        self.breaker.close()
        self.pool.close()


def make_pool(
    settings: dict[str, Any], *, name: str = "tsmetrics", replica: bool = False
) -> GuardedPool:
    """The primary's pool (or the replica's, with `replica`), opening in the background."""
    url = settings["READ_DATABASE_URL"] if replica else settings["DATABASE_URL"]
    if not settings["DATABASE_URL"]:
        raise DatabaseNotConfigured(
            "TSMETRICS_DATABASE_URL is not set. Set it to a PostgreSQL URL, "
            "or run `tsmetrics demo` to use an embedded database."
        )
    max_size = settings["READ_POOL_MAX_SIZE"] if replica else settings["POOL_MAX_SIZE"]
    return GuardedPool(url, settings, name=name, max_size=max_size).open()


def init_app(app: Flask) -> None:
    """Build the pools for this process (after gunicorn forks) and close them at exit."""
    settings = app.config["TSMETRICS"]
    primary = make_pool(settings)
    app.extensions[EXTENSION_KEY] = primary
    atexit.register(primary.close)
    log.info("database pool for %s", redact_url(settings["DATABASE_URL"]))
    if settings["READ_DATABASE_URL"]:
        replica = make_pool(settings, name="tsmetrics-read", replica=True)
        app.extensions[READ_EXTENSION_KEY] = replica
        atexit.register(replica.close)
        log.info("read pool for %s", redact_url(settings["READ_DATABASE_URL"]))


def get_pool(app: Flask | None = None, *, write: bool = False) -> GuardedPool:
    """The pool reads use (the replica's, if any), or with `write` the primary's."""
    extensions = (app or current_app).extensions
    if write:
        return extensions[EXTENSION_KEY]
    return extensions.get(READ_EXTENSION_KEY) or extensions[EXTENSION_KEY]


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


def pools(app: Flask | None = None) -> list[GuardedPool]:
    """Every pool of the app, each once."""
    extensions = (app or current_app).extensions
    return [extensions[key] for key in (EXTENSION_KEY, READ_EXTENSION_KEY) if key in extensions]


def pool_stats(app: Flask | None = None) -> dict[str, int]:
    """The figures of every pool of the app, added up."""
    total: dict[str, int] = {}
    for pool in pools(app):
        for key, value in pool.get_stats().items():
            total[key] = total.get(key, 0) + value
    return total


def close(app: Flask) -> None:
    """Close every pool of the app (tests; production closes them at exit)."""
    for pool in pools(app):
        pool.close()


def connection(*, write: bool = False):
    """A pooled connection for one request, for reading (a replica's, if one is configured).

    `write=True` is `write_connection()`. Commits on success, rolls back on error.
    """
    return get_pool(write=write).connection()


def write_connection():
    """A pooled connection to the primary: for anything that writes, or reads its own writes."""
    return get_pool(write=True).connection()
